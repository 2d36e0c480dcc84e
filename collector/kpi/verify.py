"""Verdicts on claims: coverage gates, intervals, verified / refuted / inconclusive (DESIGN §6).

`evaluate` is pure (arrays in, result out); `verify_claims` loads the arrays from the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from collector.kpi.claims import COUNT_KPIS, Claim, Period
from collector.kpi.counters import CounterRules, flag_counts
from collector.kpi.coverage import claim_coverage
from collector.kpi.engine import COUNTER_ROLES, F64, KPI_ROLES, DeviceDays, kpi_parts
from collector.kpi.sensitivity import Missing, change_range, missing
from collector.kpi.stats import Interval, bootstrap_change, poisson_rate_ratio

Verdict = Literal["verified", "refuted", "inconclusive"]


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def share_text(x: float, decimals: int = 1) -> str:
    """A share as a percentage that reads 100 % only when nothing is missing (rounded down)."""
    if not math.isfinite(x):
        return "n/a"
    scale = 10**decimals
    return f"{math.floor(x * 100 * scale + 1e-9) / scale:.{decimals}f}%"


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    start: str
    end: str
    value: float  # the KPI over the period's valid device-days
    coverage: float  # share of device-days that pass the coverage gate
    device_days: int
    valid_device_days: int
    series: list[tuple[str, float | None]]  # per day, over valid device-days
    # device-days the state gate passed but counter steps made invalid, by reason (counters.FLAG_NAMES)
    excluded: dict[str, int] = field(default_factory=dict)
    excluded_steps: dict[str, int] = field(default_factory=dict)  # counter steps not credited, by reason
    time_coverage: float = 1.0  # share of the period's planned time that state data explains


@dataclass(frozen=True, slots=True)
class ClaimResult:
    id: str
    title: str
    kpi: str
    verdict: Verdict
    unit: str  # "%" (relative change) or "pp"
    claimed_change: float  # in `unit`
    point_estimate: float  # in `unit`
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    devices: list[str]
    baseline: PeriodSummary | None
    reporting: PeriodSummary | None
    reasons: list[str]  # why the verdict is inconclusive (gates, straddling interval)
    notes: list[str] = field(default_factory=list)  # findings that do not decide the verdict
    source: str = ""
    device_coverage: dict[str, Any] = field(default_factory=dict)  # collector.kpi.coverage

    def to_json(self) -> dict[str, Any]:
        def series(p: PeriodSummary | None) -> list[list[Any]]:
            return [[d, _num(v) if v is not None else None] for d, v in p.series] if p else []

        def cov(p: PeriodSummary | None) -> dict[str, Any] | None:
            if p is None:
                return None
            return {
                "start": p.start,
                "end": p.end,
                "valid_share": _num(p.coverage),
                "device_days": p.device_days,
                "valid_device_days": p.valid_device_days,
                "time_share": _num(p.time_coverage),
                "excluded_device_days": p.excluded,
                "excluded_counter_steps": p.excluded_steps,
                "value": _num(p.value),
            }

        return {
            "id": self.id,
            "title": self.title,
            "kpi": self.kpi,
            "verdict": self.verdict,
            "unit": self.unit,
            "claimed_change": _num(self.claimed_change),
            "point_estimate": _num(self.point_estimate),
            "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high),
            "confidence": self.confidence,
            "method": self.method,
            "devices": self.devices,
            "coverage": {"baseline": cov(self.baseline), "reporting": cov(self.reporting)},
            "reasons": self.reasons,
            "notes": self.notes,
            "series": {"baseline": series(self.baseline), "reporting": series(self.reporting)},
            "source": self.source,
            "device_coverage": self.device_coverage,
        }


def decide(decrease: bool, change: float, low: float, high: float) -> Verdict:
    """Verified when the whole interval is beyond the claimed change, refuted when short of it."""
    if decrease:
        return "verified" if high <= change else "refuted" if low > change else "inconclusive"
    return "verified" if low >= change else "refuted" if high < change else "inconclusive"


def period_totals(
    claim: Claim, dd: DeviceDays, name: str, reasons: list[str], notes: list[str]
) -> tuple[F64, F64, PeriodSummary, Missing]:
    """Daily totals over valid device-days; gate failures go to `reasons`, other findings to `notes`."""
    num, den = kpi_parts(claim, dd)
    covered = dd.timeline.coverage >= claim.gates.device_day_coverage
    valid = covered & np.isfinite(num) & np.isfinite(den)
    excluded, steps, why = _counter_findings(claim, dd, covered)
    n_dd = int(valid.size)
    share = float(valid.sum() / n_dd) if n_dd else 0.0
    num_day = np.where(valid, num, 0.0).sum(axis=0)
    den_day = np.where(valid, den, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = num_day / den_day
    series = [
        (d.isoformat(), float(v) if np.isfinite(v) else None) for d, v in zip(dd.days, daily, strict=True)
    ]
    total_den = float(den_day.sum())
    value = float(num_day.sum()) / total_den if total_den > 0 else math.nan
    if len(dd.days) < claim.gates.min_days:
        reasons.append(
            f"{name} period has {len(dd.days)} days, fewer than the {claim.gates.min_days} required"
        )
    if not dd.devices:
        reasons.append(f"{name}: no devices in scope")
    elif share < claim.gates.period_valid_share:
        uncovered = int((~covered).sum())
        reasons.append(
            f"{name}: {share_text(share)} of device-days valid, below {claim.gates.period_valid_share:.0%} "
            f"({uncovered} with state coverage under {claim.gates.device_day_coverage:.0%}"
            + (f"; {why}" if why else "")
            + ")"
        )
    planned = dd.timeline.pbt + dd.timeline.no_data
    time_share = float(dd.timeline.pbt.sum() / planned.sum()) if planned.sum() > 0 else 1.0
    if why and share >= claim.gates.period_valid_share:
        notes.append(
            f"{name}: {share_text(share)} of device-days valid, {share_text(time_share)} of planned time "
            f"with state data; {why}"
        )
    needed = KPI_ROLES.get(claim.kpi, frozenset()) | {"state"}
    for role, devs in sorted(dd.missing.items()):
        if devs and role in needed:
            notes.append(f"{name}: no {role} point on {', '.join(devs)} (their device-days are invalid)")
    if claim.kpi in ("performance", "oee"):
        no_rate = [d for d, r in zip(dd.devices, dd.ideal_rate_per_hour, strict=True) if not r > 0]
        if no_rate:
            notes.append(f"{name}: no ideal rate, not part of {claim.kpi}: {', '.join(no_rate)}")
    summary = PeriodSummary(
        start=dd.days[0].isoformat() if dd.days else "",
        end=dd.days[-1].isoformat() if dd.days else "",
        value=value,
        coverage=share,
        device_days=n_dd,
        valid_device_days=int(valid.sum()),
        series=series,
        excluded=excluded,
        excluded_steps=steps,
        time_coverage=time_share,
    )
    structural = np.zeros(valid.shape, dtype=bool)
    for role, devs in dd.missing.items():
        if role in needed:
            structural[[dd.devices.index(d) for d in devs if d in dd.devices]] = True
    return num_day, den_day, summary, missing(num, den, valid, structural)


def _counter_findings(
    claim: Claim, dd: DeviceDays, covered: npt.NDArray[np.bool_]
) -> tuple[dict[str, int], dict[str, int], str]:
    """For the counters the KPI reads: device-days made invalid (among those the state gate passed)
    and steps excluded, by reason, and a sentence saying so ("" when nothing was excluded)."""
    roles = [r for r in COUNTER_ROLES if r in KPI_ROLES.get(claim.kpi, frozenset())]
    flags = np.zeros(covered.shape, dtype=np.uint8)
    steps: dict[str, int] = {}
    for role in roles:
        if role in dd.counter_flags:
            flags |= dd.counter_flags[role]
        for kind, count in dd.counter_excluded.get(role, {}).items():
            if count.sum():
                steps[kind] = steps.get(kind, 0) + int(count.sum())
    days = {k: v for k, v in flag_counts(flags, covered).items() if v}
    if not steps:
        return days, steps, ""
    invalid = int(np.count_nonzero(covered & (flags != 0)))
    listed = ", ".join(f"{n} {k}" for k, n in steps.items())
    return (
        days,
        steps,
        f"{sum(steps.values())} counter steps excluded ({listed}), {invalid} device-days invalid by them",
    )


def _count_interval(claim: Claim, nb: F64, db: F64, nr: F64, dr: F64) -> Interval:
    if claim.kpi == "mtbf":  # MTBF = exposure / failures: invert the failure-rate ratio
        rr = poisson_rate_ratio(
            int(db.sum()), float(nb.sum()), int(dr.sum()), float(nr.sum()), confidence=claim.confidence
        )

        def inv(x: float) -> float:
            return math.inf if x == 0 else 1.0 / x - 1.0

        return Interval(inv(rr.estimate), inv(rr.high), inv(rr.low))
    k_b, k_r = round(float(nb.sum()) / 1000.0), round(float(nr.sum()) / 1000.0)
    rr = poisson_rate_ratio(k_b, float(db.sum()), k_r, float(dr.sum()), confidence=claim.confidence)
    return Interval(rr.estimate - 1.0, rr.low - 1.0, rr.high - 1.0)


def evaluate(claim: Claim, baseline: DeviceDays, reporting: DeviceDays) -> ClaimResult:
    """The verdict on one claim from its two periods' device-day series (pure)."""
    reasons: list[str] = []
    notes: list[str] = []
    nb, db, sb, mb = period_totals(claim, baseline, "baseline", reasons, notes)
    nr, dr, sr, mr = period_totals(claim, reporting, "reporting", reasons, notes)
    kind = claim.change_kind
    if claim.kpi in COUNT_KPIS:
        iv = _count_interval(claim, nb, db, nr, dr)
        method = f"exact Poisson rate-ratio interval ({claim.confidence:.0%}), Clopper–Pearson"
    else:
        b = claim.bootstrap
        iv = bootstrap_change(
            nb,
            db,
            nr,
            dr,
            kind=kind,
            confidence=claim.confidence,
            resamples=b.resamples,
            block_days=b.block_days,
            seed=b.seed,
        )
        method = (
            f"ratio of totals; {claim.confidence:.0%} circular block bootstrap over days "
            f"(block {b.block_days} d, {b.resamples} resamples, seed {b.seed})"
        )
    c = claim.change
    verdict: Verdict = "inconclusive"
    # An unbounded side is fine (no events in one period); an undefined one is not.
    if (math.isnan(iv.low) or math.isnan(iv.high)) and not reasons:
        reasons.append("no interval: the data do not define the KPI in one of the periods")
    if not reasons:
        verdict = decide(claim.decrease, c, iv.low, iv.high)
        if verdict == "inconclusive":
            reasons.append("the interval straddles the claimed change")
    scale = 100.0 if kind == "relative" else 1.0
    span = change_range(kind, mb, mr)
    if span is not None and verdict != "inconclusive":
        low, high = iv.low + (span[0] - iv.estimate), iv.high + (span[1] - iv.estimate)
        if claim.decrease:
            holds = high <= c if verdict == "verified" else low > c
        else:
            holds = low >= c if verdict == "verified" else high < c
        where = f"[{span[0] * scale:+.2f}, {span[1] * scale:+.2f}] {'%' if kind == 'relative' else 'pp'}"
        excluded = f"{mb.count + mr.count} excluded device-days could put the estimate anywhere in {where}"
        if holds:
            notes.append(f"{excluded}; the verdict holds across that range")
        else:
            reasons.append(f"{excluded}; {verdict} would not hold for every value they could have held")
            verdict = "inconclusive"
    return ClaimResult(
        id=claim.id,
        title=claim.title,
        kpi=claim.kpi,
        verdict=verdict,
        unit="%" if kind == "relative" else "pp",
        claimed_change=c * scale,
        point_estimate=iv.estimate * scale,
        ci_low=iv.low * scale,
        ci_high=iv.high * scale,
        confidence=claim.confidence,
        method=method,
        devices=list(reporting.devices),
        baseline=sb,
        reporting=sr,
        reasons=reasons,
        notes=notes,
        source=claim.source,
        device_coverage=claim_coverage(claim, baseline, reporting),
    )


def period_series(conn: Any, devices: list[Any], claim: Claim, period: Period) -> DeviceDays:
    """The device-day series a claim is judged on, for one period (its points, heartbeat, gates)."""
    from collector.kpi.engine import device_days
    from collector.kpi.load import load_period

    data = load_period(conn, devices, claim.points, period, claim.heartbeat_timeout_s)
    rules = CounterRules(max_rate_multiple=claim.gates.max_rate_multiple)
    return device_days(data, claim.heartbeat_timeout_s, rules)


def verify_claims(dsn: str, claims: list[Claim]) -> list[ClaimResult]:
    """Verify each claim against the database at `dsn` (KpiError on connection or query failure)."""
    from collector.kpi.load import connect, resolve_scope

    results: list[ClaimResult] = []
    with connect(dsn) as conn:
        for claim in claims:
            assert claim.baseline is not None and claim.reporting is not None  # load_claims fills them
            devices = resolve_scope(conn, claim.scope)
            parts = [period_series(conn, devices, claim, p) for p in (claim.baseline, claim.reporting)]
            results.append(evaluate(claim, parts[0], parts[1]))
    return results
