"""How far excluded device-days could move a claim's estimate (pure numpy).

A verdict must be one that clean data would give. Device-days left out (state coverage under the
gate, counter steps excluded) held something; we do not know what. Each is imputed at the extremes
the period's valid device-days show — the lowest and the highest device-day ratio, with the mean
denominator — and the change is recomputed for the four combinations of the two periods. A verdict
stands only if it stands at both ends of that range (added to the interval); otherwise it is
inconclusive, and the result says why.
"""

# layering: pure

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

import numpy as np
import numpy.typing as npt

from collector.kpi.stats import Change, change

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Missing:
    """One period: the valid totals and what its excluded device-days could add."""

    num: float
    den: float
    count: int  # device-days excluded (devices without the KPI's points are not counted)
    mean_den: float  # per valid device-day
    ratio_low: float  # lowest and highest valid device-day ratio (NaN when none is defined)
    ratio_high: float

    def totals(self, ratio: float) -> tuple[float, float]:
        den = self.count * self.mean_den
        return self.num + ratio * den, self.den + den


def missing(num: F64, den: F64, valid: npt.NDArray[np.bool_], structural: npt.NDArray[np.bool_]) -> Missing:
    """`structural` marks device-days invalid by design (a device without the KPI's point)."""
    n_num, n_den = float(np.where(valid, num, 0.0).sum()), float(np.where(valid, den, 0.0).sum())
    excluded = int(np.count_nonzero(~valid & ~structural))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.where(valid & (den > 0), num / np.where(den > 0, den, 1.0), np.nan)
    defined = ratios[np.isfinite(ratios)]
    n_valid = int(np.count_nonzero(valid))
    return Missing(
        num=n_num,
        den=n_den,
        count=excluded,
        mean_den=n_den / n_valid if n_valid else math.nan,
        ratio_low=float(defined.min()) if len(defined) else math.nan,
        ratio_high=float(defined.max()) if len(defined) else math.nan,
    )


def change_range(kind: Change, base: Missing, rep: Missing) -> tuple[float, float] | None:
    """The lowest and highest change the excluded device-days allow; None when none was excluded,
    (−inf, inf) when the valid ones give no range to impute from."""
    if not base.count and not rep.count:
        return None
    for p in (base, rep):
        if p.count and not (math.isfinite(p.ratio_low) and math.isfinite(p.mean_den)):
            return -math.inf, math.inf
    ends = []
    for rb, rr in product((base.ratio_low, base.ratio_high), (rep.ratio_low, rep.ratio_high)):
        nb, db = base.totals(rb) if base.count else (base.num, base.den)
        nr, dr = rep.totals(rr) if rep.count else (rep.num, rep.den)
        ends.append(change(nb, db, nr, dr, kind))
    if not all(math.isfinite(e) for e in ends):
        return -math.inf, math.inf
    return min(ends), max(ends)
