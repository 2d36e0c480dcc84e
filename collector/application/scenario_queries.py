"""The database side of the scenario evidence: what was collected, sent, invoked and alarmed in a window.

Time-stamped data (readings, value conflicts) is selected by its own time; what the platform did
(management operations, model invocations, alarms, dead letters) by when it did it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg

from collector.application.scenarios import Measured, PointRow, scenario_facts
from collector.kpi.claims import Period, Points, Scope
from collector.kpi.counters import CounterRules, daily_increments
from collector.kpi.engine import DeviceDays, device_days
from collector.kpi.load import connect, load_period, resolve_scope

SCHEMA = "plantproof.scenario-evidence/1"
HEARTBEAT_TIMEOUT_S = 600.0  # a claim's default (collector.kpi.claims)

_POINTS = """
SELECT d.device_id, d.simulated, p.kind, p.unit, count(DISTINCT p.point_id), count(*)
FROM readings r JOIN points p USING (point_id) JOIN devices d USING (device_id)
WHERE d.namespace = 'plant' AND r.quality = 0 AND r.value IS NOT NULL AND r.time >= %(s)s AND r.time < %(e)s
GROUP BY d.device_id, d.simulated, p.kind, p.unit
"""
_OPS = """
SELECT op, count(*), count(*) FILTER (WHERE ok), count(*) FILTER (WHERE reached)
FROM management_ops WHERE namespace = 'plant' AND sent_at >= %(s)s AND sent_at < %(e)s GROUP BY op
"""
_MODELS = """
SELECT model, count(*) FROM model_invocations
WHERE ok AND NOT internal AND invoked_at >= %(s)s AND invoked_at < %(e)s GROUP BY model
"""
_ALARMS = """
SELECT rule, count(*) FILTER (WHERE raised_at >= %(s)s), count(*) FILTER (WHERE cleared_at < %(e)s)
FROM alarms WHERE raised_at < %(e)s AND (cleared_at IS NULL OR cleared_at >= %(s)s) GROUP BY rule
"""
_REGISTRY = """
SELECT (SELECT count(*) FROM devices WHERE namespace = 'plant'),
       (SELECT count(*) FROM points p JOIN devices d USING (device_id) WHERE d.namespace = 'plant'),
       (SELECT count(*) FROM reading_conflicts WHERE time >= %(s)s AND time < %(e)s),
       (SELECT count(*) FROM dead_letters WHERE received_at >= %(s)s AND received_at < %(e)s)
"""
QUERIES = {
    "points": _POINTS,
    "operations": _OPS,
    "invocations": _MODELS,
    "alarms": _ALARMS,
    "registry": _REGISTRY,
}


def measured(conn: psycopg.Connection, period: Period) -> Measured:
    bounds = {
        "s": datetime.combine(period.start, time(), UTC),
        "e": datetime.combine(period.end + timedelta(days=1), time(), UTC),
    }
    points = [
        PointRow(int(a), bool(b), str(c), str(d), int(n), int(k))
        for a, b, c, d, n, k in conn.execute(_POINTS, bounds)
    ]
    ops = {str(op): (int(a), int(b), int(c)) for op, a, b, c in conn.execute(_OPS, bounds)}
    models = {str(name): int(n) for name, n in conn.execute(_MODELS, bounds)}
    has_alarms = conn.execute("SELECT to_regclass('alarms') IS NOT NULL").fetchone()
    alarms = None
    if has_alarms and has_alarms[0]:
        alarms = {str(rule): (int(a), int(b)) for rule, a, b in conn.execute(_ALARMS, bounds)}
    row = conn.execute(_REGISTRY, bounds).fetchone() or (0, 0, 0, 0)
    registry = dict(zip(("devices", "points", "conflicts", "dead_letters"), map(int, row), strict=True))
    return Measured(points, ops, models, alarms, registry)


def series(conn: psycopg.Connection, period: Period, timeout_s: float) -> tuple[DeviceDays, float]:
    """Every plant device's device-day series over the period, as a claim over them builds it; and
    the kWh all energy registers counted (the same counter rules, without the state-coverage gate
    a KPI needs: a plant's main meter has no operating state)."""
    devices = resolve_scope(conn, Scope())
    data = load_period(conn, devices, Points(), period, timeout_s)
    e = data.energy
    metered = daily_increments(
        e.dev, e.t, e.value, n_devices=len(devices), start=data.start_ns, end=data.end_ns,
        wrap=e.wrap, quality=e.quality,
    )  # fmt: skip
    return device_days(data, timeout_s, CounterRules()), float(metered.inc.sum())


def scenario_evidence(
    dsn: str, period: Period, factor: tuple[float, str] | None, timeout_s: float = HEARTBEAT_TIMEOUT_S
) -> dict[str, Any]:
    """The facts per scenario over the period (KpiError on connection or query failure)."""
    with connect(dsn) as conn:
        m, (dd, metered_kwh) = measured(conn, period), series(conn, period, timeout_s)
    return {
        "schema": SCHEMA,
        "window": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "heartbeat_timeout_s": timeout_s,
        "alarms_table": m.alarms is not None,
        "scenarios": scenario_facts(m, dd, metered_kwh, factor),
    }
