"""Counter and energy-register increments, with every doubtful step excluded and flagged (pure numpy).

A step between consecutive good samples of one device is classified (DESIGN §6):
- up: the increment is the difference;
- down, register wrap: the point declares `wrap`, the previous value lay in the top quarter of the
  range and the new one in the bottom quarter, and the unwrapped increment `new + wrap − prev` is
  plausible: that increment;
- down, reset: the new value is near zero — at most `reset_fraction` of the previous value, or at most
  `reset_ideal_hours` of production at the device's ideal rate: counting restarted, the increment is
  the new value;
- any other decrease is a discontinuity (a back-step, e.g. overlapping data from two sources): no
  increment, flagged `BACK_STEP`;
- an increment implying more than `max_rate_multiple` × the ideal rate over its span (plus one unit
  for integer counters) is implausible: excluded, flagged `IMPLAUSIBLE`;
- an increment whose span is not covered by state data (it overlaps `no_data` by more than
  `gap_tolerance_ns`) was not measured in PBT: excluded, flagged `OVER_NO_DATA`.
A flag marks each day whose planned time holds part of the excluded step's span (that day then misses
production it has time for). Missing or bad samples are dropped before differencing.
"""

# layering: pure

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from collector.kpi.timemodel import DAY_NS, Covered

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]

OVER_NO_DATA = 1
BACK_STEP = 2
IMPLAUSIBLE = 4
FLAG_NAMES = {
    OVER_NO_DATA: "increments over no_data",
    BACK_STEP: "a counter stepping back (discontinuity)",
    IMPLAUSIBLE: "implausible increments (beyond the ideal-rate limit)",
}
NS_PER_H = 3_600 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class CounterRules:
    reset_fraction: float = 0.01  # a drop to at most 1 % of the previous value is a reset
    reset_ideal_hours: float = 2.0  # ... or to at most two hours of production at the ideal rate
    max_rate_multiple: float = 3.0  # an increment beyond 3 × the ideal rate is implausible
    gap_tolerance_ns: int = 1_000_000_000  # samples of one scan differ by milliseconds


DEFAULT_RULES = CounterRules()


@dataclass(frozen=True, slots=True)
class Steps:
    """Per sample (0 at each device's first): the credited increment and the step's flags."""

    inc: F64
    flags: U8
    wrapped: Mask
    reset: Mask


def steps(
    dev: I64,
    t: I64,
    values: F64,
    *,
    wrap: F64 | None = None,
    rate_per_hour: F64 | None = None,
    covered: Covered | None = None,
    rules: CounterRules = DEFAULT_RULES,
) -> Steps:
    """Classify each step of samples sorted by (dev, time); `wrap` and `rate_per_hour` are per sample
    (NaN where the point cannot wrap / the device has no ideal rate); `covered=None` means no gap check."""
    n = len(values)
    inc = np.zeros(n, dtype=np.float64)
    flags = np.zeros(n, dtype=np.uint8)
    none = np.zeros(n, dtype=bool)
    if n < 2:
        return Steps(inc, flags, none, none.copy())
    prev, cur = values[:-1], values[1:]
    same = dev[1:] == dev[:-1]
    span_h = (t[1:] - t[:-1]) / NS_PER_H
    rate = np.full(n - 1, np.nan) if rate_per_hour is None else rate_per_hour[1:]
    has_rate = np.isfinite(rate) & (rate > 0)
    with np.errstate(invalid="ignore"):
        limit = np.where(has_rate, rules.max_rate_multiple * rate * span_h + 1.0, np.inf)
    down = same & (cur < prev)
    unwrapped = np.full(n - 1, np.nan)
    geometry = np.zeros(n - 1, dtype=bool)
    if wrap is not None:
        w = wrap[1:]
        with np.errstate(invalid="ignore"):
            geometry = down & np.isfinite(w) & (prev >= 0.75 * w) & (cur <= 0.25 * w)
        unwrapped = np.where(geometry, cur + np.nan_to_num(w) - prev, np.nan)
    wrapped = geometry & (unwrapped <= limit)
    near_zero = (cur <= rules.reset_fraction * prev) | (has_rate & (cur <= rate * rules.reset_ideal_hours))
    reset = down & ~wrapped & near_zero
    back = down & ~wrapped & ~reset
    step = np.where(wrapped, unwrapped, np.where(reset, cur, np.where(back, 0.0, cur - prev)))
    jump = same & ~back & (step > limit)
    f = np.where(back, BACK_STEP, 0) | np.where(jump, IMPLAUSIBLE, 0)
    if covered is not None:
        c = covered.before(dev, t)  # one lookup per sample serves both ends of each step
        gap = same & ((t[1:] - t[:-1]) - (c[1:] - c[:-1]) > rules.gap_tolerance_ns)
        f |= np.where(gap, OVER_NO_DATA, 0)
    inc[1:] = np.where(same & (f == 0), step, 0.0)
    flags[1:] = np.where(same, f, 0).astype(np.uint8)
    return Steps(inc, flags, np.concatenate([[False], wrapped]), np.concatenate([[False], reset]))


@dataclass(frozen=True, slots=True)
class CounterDays:
    """One counter role per (device, day)."""

    inc: F64  # credited increase, attributed to the day of the later sample
    invalid: U8  # flags of excluded steps whose span holds planned busy time of the day
    excluded: dict[str, I64]  # excluded steps per flag name, on the day of the later sample


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
    rate_per_hour: F64 | None = None,
    covered: Covered | None = None,
    busy: Covered | None = None,
    rules: CounterRules = DEFAULT_RULES,
) -> CounterDays:
    """Increase per (device, day) in [start, end) with the steps excluded (module docstring).

    `rate_per_hour` is per device; `covered` is the time state data explains (None: no gap check),
    `busy` the part of it in planned busy time (default: all of it). Samples before `start` only
    serve as the reference for the first increment in the window.
    """
    ok = np.isfinite(values) & (t < end)
    if quality is not None:
        ok &= quality < 2
    dev, t, values = dev[ok], t[ok], values[ok]
    w = wrap[ok] if wrap is not None else None
    rate = rate_per_hour[dev] if rate_per_hour is not None else None
    s = steps(dev, t, values, wrap=w, rate_per_hour=rate, covered=covered, rules=rules)
    n_days = (end - start) // DAY_NS
    size = n_devices * n_days
    inside = t >= start
    key = dev[inside] * n_days + (t[inside] - start) // DAY_NS
    out = np.bincount(key, weights=s.inc[inside], minlength=size)
    excluded = {
        name: np.bincount(key[(s.flags[inside] & bit) != 0], minlength=size).reshape(n_devices, n_days)
        for bit, name in FLAG_NAMES.items()
    }
    flags = np.zeros(size, dtype=np.uint8)
    bad = np.flatnonzero(s.flags)
    if len(bad):
        # Each day whose planned busy time holds part of the excluded span misses that part's
        # production: it is flagged. Time without state data or in planned stops is in no day's PBT,
        # so an increment lying wholly there flags nothing (its production is simply not credited).
        first = np.clip((t[bad - 1] - start) // DAY_NS, 0, n_days - 1)
        last = np.clip((t[bad] - 1 - start) // DAY_NS, 0, n_days - 1)  # the span is [prev, this)
        touched = (t[bad] > start) & (t[bad - 1] < end)
        bad, first, last = bad[touched], first[touched], last[touched]
        count = last - first + 1
        step_of = np.repeat(bad, count)
        days = np.repeat(first, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        lo = np.maximum(t[step_of - 1], start + days * DAY_NS)
        hi = np.minimum(t[step_of], start + (days + 1) * DAY_NS)
        pbt = busy if busy is not None else covered
        if pbt is None:
            hit = hi > lo
        elif np.all(count == 1):  # no span crosses midnight: one lookup at each end
            ends = pbt.before(np.concatenate([dev[bad], dev[bad]]), np.concatenate([t[bad - 1], t[bad]]))
            hit = (ends[len(bad) :] - ends[: len(bad)]) > rules.gap_tolerance_ns
        else:
            hit = pbt.between(dev[step_of], lo, hi) > rules.gap_tolerance_ns
        np.bitwise_or.at(flags, dev[step_of[hit]] * n_days + days[hit], s.flags[step_of[hit]])
    return CounterDays(
        inc=np.asarray(out.reshape(n_devices, n_days), dtype=np.float64),
        invalid=flags.reshape(n_devices, n_days),
        excluded=excluded,
    )


def flag_counts(flags: U8, among: Mask | None = None) -> dict[str, int]:
    """Device-days carrying each flag (optionally only where `among` holds)."""
    sel = flags if among is None else flags[among]
    return {name: int(np.count_nonzero(sel & bit)) for bit, name in FLAG_NAMES.items()}
