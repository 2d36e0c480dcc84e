"""Interval estimates for claims (pure numpy/scipy).

- ratio-of-totals changes: seeded circular block bootstrap over days (blocks keep weekly patterns);
- counts (failures, maintenance events): exact Poisson rate-ratio interval, Clopper–Pearson on the
  binomial of the reporting count given the total.
"""

# layering: pure

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import beta

F64 = npt.NDArray[np.float64]
Change = Literal["relative", "pp"]


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float


def change(num_b: float, den_b: float, num_r: float, den_r: float, kind: Change) -> float:
    """Relative change (fraction) or percentage-point difference of two ratios of totals."""
    rb = num_b / den_b if den_b > 0 else math.nan
    rr = num_r / den_r if den_r > 0 else math.nan
    if kind == "pp":
        return 100.0 * (rr - rb)
    return rr / rb - 1.0 if rb != 0 else math.nan


def _block_indexes(n: int, block: int, resamples: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    block = max(1, min(block, n))
    n_blocks = -(-n // block)
    starts = rng.integers(0, n, size=(resamples, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    return idx.reshape(resamples, n_blocks * block)[:, :n]


def bootstrap_change(
    num_b: F64,
    den_b: F64,
    num_r: F64,
    den_r: F64,
    *,
    kind: Change,
    confidence: float = 0.90,
    resamples: int = 2000,
    block_days: int = 7,
    seed: int = 22400,
) -> Interval:
    """Point estimate and percentile interval of the change in a ratio of daily totals.

    Each period is resampled independently with circular blocks of `block_days` days.
    """
    est = change(float(num_b.sum()), float(den_b.sum()), float(num_r.sum()), float(den_r.sum()), kind)
    if len(num_b) == 0 or len(num_r) == 0:
        return Interval(est, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    ib = _block_indexes(len(num_b), block_days, resamples, rng)
    ir = _block_indexes(len(num_r), block_days, resamples, rng)
    nb, db = num_b[ib].sum(axis=1), den_b[ib].sum(axis=1)
    nr, dr = num_r[ir].sum(axis=1), den_r[ir].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rb, rr = nb / db, nr / dr
        stat = 100.0 * (rr - rb) if kind == "pp" else rr / rb - 1.0
    stat = stat[np.isfinite(stat)]
    if len(stat) < resamples // 2:
        return Interval(est, math.nan, math.nan)
    alpha = 1.0 - confidence
    low, high = np.quantile(stat, [alpha / 2, 1 - alpha / 2])
    return Interval(est, float(low), float(high))


def poisson_rate_ratio(k_b: int, t_b: float, k_r: int, t_r: float, *, confidence: float = 0.90) -> Interval:
    """Exact interval for the reporting/baseline rate ratio of Poisson counts with exposures t.

    Given n = k_b + k_r, k_r ~ Binomial(n, p) with p = RR·t_r / (t_b + RR·t_r); a Clopper–Pearson
    interval for p maps monotonically onto RR = p/(1−p) · t_b/t_r.
    """
    if t_b <= 0 or t_r <= 0:
        return Interval(math.nan, math.nan, math.nan)
    n = k_b + k_r
    est = (k_r / t_r) / (k_b / t_b) if k_b > 0 else math.inf if k_r > 0 else math.nan
    if n == 0:
        return Interval(est, 0.0, math.inf)
    alpha = 1.0 - confidence
    p_lo = 0.0 if k_r == 0 else float(beta.ppf(alpha / 2, k_r, n - k_r + 1))
    p_hi = 1.0 if k_r == n else float(beta.ppf(1 - alpha / 2, k_r + 1, n - k_r))
    scale = t_b / t_r

    def ratio(p: float) -> float:
        return math.inf if p >= 1.0 else p / (1.0 - p) * scale

    return Interval(est, ratio(p_lo), ratio(p_hi))
