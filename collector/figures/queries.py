"""The exact SQL behind every figure, and the one function that runs it.

The evidence bundle ships these statements (with the window parameters filled in) as queries.sql,
so anyone with database access can rerun them. Days are UTC calendar days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg

from collector import db
from collector.errors import CollectorError
from collector.figures.compute import (
    CapacityRun,
    DeviceActivity,
    InvocationMonth,
    ManagedDevice,
    Parameters,
    PointActivity,
    QueryResults,
    Window,
    compute,
)
from collector.figures.model import Figures

# Valid readings: good quality, a value, inside the window. String values live in readings_text
# (migration 003) where that table exists; both sources are read the same way.
_WINDOW = "quality = 0 AND value IS NOT NULL AND time >= %(window_start)s AND time < %(window_end)s"
_NUMERIC = f"SELECT time, point_id, envelope_id FROM readings WHERE {_WINDOW}"
_TEXT = f"SELECT time, point_id, envelope_id FROM readings_text WHERE {_WINDOW}"
# ... of an operating parameter or switch signal (setpoints excluded).
_KINDS = "p.kind IN ('analog', 'state', 'counter', 'energy', 'switch')"


def _device_activity(source: str) -> str:
    return f"""
SELECT d.device_id, d.site, d.dev, d.type, d.industry, d.sector, d.simulated, d.managed,
       count(DISTINCT (r.time AT TIME ZONE 'UTC')::date) AS active_days,
       min(r.time) AS first_seen, max(r.time) AS last_seen,
       count(*) AS readings, count(DISTINCT r.envelope_id) AS messages
FROM devices d
JOIN points p ON p.device_id = d.device_id
JOIN ({source}) r ON r.point_id = p.point_id
WHERE d.namespace = 'plant' AND {_KINDS}
GROUP BY d.device_id
ORDER BY d.device_id
"""


def _point_activity(source: str) -> str:
    return f"""
SELECT p.point_id, d.device_id, d.site, d.dev, p.name, p.kind, d.type, d.industry, d.simulated,
       count(DISTINCT (r.time AT TIME ZONE 'UTC')::date) AS active_days,
       count(*) AS readings
FROM devices d
JOIN points p ON p.device_id = d.device_id
JOIN ({source}) r ON r.point_id = p.point_id
WHERE d.namespace = 'plant' AND d.sector = 'process' AND {_KINDS}
GROUP BY p.point_id, d.device_id
ORDER BY p.point_id
"""


# Operations the platform sent (each registered before sending, with its deadline), answered ok by
# the device asked before the deadline, that proved the device reached (a ping that read it, a
# write read back); answered_at is the platform's receive time. Unsolicited or forged answers are
# never in this table (ingest keeps them as dead letters). Who sent them, by `requested_by`: the
# service's management sweep, the API on a token's request, or `plantproof manage`.
MANAGED_DEVICES: Final = """
SELECT d.device_id, d.site, d.dev, d.type, d.industry, d.sector, d.simulated,
       count(*) AS ops_answered, min(m.answered_at) AS first_answer, max(m.answered_at) AS last_answer,
       count(*) FILTER (WHERE m.requested_by = 'api:sweep') AS by_sweep,
       count(*) FILTER (WHERE m.requested_by LIKE 'api:%%' AND m.requested_by <> 'api:sweep') AS by_api,
       count(*) FILTER (WHERE m.requested_by LIKE 'cli:%%') AS by_cli
FROM management_ops m
JOIN devices d ON d.site = m.site AND d.dev = m.dev
WHERE m.namespace = 'plant' AND d.namespace = 'plant' AND m.ok AND m.reached
  AND m.deadline IS NOT NULL AND m.answered_at <= m.deadline
  AND m.answered_at >= %(window_start)s AND m.answered_at < %(window_end)s
GROUP BY d.device_id
ORDER BY d.device_id
"""

CAPACITY_RUNS: Final = """
SELECT run_id, started_at, finished_at, devices, sampled, answered,
       latency_p50_ms, latency_p95_ms, latency_p99_ms, notes
FROM capacity_runs
WHERE status = 'completed' AND finished_at IS NOT NULL AND finished_at < %(window_end)s
ORDER BY run_id
"""

MODEL_INVOCATIONS: Final = """
SELECT to_char(invoked_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, model, count(*) AS invocations
FROM model_invocations
WHERE ok AND NOT internal AND invoked_at >= %(window_start)s AND invoked_at < %(window_end)s
GROUP BY 1, 2
ORDER BY 1, 2
"""


def statements(with_text: bool) -> dict[str, str]:
    """Every figure statement; `with_text` adds string readings (readings_text) to valid readings."""
    source = f"{_NUMERIC}\n    UNION ALL {_TEXT}" if with_text else _NUMERIC
    return {
        "device_activity": _device_activity(source),
        "point_activity": _point_activity(source),
        "managed_devices": MANAGED_DEVICES,
        "capacity_runs": CAPACITY_RUNS,
        "model_invocations": MODEL_INVOCATIONS,
    }


def parameters(window: Window) -> dict[str, datetime]:
    start, end = window.bounds()
    return {"window_start": start, "window_end": end}


def render(window: Window, with_text: bool) -> str:
    """All statements with the window parameters written in as literals (queries.sql)."""
    params = {k: f"'{v.isoformat()}'::timestamptz" for k, v in parameters(window).items()}
    parts = [
        "-- plantproof figures: the exact statements, window parameters filled in.",
        f"-- window {window.label}: [{params['window_start']}, {params['window_end']})",
        "",
    ]
    for name, sql in statements(with_text).items():
        text = sql.replace("%%", "%")
        for key, literal in params.items():
            text = text.replace(f"%({key})s", literal)
        parts += [f"-- {name}", text.strip() + ";", ""]
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Loaded:
    results: QueryResults
    storage: str
    with_text: bool  # string readings (readings_text) were included


def _rows(conn: psycopg.Connection[Any], sql: str, window: Window) -> list[tuple[Any, ...]]:
    return list(conn.execute(sql.encode(), parameters(window)).fetchall())


def load(dsn: str, window: Window) -> Loaded:
    """Run every figure query in one repeatable-read snapshot."""
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            storage = db.storage_of(conn)
            text_row = conn.execute("SELECT to_regclass('readings_text') IS NOT NULL").fetchone()
            with_text = bool(text_row and text_row[0])
            sql = statements(with_text)
            devices = [DeviceActivity(*r) for r in _rows(conn, sql["device_activity"], window)]
            points = [PointActivity(*r) for r in _rows(conn, sql["point_activity"], window)]
            managed = [ManagedDevice(*r) for r in _rows(conn, sql["managed_devices"], window)]
            runs = [CapacityRun(*r) for r in _rows(conn, sql["capacity_runs"], window)]
            invocations = [InvocationMonth(*r) for r in _rows(conn, sql["model_invocations"], window)]
    except psycopg.Error as exc:
        raise CollectorError(f"figure queries failed: {exc}") from exc
    return Loaded(QueryResults(devices, points, managed, runs, invocations), storage, with_text)


def figures(dsn: str, params: Parameters) -> tuple[Figures, Loaded]:
    """Load and compute: the figures for `params`, and the query results they came from."""
    loaded = load(dsn, params.window)
    return compute(loaded.results, params), loaded
