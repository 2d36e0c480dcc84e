"""Managed equipment counts only what was managed: platform-sent requests, matched answers, the
collector's own receive time; forged, late and unsolicited answers never count. Real Mosquitto and
PostgreSQL, with a collector ingesting the same broker traffic."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest

import wire
from collector.errors import CollectorError
from collector.figures import queries
from collector.figures.compute import Parameters
from collector.figures.window import parse_window
from collector.ingest import Pipeline
from collector.management import ManagementClient, Target, record_outcomes, record_requests
from collector.migrate import migrate
from collector.settings import load_settings
from plantproof.capacity import run_capacity
from simulators.fleet import Fleet
from tests.collector.mqttutil import scalar, wait_until
from tests.figures.seed import SeedDevice, register


def _one(dsn: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, args).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


@pytest.fixture()
def collector(mqtt_broker: Any, pg_dsn: str) -> Iterator[Pipeline]:
    """A collector ingesting everything on the broker (pp/v1/#, management traffic included)."""
    migrate(pg_dsn)
    settings = load_settings(
        None, dsn=pg_dsn, metrics_port=None,
        mqtt={"url": mqtt_broker.url, "client_id": f"c-{uuid.uuid4().hex[:8]}"},
    )  # fmt: skip
    pipeline = Pipeline(settings)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(pipeline.run(stop),), daemon=True)
    thread.start()
    wait_until(lambda: pipeline.source is not None and pipeline.source.connected.is_set(), 30, "collector")
    yield pipeline
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)


class Rogue:
    """Another MQTT client that publishes answers nobody asked it for."""

    def __init__(self, broker: Any) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"rogue-{uuid.uuid4().hex[:6]}")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def answer(self, site: str, gw: str, dev: str, rid: str, *, as_gw: str | None = None) -> None:
        res = wire.CommandResult(
            rid, as_gw or gw, dev, True, time.time_ns(), {"pong": True, "read": {"point": "x", "raw": 1}}
        )
        topic = wire.device_topic(site, gw, dev, "cmd/res")
        self.client.publish(topic, wire.encode(res), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_capacity_run_against_a_live_collector_records_every_op_once(
    mqtt_broker: Any, pg_dsn: str, collector: Pipeline
) -> None:
    report = run_capacity(pg_dsn, mqtt_broker.url, 600, per_gateway=200, timeout=60)
    assert (report.sampled, report.answered) == (600, 600)
    ns = report.namespace
    assert _one(pg_dsn, "SELECT count(*) FROM management_ops WHERE namespace = %s", ns) == 600
    assert _one(pg_dsn, "SELECT count(*) FROM management_ops WHERE namespace = %s AND ok", ns) == 600
    assert _one(pg_dsn, "SELECT status FROM capacity_runs WHERE run_id = %s", report.run_id) == "completed"
    # the collector saw every command and answer on the broker: nothing recorded twice, nothing
    # dead-lettered (each answer matches a request the platform registered)
    wait_until(
        lambda: collector.metrics.received._value.get() >= 1200, 30, "the collector to see the traffic"
    )
    time.sleep(1.0)
    assert scalar(pg_dsn, "SELECT count(*) FROM dead_letters WHERE error LIKE '%cmd/res%'") == 0


def test_a_failed_capacity_run_is_removed_and_labelled(pg_dsn: str) -> None:
    migrate(pg_dsn)
    with pytest.raises(CollectorError, match="recorded as failed"):
        run_capacity(pg_dsn, "mqtt://127.0.0.1:1", 40, per_gateway=20, timeout=5)  # no broker there
    assert scalar(pg_dsn, "SELECT count(*) FROM devices") == 0
    assert scalar(pg_dsn, "SELECT count(*) FROM gateways") == 0
    status, notes = _one(pg_dsn, "SELECT status, notes FROM capacity_runs")
    assert status == "failed" and "cannot reach the MQTT broker" in notes
    now = datetime.now(UTC)
    figures, _ = queries.figures(pg_dsn, Parameters(parse_window(now.strftime("%Y-%m"), now), now))
    assert figures.demonstrated_management_capacity is None


def test_forged_late_and_unsolicited_answers_never_count(
    mqtt_broker: Any, pg_dsn: str, collector: Pipeline
) -> None:
    with psycopg.connect(pg_dsn) as conn:
        for dev in ("m1", "m2"):
            spec = SeedDevice(
                dev, "pump", "C26", "process", {"flow": ("analog", [], 0)}, gw="gwm", managed=True
            )
            register(conn, spec)
    rogue = Rogue(mqtt_broker)
    targets = [Target("plant1", "gwm", "m1"), Target("plant1", "gwm", "m2")]
    asked: list[str] = []

    def register_and_forge(requests: list[Any]) -> None:
        record_requests(pg_dsn, requests)
        asked.extend(r.request_id for r in requests)

    try:
        with Fleet(mqtt_broker.url, "plant1", {"gwm": ["m1"]}), ManagementClient(mqtt_broker.url) as client:

            def forge() -> None:
                wait_until(lambda: client.stats.sent == 2, 10, "both requests sent")
                # an answer to m2's request from m1's topic, and one claiming another gateway
                rogue.answer("plant1", "gwm", "m1", asked[1])
                rogue.answer("plant1", "gwm", "m2", asked[1], as_gw="gwx")

            forger = threading.Thread(target=forge, daemon=True)
            forger.start()
            outcomes = client.run(targets, "ping", timeout=3, register=register_and_forge)
            forger.join(10)
            assert client.stats.forged == 2
        record_outcomes(pg_dsn, outcomes)
        rogue.answer("plant1", "gwm", "m2", asked[1])  # the real device never answered: too late now
        rogue.answer("plant1", "gwm", "m2", "never-asked")
    finally:
        rogue.close()
    first, second = outcomes
    assert first.ok and first.reached and first.answered_at is not None and first.deadline is not None
    assert first.sent_at < first.answered_at <= first.deadline
    assert second.ok is None and second.answered_at is None  # forged answers were not taken
    wait_until(
        lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters WHERE error LIKE '%cmd/res%'") >= 2,
        30,
        "dead letters for the late and the unsolicited answer",
    )
    with psycopg.connect(pg_dsn) as conn:
        errors = sorted(r[0].split(":")[0] for r in conn.execute("SELECT error FROM dead_letters"))
        ops = conn.execute("SELECT dev, ok, reached FROM management_ops ORDER BY dev").fetchall()
    assert "unsolicited cmd/res" in errors and "late cmd/res" in errors
    assert ops == [("m1", True, True), ("m2", None, False)]
    now = datetime.now(UTC)
    figures, _ = queries.figures(pg_dsn, Parameters(parse_window(now.strftime("%Y-%m"), now), now))
    assert [m.device for m in figures.managed_equipment.members] == ["plant1/m1"]
