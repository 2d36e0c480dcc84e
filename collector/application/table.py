"""The application's results table from the KPI engine's device-day series (pure).

Each measured row is a claim the KPI engine evaluates (`collector.kpi.verify.evaluate`): the same
ratio of totals, coverage gates, block-bootstrap interval and verdict as `plantproof verify`. The
claimed change is the one the application states (`application.claimed`), else 0 in the direction
the indicator improves — so "verified" then says the improvement itself is established. The change
rate is after / before − 1 of the indicator's value, signed (a fall in the defect rate is negative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from collector.application.declared import Application, DeclaredRow
from collector.application.rows import OTHER_EN, OTHER_ZH, ROWS, SOURCE, Row
from collector.kpi.claims import Claim, Period, Scope
from collector.kpi.engine import DeviceDays
from collector.kpi.stats import bootstrap_change
from collector.kpi.verify import ClaimResult, Verdict, decide, evaluate, period_totals

SCHEMA = "plantproof.application-table/1"
# Values the engine keeps as a share of one, shown in per cent like the original's (%) rows.
PERCENT_KPIS = frozenset({"oee", "defect_rate"})
UNITS = {
    "work_efficiency": "good units per planned busy hour",
    "defect_rate": "%",
    "oee": "%",
    "energy_per_unit": "kWh per good unit",
    "co2_per_unit": "kg CO₂ per good unit",
    "labour": "good units per labour hour",
}


@dataclass(frozen=True, slots=True)
class Periods:
    baseline: Period
    reporting: Period
    scope: Scope
    heartbeat_timeout_s: float = 600.0  # as a claim's: how long one state sample holds


def periods_from_json(table: dict[str, Any]) -> Periods:
    """Back from build_table's output (an evidence bundle's table, to recompute it)."""
    return Periods(
        baseline=Period.model_validate(table["baseline"]),
        reporting=Period.model_validate(table["reporting"]),
        scope=Scope.model_validate(table["scope"]),
        heartbeat_timeout_s=float(table["heartbeat_timeout_s"]),
    )


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def claim_for(row: Row, periods: Periods, app: Application) -> Claim:
    """The claim the engine evaluates for one measured row."""
    factor = app.emission_factor[0] if app.emission_factor and row.kpi == "co2_per_unit" else None
    return Claim(
        id=row.key,
        title=row.en,
        kpi=row.kpi if row.method == "kpi" else "work_efficiency",
        scope=periods.scope,
        baseline=periods.baseline,
        reporting=periods.reporting,
        change_pct=app.claimed.get(row.key, 0.0),
        direction=row.better,
        source=SOURCE,
        emission_factor_kg_per_kwh=factor,
        heartbeat_timeout_s=periods.heartbeat_timeout_s,
    )


def _head(row: Row) -> dict[str, Any]:
    return {"key": row.key, "zh": row.zh, "en": row.en, "seed_line": row.line, "better": row.better}


# Why a row is declared rather than measured (a key of REASONS).
REASONS = {
    "not_measurable": "plant data cannot measure it",
    "no_factor": "no emission factor declared (values.emission_factor_kg_per_kwh)",
    "no_labour_hours": "no labour hours declared (application.labour_hours)",
    "no_orders": "no orders imported",
    "applicant_row": "a row of the applicant's choosing",
}


def _declared(head: dict[str, Any], d: DeclaredRow | None, why: str) -> dict[str, Any]:
    reason = {"reason": REASONS[why], "reason_key": why}
    if d is None:
        return head | {"status": "not_declared"} | reason
    return (
        head
        | {
            "status": "declared",
            "before": d.before,
            "after": d.after,
            "change_pct": _num(d.change_pct()),
            "change_declared": d.change is not None,
            "source": d.source,
        }
        | reason
    )


def _measured(head: dict[str, Any], r: ClaimResult, unit: str, scale: float) -> dict[str, Any]:
    def value(p: Any) -> float | None:
        return None if p is None else _num(p.value * scale)

    return head | {
        "status": "measured",
        "unit": unit,
        "before": value(r.baseline),
        "after": value(r.reporting),
        "change_pct": _num(r.point_estimate),
        "ci_low": _num(r.ci_low),
        "ci_high": _num(r.ci_high),
        "confidence": r.confidence,
        "claimed_change_pct": _num(r.claimed_change),
        "verdict": r.verdict,
        "reasons": r.reasons,
        "notes": r.notes,
        "method": r.method,
        "kpi": r.kpi,
        "valid_share": {
            "baseline": _num(r.baseline.coverage) if r.baseline else None,
            "reporting": _num(r.reporting.coverage) if r.reporting else None,
        },
        "devices": len(r.devices),
    }


def _labour(claim: Claim, hours: DeclaredRow, b: DeviceDays, r: DeviceDays) -> ClaimResult:
    """Good units (the engine's, over valid device-days) per declared labour hour, spread evenly
    over each period's days so the same bootstrap over days gives the interval."""
    assert hours.before is not None and hours.after is not None  # parse_application checks
    reasons: list[str] = []
    notes = [f"labour hours declared: {hours.before:g} before, {hours.after:g} after ({hours.source})"]
    gb, _, sb, _ = period_totals(claim, b, "baseline", reasons, notes)
    gr, _, sr, _ = period_totals(claim, r, "reporting", reasons, notes)
    hb = np.full(len(gb), hours.before / max(len(gb), 1))
    hr = np.full(len(gr), hours.after / max(len(gr), 1))
    bs = claim.bootstrap
    iv = bootstrap_change(
        gb, hb, gr, hr, kind="relative", confidence=claim.confidence,
        resamples=bs.resamples, block_days=bs.block_days, seed=bs.seed,
    )  # fmt: skip
    verdict: Verdict = "inconclusive"
    if (math.isnan(iv.low) or math.isnan(iv.high)) and not reasons:
        reasons.append("no interval: the data do not define the KPI in one of the periods")
    if not reasons:
        verdict = decide(claim.decrease, claim.change, iv.low, iv.high)
        if verdict == "inconclusive":
            reasons.append("the interval straddles the claimed change")
    per_hour = [
        replace(s, value=float(g.sum()) / h) for s, g, h in ((sb, gb, hours.before), (sr, gr, hours.after))
    ]
    return ClaimResult(
        id=claim.id, title=claim.title, kpi="labour_productivity", verdict=verdict,
        unit="%", claimed_change=claim.change * 100, point_estimate=iv.estimate * 100,
        ci_low=iv.low * 100, ci_high=iv.high * 100, confidence=claim.confidence,
        method=f"good units per declared labour hour; {claim.confidence:.0%} circular block bootstrap"
        f" over days (block {bs.block_days} d, {bs.resamples} resamples, seed {bs.seed})",
        devices=list(r.devices), baseline=per_hour[0], reporting=per_hour[1], reasons=reasons,
        notes=notes, source=hours.source,
    )  # fmt: skip


def build_table(
    baseline: DeviceDays, reporting: DeviceDays, app: Application, periods: Periods
) -> dict[str, Any]:
    """Every row of the original, in its order: measured, declared, or neither (with why)."""
    rows: list[dict[str, Any]] = []
    for row in ROWS:
        head, declared = _head(row), app.rows.get(row.key)
        if row.method == "kpi" and row.kpi == "co2_per_unit" and app.emission_factor is None:
            rows.append(_declared(head, declared, "no_factor"))
        elif row.method == "kpi":
            result = evaluate(claim_for(row, periods, app), baseline, reporting)
            scale = 100.0 if row.kpi in PERCENT_KPIS else 1.0
            out = _measured(head, result, UNITS[row.kpi], scale)
            if row.kpi == "co2_per_unit" and app.emission_factor:
                out["emission_factor"] = {"value": app.emission_factor[0], "source": app.emission_factor[1]}
            rows.append(out)
        elif row.method == "labour" and app.labour_hours is not None:
            result = _labour(claim_for(row, periods, app), app.labour_hours, baseline, reporting)
            rows.append(_measured(head, result, UNITS["labour"], 1.0))
        elif row.method == "labour":
            rows.append(_declared(head, declared, "no_labour_hours"))
        elif row.method == "orders":
            rows.append(_declared(head, declared, "no_orders"))
        else:
            rows.append(_declared(head, declared, "not_measurable"))
    others = [
        {"key": f"other-{i}", "zh": d.name, "en": d.name, "seed_line": None}
        | _declared({}, d, "applicant_row")
        for i, d in enumerate(app.others, 1)
    ]
    return {
        "schema": SCHEMA,
        "source": SOURCE,
        "baseline": {"start": periods.baseline.start.isoformat(), "end": periods.baseline.end.isoformat()},
        "reporting": {"start": periods.reporting.start.isoformat(), "end": periods.reporting.end.isoformat()},
        "scope": periods.scope.model_dump(exclude_none=True),
        "heartbeat_timeout_s": periods.heartbeat_timeout_s,
        "devices": list(reporting.devices),
        "rows": rows,
        "others": {"zh": OTHER_ZH, "en": OTHER_EN, "rows": others},
        "declared": app.to_json(),
    }
