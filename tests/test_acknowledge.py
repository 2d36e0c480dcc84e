"""End-to-end acknowledgement: a broker killed with -9 (persistence on, nothing saved since it
started) loses nothing, because the gateway keeps every envelope until a collector's `$stored`
watermark covers it. The same run deleting on PUBACK loses what the broker had not yet passed on:
that is the fault the watermark repairs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from adapters.base import RawReading
from collector.migrate import migrate
from gateway.config import load_config
from gateway.runner import Gateway
from tests.collector.mqttutil import scalar
from tests.gateway.helpers import modbus_device, write_config
from tests.processes import Collector, collector_config
from tests.servers import MosquittoServer, PostgresServer

DEVICES = ("m1", "m2")
POINTS = ("spindle_speed", "parts_total")
# Nothing reaches the broker's disk before the kill: what it had in memory dies with it.
NO_AUTOSAVE = "autosave_interval 3600\n"


async def _until(check: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s} s waiting for {what}")
        await asyncio.sleep(0.1)


class Feeder:
    """Steady readings with ground truth: every value differs, so the edge passes each one."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.fed = 0
        self.stop = asyncio.Event()

    async def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            ts = time.time_ns()
            for dev in DEVICES:
                await self.gateway.ingest(
                    dev, [RawReading(POINTS[0], ts, float(i)), RawReading(POINTS[1], ts, i)]
                )
                self.fed += len(POINTS)
            i += 1
            await asyncio.sleep(0.005)


@pytest.mark.parametrize(
    ("scenario", "delete_on"),
    [("steady", "stored"), ("backlog", "stored"), ("backlog", "puback")],
    ids=["kill-during-steady-run", "kill-with-backlog-queued", "control-puback-loses-the-backlog"],
)
async def test_broker_kill_9(
    tmp_path: Path,
    mosquitto_factory: Callable[..., MosquittoServer],
    postgres_factory: Callable[..., PostgresServer],
    scenario: str,
    delete_on: str,
) -> None:
    broker, pg = mosquitto_factory(extra_conf=NO_AUTOSAVE), postgres_factory()
    dsn = pg.create_database()
    migrate(dsn)
    collector = Collector(
        collector_config(tmp_path / "c.yaml", dsn, broker.host, broker.port), tmp_path / "c.log"
    )
    devices = [modbus_device(d, port=1502, edge={"default": {"max_silence_s": 3600}}) for d in DEVICES]
    cfg = write_config(
        tmp_path, broker.url, devices, spool={"delete_on": delete_on, "resend_after_s": 2.0},
        batch={"max_samples": 50, "max_age_s": 0.1},
    )  # fmt: skip
    gateway = Gateway(load_config(cfg), connect_devices=False)
    stored = lambda: scalar(dsn, "SELECT count(*) FROM readings")  # noqa: E731
    collector.start()
    task = asyncio.create_task(gateway.run())
    feeder = Feeder(gateway)
    feeding = None
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        await asyncio.wait_for(gateway.client.connected.wait(), 30)
        feeding = asyncio.create_task(feeder.run())
        await _until(lambda: stored() > 0, 60, "the first rows")
        if scenario == "backlog":
            collector.stop()  # its session stays on the broker, which queues what comes meanwhile
            queued_from = feeder.fed
            await _until(lambda: feeder.fed > queued_from + 2000, 60, "a backlog")
        else:
            await asyncio.sleep(1.0)
        await asyncio.to_thread(broker.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(broker.start)
        if scenario == "backlog":
            await asyncio.sleep(1.0)
            collector.start()
        await asyncio.sleep(2.0)
        feeder.stop.set()
        await feeding
        await gateway.flush(everything=True)
        await _until(lambda: gateway.spool.stats().depth == 0, 120, "the spool to drain")
        if delete_on == "puback":
            assert 0 < await _settle(stored) < feeder.fed, "the control run loses the backlog the broker held"
            return
        await _until(lambda: stored() >= feeder.fed, 60, f"{feeder.fed} readings")
        await asyncio.sleep(1.0)  # anything arriving now would be a duplicate
        assert stored() == feeder.fed, "stored = published"
        repeated = (
            "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY point_id, time HAVING count(*) > 1) x"
        )
        assert scalar(dsn, repeated) == 0, "no reading stored twice"
        next_seq = gateway.spool.stats().next_seq
        assert scalar(dsn, "SELECT count(*) FROM envelopes WHERE gw = 'gw1'") == next_seq, "no seq missing"
        assert scalar(dsn, "SELECT count(*) FROM dead_letters") == 0
        assert gateway.publisher is not None and gateway.publisher.stored == next_seq - 1
    finally:
        feeder.stop.set()
        if feeding is not None:
            await asyncio.gather(feeding, return_exceptions=True)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        collector.stop()
        print(collector.output()[-3000:])


async def _settle(count: Callable[[], int], quiet_s: float = 3.0, limit_s: float = 60.0) -> int:
    """The count once it has not changed for `quiet_s`."""
    deadline = time.monotonic() + limit_s
    value, since = count(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now_value = count()
        if now_value != value:
            value, since = now_value, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return value
    raise AssertionError(f"still changing after {limit_s} s")


async def test_envelopes_the_spool_dropped_are_declared_and_the_watermark_passes_them(
    tmp_path: Path,
    mosquitto_factory: Callable[..., MosquittoServer],
    postgres_factory: Callable[..., PostgresServer],
) -> None:
    broker, pg = mosquitto_factory(), postgres_factory()
    dsn = pg.create_database()
    migrate(dsn)
    collector = Collector(
        collector_config(tmp_path / "c.yaml", dsn, broker.host, broker.port), tmp_path / "c.log"
    )
    devices = [modbus_device(d, port=1502, edge={"default": {"max_silence_s": 3600}}) for d in DEVICES]
    cfg = write_config(
        tmp_path, broker.url, devices, spool={"max_bytes": 65536}, batch={"max_samples": 50, "max_age_s": 0.1}
    )
    gateway = Gateway(load_config(cfg), connect_devices=False)
    collector.start()
    task = asyncio.create_task(gateway.run())
    feeder = Feeder(gateway)
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        await asyncio.wait_for(gateway.client.connected.wait(), 30)
        await _until(lambda: "MQTT connected" in collector.output(), 60, "the collector's subscription")
        feeding = asyncio.create_task(feeder.run())
        await asyncio.sleep(1.0)
        # the broker away: what the spool drops now reaches no one, ever
        await asyncio.to_thread(broker.stop)
        await _until(lambda: gateway.spool.stats().dropped > 100, 60, "drops")
        await asyncio.to_thread(broker.start)
        await asyncio.sleep(1.0)
        feeder.stop.set()
        await feeding
        await gateway.flush(everything=True)
        await _until(lambda: gateway.spool.stats().depth == 0, 120, "the watermark to pass the dropped seqs")
        stats = gateway.spool.stats()
        # a dropped envelope may have reached the broker before it left the spool: stored all the same
        assert stats.dropped_through > 0
        after = scalar(
            dsn, f"SELECT count(*) FROM envelopes WHERE gw = 'gw1' AND seq > {stats.dropped_through}"
        )
        assert after == stats.next_seq - 1 - stats.dropped_through, "every envelope the spool kept is stored"
        everything = scalar(dsn, "SELECT count(*) FROM envelopes WHERE gw = 'gw1'")
        assert stats.next_seq - stats.dropped <= everything < stats.next_seq, "what is missing was dropped"
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT stored, dropped_through, dropped_count FROM ack_watermarks WHERE gw = 'gw1'"
            ).fetchone()
        assert row == (stats.next_seq - 1, stats.dropped_through, stats.dropped)
        assert gateway.metrics.stored_seq._value.get() == stats.next_seq - 1
        assert gateway.metrics.overflow_episodes._value.get() == 1
    finally:
        feeder.stop.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        collector.stop()


async def test_what_was_sent_before_any_collector_subscribed_is_sent_again_once_one_answers(
    tmp_path: Path,
    mosquitto_factory: Callable[..., MosquittoServer],
    postgres_factory: Callable[..., PostgresServer],
) -> None:
    broker, pg = mosquitto_factory(), postgres_factory()
    dsn = pg.create_database()
    migrate(dsn)
    devices = [modbus_device(d, port=1502, edge={"default": {"max_silence_s": 3600}}) for d in DEVICES]
    cfg = write_config(tmp_path, broker.url, devices, spool={"resend_after_s": 2.0})
    gateway = Gateway(load_config(cfg), connect_devices=False)
    task = asyncio.create_task(gateway.run())
    collector = Collector(
        collector_config(tmp_path / "c.yaml", dsn, broker.host, broker.port), tmp_path / "c.log"
    )
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        await asyncio.wait_for(gateway.client.connected.wait(), 30)
        for i in range(200):  # published, acknowledged by the broker, and received by no one
            await gateway.ingest("m1", [RawReading(POINTS[0], time.time_ns(), float(i))])
        await gateway.flush(everything=True)
        await _until(lambda: gateway.publisher is not None and gateway.publisher.published > 0, 30, "PUBACKs")
        collector.start()  # a collector that never saw those: it answers with the retained birth only
        await _until(lambda: gateway.spool.stats().depth == 0, 120, "the resend")
        # stored at all only because the gateway sent them again once the collector answered
        assert scalar(dsn, "SELECT count(*) FROM readings") == 200
        assert gateway.publisher is not None and gateway.publisher.resends >= 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        collector.stop()
