"""Results-table rows that are a ratio of daily totals outside the device-day model: labour
productivity (good units per declared labour hour) and order on-time delivery (imported orders).

Both take the KPI engine's machinery as it is: the circular block bootstrap over days
(collector.kpi.stats) for the interval, its gates for the period length, its verdict rule
(collector.kpi.verify.decide), and a ClaimResult like every other row.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from collector.application.declared import DeclaredRow
from collector.application.orders import OrderDays
from collector.kpi.claims import Claim
from collector.kpi.engine import F64, DeviceDays
from collector.kpi.stats import bootstrap_change
from collector.kpi.verify import ClaimResult, PeriodSummary, Verdict, decide, period_totals


def _result(
    claim: Claim,
    kpi: str,
    parts: tuple[F64, F64, F64, F64],
    periods: tuple[PeriodSummary, PeriodSummary],
    reasons: list[str],
    notes: list[str],
    what: str,
    devices: list[str],
    source: str,
) -> ClaimResult:
    bs = claim.bootstrap
    iv = bootstrap_change(
        *parts, kind="relative", confidence=claim.confidence,
        resamples=bs.resamples, block_days=bs.block_days, seed=bs.seed,
    )  # fmt: skip
    verdict: Verdict = "inconclusive"
    if (math.isnan(iv.low) or math.isnan(iv.high)) and not reasons:
        reasons.append("no interval: the data do not define the KPI in one of the periods")
    if not reasons:
        verdict = decide(claim.decrease, claim.change, iv.low, iv.high)
        if verdict == "inconclusive":
            reasons.append("the interval straddles the claimed change")
    return ClaimResult(
        id=claim.id, title=claim.title, kpi=kpi, verdict=verdict, unit="%",
        claimed_change=claim.change * 100, point_estimate=iv.estimate * 100,
        ci_low=iv.low * 100, ci_high=iv.high * 100, confidence=claim.confidence,
        method=f"{what}; {claim.confidence:.0%} circular block bootstrap over days"
        f" (block {bs.block_days} d, {bs.resamples} resamples, seed {bs.seed})",
        devices=devices, baseline=periods[0], reporting=periods[1], reasons=reasons, notes=notes,
        source=source,
    )  # fmt: skip


def labour_result(claim: Claim, hours: DeclaredRow, b: DeviceDays, r: DeviceDays) -> ClaimResult:
    """Good units (the engine's, over valid device-days) per declared labour hour, the hours spread
    evenly over each period's days so the same bootstrap over days gives the interval."""
    assert hours.before is not None and hours.after is not None  # parse_application checks
    reasons: list[str] = []
    notes = [f"labour hours declared: {hours.before:g} before, {hours.after:g} after ({hours.source})"]
    gb, _, sb, _ = period_totals(claim, b, "baseline", reasons, notes)
    gr, _, sr, _ = period_totals(claim, r, "reporting", reasons, notes)
    hb = np.full(len(gb), hours.before / max(len(gb), 1))
    hr = np.full(len(gr), hours.after / max(len(gr), 1))
    summaries = (
        replace(sb, value=float(gb.sum()) / hours.before),
        replace(sr, value=float(gr.sum()) / hours.after),
    )
    what = "good units per declared labour hour"
    return _result(claim, "labour_productivity", (gb, hb, gr, hr), summaries, reasons, notes, what,
                   list(r.devices), hours.source)  # fmt: skip


def _orders_period(claim: Claim, o: OrderDays, name: str, reasons: list[str]) -> PeriodSummary:
    period = claim.baseline if name == "baseline" else claim.reporting
    assert period is not None  # claim_for sets both
    if len(o.due) < claim.gates.min_days:
        reasons.append(f"{name} period has {len(o.due)} days, fewer than the {claim.gates.min_days} required")
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = o.on_time / o.due
    days = [period.start.fromordinal(period.start.toordinal() + i).isoformat() for i in range(len(o.due))]
    series = [(d, float(v) if np.isfinite(v) else None) for d, v in zip(days, daily, strict=True)]
    due = float(o.due.sum())
    return PeriodSummary(
        start=period.start.isoformat(), end=period.end.isoformat(),
        value=float(o.on_time.sum()) / due if due else math.nan,
        coverage=1.0, device_days=0, valid_device_days=0, series=series,
    )  # fmt: skip


def orders_result(claim: Claim, b: OrderDays, r: OrderDays) -> ClaimResult:
    """On-time share of the orders due in each period (imported orders; undelivered ones are late)."""
    reasons: list[str] = []
    summaries = (
        _orders_period(claim, b, "baseline", reasons),
        _orders_period(claim, r, "reporting", reasons),
    )
    notes = [f"orders due: {int(b.due.sum())} before, {int(r.due.sum())} after (imported)"]
    what = "orders delivered by their due day / orders due, by due day"
    return _result(claim, "order_on_time_delivery", (b.on_time, b.due, r.on_time, r.due), summaries,
                   reasons, notes, what, [], "orders imported into the database")  # fmt: skip
