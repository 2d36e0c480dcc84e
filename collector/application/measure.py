"""The results table from the database: each period's device-day series loaded once, then every
measured row evaluated on them by the KPI engine (collector.application.table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from collector.application.declared import Application, application_from_json, parse_application
from collector.application.orders import OrderDays
from collector.application.orders_db import load_order_days
from collector.application.rows import ROWS
from collector.application.table import Periods, build_table, claim_for, periods_from_json
from collector.errors import CollectorError
from collector.figures.declared import parse_declared
from collector.kpi.engine import DeviceDays
from collector.kpi.load import connect, resolve_scope
from collector.kpi.verify import period_series


def load_application(path: str | Path | None) -> Application:
    """The declared rows, labour hours and emission factor of a declared.yaml (empty without one)."""
    if path is None:
        return Application()
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CollectorError(f"{p}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CollectorError(f"{p}: invalid YAML: {exc}") from exc
    parse_declared(data, str(p))  # the figures' values are checked by their own rules
    return parse_application(data, str(p))


def load_device_days(
    dsn: str, periods: Periods
) -> tuple[DeviceDays, DeviceDays, tuple[OrderDays, OrderDays] | None]:
    """Both periods' series, exactly as `verify_claims` builds them for a claim of this scope, and
    the imported orders' daily series of the scope's sites."""
    claim = claim_for(ROWS[0], periods, Application())  # default points and gates, its heartbeat
    with connect(dsn) as conn:
        devices = resolve_scope(conn, periods.scope)
        out = [period_series(conn, devices, claim, p) for p in (periods.baseline, periods.reporting)]
        orders = load_order_days(conn, periods.scope, (periods.baseline, periods.reporting))
    return out[0], out[1], orders


def application_table(dsn: str, periods: Periods, app: Application) -> dict[str, Any]:
    """The table as JSON-ready data (KpiError on connection or query failure)."""
    baseline, reporting, orders = load_device_days(dsn, periods)
    return build_table(baseline, reporting, app, periods, orders)


def evidence_part(dsn: str, periods: Periods, app: Application) -> dict[str, Any]:
    """evidence.json's `application`: the table, and the scenario evidence over its reporting period."""
    from collector.application.scenario_queries import scenario_evidence

    table = application_table(dsn, periods, app)
    scenarios = scenario_evidence(dsn, periods.reporting, app.emission_factor, periods.heartbeat_timeout_s)
    return {"included": True, "table": table, "scenarios": scenarios}


def recompute_part(dsn: str, part: dict[str, Any]) -> dict[str, Any]:
    """`evidence_part` again from the database, with the periods, scope and declared values it states."""
    table = part["table"]
    return evidence_part(dsn, periods_from_json(table), application_from_json(table["declared"]))
