"""Counter and energy-register unwrapping (pure numpy).

Rule for a step that goes down: when the point declares `wrap` and the previous value lay in the
top quarter of the range while the new one lies in the bottom quarter, the register wrapped and the
increment is `new + wrap − prev`; otherwise the device reset its counter and the increment is the new
value (counted from zero). Missing or bad samples are dropped before differencing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from collector.kpi.timemodel import DAY_NS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def step_kinds(
    dev: I64, values: F64, wrap: F64 | None = None
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Masks over samples 1..n-1 of the same device: (register wrapped, counter was reset)."""
    if len(values) < 2:
        z = np.zeros(0, dtype=bool)
        return z, z
    prev, cur = values[:-1], values[1:]
    down = (cur < prev) & (dev[1:] == dev[:-1])
    wrapped = np.zeros(len(cur), dtype=bool)
    if wrap is not None:
        w = wrap[1:]
        with np.errstate(invalid="ignore"):
            wrapped = down & np.isfinite(w) & (prev >= 0.75 * w) & (cur <= 0.25 * w)
    return wrapped, down & ~wrapped


def increments(dev: I64, values: F64, wrap: F64 | None = None) -> F64:
    """Increment at each sample (0 at each device's first sample); inputs sorted by (dev, time).

    `wrap` is per sample (the point's wrap value, NaN where it cannot wrap) or None.
    """
    inc = np.zeros(len(values), dtype=np.float64)
    if len(values) < 2:
        return inc
    prev, cur = values[:-1], values[1:]
    wrapped, reset = step_kinds(dev, values, wrap)
    step = cur - prev
    if wrap is not None:
        step = np.where(wrapped, cur + np.nan_to_num(wrap[1:]) - prev, step)
    step = np.where(reset, cur, step)  # counting restarted from zero
    inc[1:] = np.where(dev[1:] == dev[:-1], step, 0.0)
    return inc


def daily_increments(
    dev: I64,
    t: I64,
    values: F64,
    *,
    n_devices: int,
    start: int,
    end: int,
    wrap: F64 | None = None,
    quality: npt.NDArray[np.int16] | None = None,
) -> F64:
    """Unwrapped increase per (device, day) in [start, end), attributed to the day of the later sample.

    Samples before `start` only serve as the reference for the first increment in the window.
    """
    ok = np.isfinite(values) & (t < end)
    if quality is not None:
        ok &= quality < 2
    dev, t, values = dev[ok], t[ok], values[ok]
    w = wrap[ok] if wrap is not None else None
    inc = increments(dev, values, w)
    n_days = (end - start) // DAY_NS
    inside = t >= start
    key = dev[inside] * n_days + (t[inside] - start) // DAY_NS
    out = np.bincount(key, weights=inc[inside], minlength=n_devices * n_days)
    return np.asarray(out.reshape(n_devices, n_days), dtype=np.float64)
