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
