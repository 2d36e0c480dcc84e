"""The application's results table from the KPI engine's device-day series (no I/O).

Each measured row is a claim the KPI engine evaluates (`collector.kpi.verify.evaluate`): the same
ratio of totals, coverage gates, block-bootstrap interval and verdict as `plantproof verify`. The
claimed change is the one the application states (`application.claimed`), else 0 in the direction
the indicator improves — so "verified" then says the improvement itself is established. The change
rate is after / before − 1 of the indicator's value, signed (a fall in the defect rate is negative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from collector.application.daily import labour_result, orders_result
from collector.application.declared import Application, DeclaredRow
from collector.application.orders import OrderDays
from collector.application.rows import OTHER_EN, OTHER_ZH, ROWS, SOURCE, Row
from collector.kpi.claims import Claim, Period, Scope
from collector.kpi.engine import DeviceDays
from collector.kpi.verify import ClaimResult, evaluate

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
    "orders": "%",
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
    """The claim the engine evaluates for one measured row (labour and orders rows take its gates,
    bootstrap and claimed change; labour reads its good units as work efficiency does)."""
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


def result_orders(orders: tuple[OrderDays, OrderDays]) -> dict[str, int]:
    return {"baseline": int(orders[0].due.sum()), "reporting": int(orders[1].due.sum())}


def build_table(
    baseline: DeviceDays,
    reporting: DeviceDays,
    app: Application,
    periods: Periods,
    orders: tuple[OrderDays, OrderDays] | None = None,
) -> dict[str, Any]:
    """Every row of the original, in its order: measured, declared, or neither (with why).

    `orders`: the imported orders' daily series per period (None: no orders table)."""
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
            result = labour_result(claim_for(row, periods, app), app.labour_hours, baseline, reporting)
            rows.append(_measured(head, result, UNITS["labour"], 1.0))
        elif row.method == "labour":
            rows.append(_declared(head, declared, "no_labour_hours"))
        elif row.method == "orders" and orders is not None and all(o.due.sum() > 0 for o in orders):
            result = orders_result(claim_for(row, periods, app), *orders)
            rows.append(
                _measured(head, result, UNITS["orders"], 100.0) | {"orders_due": result_orders(orders)}
            )
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
