"""Statistical process control and anomaly detection on one analog series (pure numpy)."""

# layering: pure

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

F64 = npt.NDArray[np.float64]


def capability(x: F64, lsl: float, usl: float) -> dict[str, float]:
    """Cp and Cpk against specification limits (sample standard deviation)."""
    if usl <= lsl:
        raise ValueError("usl must be above lsl")
    mu, sd = float(np.mean(x)), float(np.std(x, ddof=1))
    if not sd > 0:
        return {"n": float(len(x)), "mean": mu, "std": sd, "cp": math.inf, "cpk": math.inf}
    return {
        "n": float(len(x)),
        "mean": mu,
        "std": sd,
        "cp": (usl - lsl) / (6 * sd),
        "cpk": min(usl - mu, mu - lsl) / (3 * sd),
    }


def _runs(flags: npt.NDArray[np.bool_], window: int, need: int) -> npt.NDArray[np.bool_]:
    """True at i when at least `need` of the `window` points ending at i are flagged."""
    if len(flags) < window:
        return np.zeros(len(flags), dtype=bool)
    c = np.concatenate([[0], np.cumsum(flags.astype(np.int64))])
    counts = c[window:] - c[:-window]
    out = np.zeros(len(flags), dtype=bool)
    out[window - 1 :] = counts >= need
    return out


def western_electric(x: F64, center: float | None = None, sigma: float | None = None) -> dict[str, int]:
    """Points violating the four Western Electric rules (centre and sigma from the data unless given).

    1: one point beyond 3σ; 2: 2 of 3 beyond 2σ on one side; 3: 4 of 5 beyond 1σ on one side;
    4: 8 in a row on one side of the centre line.
    """
    mu = float(np.mean(x)) if center is None else center
    sd = float(np.std(x, ddof=1)) if sigma is None else sigma
    if not sd > 0:
        return {"n": len(x), "rule1": 0, "rule2": 0, "rule3": 0, "rule4": 0}
    z = (x - mu) / sd
    r2 = _runs(z > 2, 3, 2) | _runs(z < -2, 3, 2)
    r3 = _runs(z > 1, 5, 4) | _runs(z < -1, 5, 4)
    r4 = _runs(z > 0, 8, 8) | _runs(z < 0, 8, 8)
    return {
        "n": len(x),
        "rule1": int((np.abs(z) > 3).sum()),
        "rule2": int(r2.sum()),
        "rule3": int(r3.sum()),
        "rule4": int(r4.sum()),
    }


def ewma_alarms(x: F64, lam: float = 0.2, width: float = 3.0, train: int = 100) -> dict[str, float]:
    """EWMA control chart: alarms where the smoothed value leaves mean ± width·σ_ewma.

    The mean and σ come from the first `train` points (the in-control reference).
    """
    if not 0 < lam <= 1:
        raise ValueError("lambda must be in (0, 1]")
    ref = x[: max(2, min(train, len(x)))]
    mu, sd = float(np.mean(ref)), float(np.std(ref, ddof=1))
    # z_t = lam·x_t + (1 − lam)·z_{t−1}, z_0 = mu, as a linear filter (no Python loop)
    n = len(x)
    k = np.arange(1, n + 1)
    decay = (1 - lam) ** k
    z = lfilter([lam], [1, -(1 - lam)], x - mu) + mu
    limit = width * sd * np.sqrt(lam / (2 - lam) * (1 - decay**2)) if sd > 0 else np.zeros(n)
    alarms = np.abs(z - mu) > limit if sd > 0 else np.zeros(n, dtype=bool)
    first = int(np.argmax(alarms)) if alarms.any() else -1
    return {
        "n": float(n),
        "mean": mu,
        "std": sd,
        "alarms": float(alarms.sum()),
        "first_alarm_index": float(first),
    }
