"""The fault matrix, each during a steady run of real processes — a gateway reading a Modbus
simulator, Mosquitto (persistence on, nothing saved since it started), a collector, PostgreSQL:
broker kill -9, collector kill -9, gateway kill -9, PostgreSQL stopped for an outage, and all four
at once. Afterwards, with exact counts: every envelope the gateway numbered is in the ledger once
(no seq missing, none twice), every one whole, no reading stored twice, no dead letter, and the
gateway's spool is empty — each envelope confirmed stored by the `$stored` watermark.

PLANTPROOF_PG_OUTAGE_S sets the PostgreSQL outage (default 10 s; the acceptance run uses 120).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from collector.migrate import migrate
from simulators.servers.modbus import SimModbusServer
from tests.collector.mqttutil import scalar
from tests.gateway.helpers import RampSource, modbus_device, write_config
from tests.processes import Collector, GatewayProcess, collector_config
from tests.servers import MosquittoServer, PostgresServer

OUTAGE_S = float(os.environ.get("PLANTPROOF_PG_OUTAGE_S", "10"))
STEADY_S = 4.0
NO_AUTOSAVE = "autosave_interval 3600\n"


def _spool(path: Path) -> tuple[int, int, int]:
    """(entries held, next seq, envelopes dropped) of a gateway's spool, read beside the gateway."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        held = int(db.execute("SELECT count(*) FROM entries").fetchone()[0])
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    return held, int(meta["next_seq"]), int(meta["dropped"])


class _Quiet:
    """The spool empty, and nothing numbered for two seconds: the gateway has nothing left to send."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = (-1, time.monotonic())

    def drained(self) -> bool:
        held, next_seq, _ = _spool(self.path)
        if next_seq != self.seen[0]:
            self.seen = (next_seq, time.monotonic())
        return held == 0 and time.monotonic() - self.seen[1] >= 2.0


async def _until(check: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s} s waiting for {what}")
        await asyncio.sleep(0.25)


@pytest.mark.parametrize("fault", ["broker", "collector", "gateway", "postgres", "all"])
async def test_fault_matrix(
    tmp_path: Path,
    mosquitto_factory: Callable[..., MosquittoServer],
    postgres_factory: Callable[..., PostgresServer],
    fault: str,
) -> None:
    broker, pg = mosquitto_factory(extra_conf=NO_AUTOSAVE), postgres_factory()
    dsn = pg.create_database()
    migrate(dsn)
    sim = SimModbusServer(RampSource({"k1": 1, "k2": 2}), port=0)
    await sim.start()
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    quiet = {"default": {"max_silence_s": 3600}}
    devices = [modbus_device(d, sim.port, u, interval=0.05, edge=quiet) for d, u in (("k1", 1), ("k2", 2))]
    config = write_config(
        tmp_path, broker.url, devices, gateway_id=gw, link_lost_after_s=3600,
        batch={"max_samples": 20, "max_age_s": 0.1}, spool={"resend_after_s": 2.0},
    )  # fmt: skip
    spool = tmp_path / "spool.db"
    gateway = GatewayProcess(config, tmp_path / "gateway.log")
    collector = Collector(
        collector_config(tmp_path / "c.yaml", dsn, broker.host, broker.port), tmp_path / "c.log"
    )
    envelopes = lambda: scalar(dsn, f"SELECT count(*) FROM envelopes WHERE gw = '{gw}'")  # noqa: E731
    try:
        collector.start()
        gateway.start()
        await _until(lambda: envelopes() > 20, 60, "a steady run")
        await asyncio.sleep(STEADY_S)
        before = envelopes()
        if fault in ("broker", "all"):
            await asyncio.to_thread(broker.kill)
        if fault in ("collector", "all"):
            collector.kill()
        if fault in ("gateway", "all"):
            gateway.kill()
        if fault in ("postgres", "all"):
            await asyncio.to_thread(pg.kill if fault == "all" else pg.stop)
        await asyncio.sleep(OUTAGE_S if fault == "postgres" else 1.0)
        if fault == "all":
            collector.start()  # first, while the database is still down: it waits for it
            await asyncio.sleep(2.0)
        if fault in ("postgres", "all"):
            await asyncio.to_thread(pg.start)
        if fault in ("broker", "all"):
            await asyncio.to_thread(broker.start)
        if fault == "collector":
            collector.start()
        if fault in ("gateway", "all"):
            gateway.start()
        await _until(lambda: envelopes() > before + 20, 120, "the steady run to resume")
        await asyncio.sleep(STEADY_S)
        await sim.stop()  # no more readings: the gateway's last envelopes drain
        quiet = _Quiet(spool)
        await _until(quiet.drained, 120, "every envelope confirmed by the watermark")
        assert gateway.alive() and collector.alive()
        held, next_seq, dropped = _spool(spool)
        assert (held, dropped) == (0, 0)
        with psycopg.connect(dsn) as conn:
            count, lo, hi = conn.execute(
                "SELECT count(*), min(seq), max(seq) FROM envelopes WHERE gw = %s", (gw,)
            ).fetchone()  # type: ignore[misc]
            assert (count, lo, hi) == (next_seq, 0, next_seq - 1), "every numbered envelope once, no gap"
            partial = conn.execute(
                "SELECT count(*) FROM envelopes e WHERE kind = 'data' AND n <>"
                " (SELECT count(*) FROM readings r WHERE r.envelope_id = e.envelope_id)"
            ).fetchone()
            assert partial == (0,), "every envelope stored whole"
            twice = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY point_id, time HAVING count(*) > 1) x"
            ).fetchone()
            assert twice == (0,), "no reading stored twice"
            rows, samples = conn.execute(
                "SELECT (SELECT count(*) FROM readings), (SELECT sum(n) FROM envelopes WHERE kind = 'data')"
            ).fetchone()  # type: ignore[misc]
            assert rows == samples and rows > 0
            assert conn.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)
        print(f"{fault}: {next_seq} envelopes, {rows} readings stored exactly once; no gap, no duplicate")
        if fault == "all":
            log = collector.output()
            assert "not reachable (attempt 1)" in log and "reachable after" in log, (
                "it waited for its database"
            )
    finally:
        gateway.stop()
        collector.stop()
        await sim.stop()
        print(collector.output()[-2000:])
        print(gateway.output()[-2000:])
