"""Capacity runs and management operations against a real Mosquitto and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from collector.figures import queries
from collector.figures.compute import Parameters
from collector.figures.window import parse_window
from collector.management import Target, send
from collector.migrate import migrate
from plantproof.capacity import run_capacity
from simulators.fleet import Fleet
from tests.figures.seed import SeedDevice, register


def _one(dsn: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, args).fetchone()
        assert row is not None
        return row[0] if len(row) == 1 else row


def test_capacity_run_all_answer(mqtt_broker: Any, pg_dsn: str) -> None:
    migrate(pg_dsn)
    report = run_capacity(pg_dsn, mqtt_broker.url, 2000, per_gateway=500, timeout=120)
    assert (report.devices, report.sampled, report.answered) == (2000, 2000, 2000)
    assert report.success_rate == 1.0
    assert report.latency_p50_ms is not None and report.latency_p95_ms is not None
    assert 0 < report.latency_p50_ms <= report.latency_p95_ms <= (report.latency_p99_ms or 0)
    ns = report.namespace
    assert ns == f"capacity:{report.run_id}"
    assert (
        _one(pg_dsn, "SELECT count(*) FROM devices WHERE namespace = %s AND simulated AND managed", ns)
        == 2000
    )
    assert _one(pg_dsn, "SELECT count(*) FROM management_ops WHERE namespace = %s AND ok", ns) == 2000
    row = _one(
        pg_dsn,
        "SELECT devices, sampled, answered, latency_p99_ms FROM capacity_runs WHERE run_id = %s",
        report.run_id,
    )
    assert row[:3] == (2000, 2000, 2000) and row[3] == report.latency_p99_ms

    # Figures show it as synthetic capacity with its date, never as managed or connected equipment.
    now = datetime.now(UTC)
    figures, _ = queries.figures(pg_dsn, Parameters(parse_window(now.strftime("%Y-%m"), now), now))
    cap = figures.demonstrated_management_capacity
    assert cap is not None and cap.run_id == report.run_id
    assert cap.label == "synthetic" and cap.value == 2000
    assert cap.date == report.finished_at.isoformat()
    assert figures.managed_equipment.value == 0 and figures.managed_equipment.simulated == 0
    assert figures.connected_equipment.any_day.simulated == 0


def test_capacity_run_with_part_of_fleet_offline(mqtt_broker: Any, pg_dsn: str) -> None:
    migrate(pg_dsn)
    report = run_capacity(pg_dsn, mqtt_broker.url, 300, offline=60, per_gateway=100, timeout=8)
    assert (report.sampled, report.answered) == (300, 240)
    assert report.success_rate == 0.8
    assert "60 devices offline" in report.notes
    ns = report.namespace
    assert _one(pg_dsn, "SELECT count(*) FROM management_ops WHERE namespace = %s AND ok IS NULL", ns) == 60
    assert _one(pg_dsn, "SELECT answered FROM capacity_runs WHERE run_id = %s", report.run_id) == 240


def test_capacity_run_sample(mqtt_broker: Any, pg_dsn: str) -> None:
    migrate(pg_dsn)
    report = run_capacity(pg_dsn, mqtt_broker.url, 1500, sample=100, seed=7, timeout=60)
    assert (report.devices, report.sampled, report.answered) == (1500, 100, 100)
    assert "random sample of 100 (seed 7)" in report.notes
    assert _one(pg_dsn, "SELECT count(*) FROM management_ops WHERE namespace = %s", report.namespace) == 100


def test_management_ops_make_managed_equipment(mqtt_broker: Any, pg_dsn: str) -> None:
    migrate(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        for dev in ("m1", "m2", "m3"):
            register(
                conn,
                SeedDevice(
                    dev, "pump", "C26", "process", {"flow": ("analog", [], 0)}, gw="gwm", managed=True
                ),
            )
    targets = [Target("plant1", "gwm", d) for d in ("m1", "m2", "m3")]
    with Fleet(mqtt_broker.url, "plant1", {"gwm": ["m1", "m2", "m3"]}, offline=["m3"]) as fleet:
        outcomes = send(
            mqtt_broker.url, pg_dsn, targets, "write_setpoint", args={"point": "sp", "value": 4.5}, timeout=5
        )
        assert fleet.stats().answered == 2 and fleet.stats().silent == 1
    assert [o.ok for o in outcomes] == [True, True, None]
    assert (
        _one(
            pg_dsn, "SELECT count(*) FROM management_ops WHERE namespace = 'plant' AND op = 'write_setpoint'"
        )
        == 3
    )
    now = datetime.now(UTC)
    figures, _ = queries.figures(pg_dsn, Parameters(parse_window(now.strftime("%Y-%m"), now), now))
    managed = figures.managed_equipment
    assert managed.value == 2 and sorted(m.device for m in managed.members) == [
        "plant1/m1",
        "plant1/m2",
    ]
