"""Faults on the Sparkplug path, during a steady run of real processes — a gateway process as a
Sparkplug edge node reading a Modbus simulator, Mosquitto, the collector process as a Sparkplug host,
PostgreSQL: the broker restarted, the broker killed with kill -9 (nothing saved since it started),
the collector killed with kill -9; each started again. Afterwards, with exact counts: every sample
the broker acknowledged to the gateway (its `points_published`) is a reading, none twice, no dead
letter, and the gateway's spool is empty.

Sparkplug has no end-to-end acknowledgement (the gateway's spool lets go of a message at PUBACK), so
what the broker holds must survive: the restart is graceful (Mosquitto saves its persistence file)
and the collector's session persists. In the broker's cases the collector is the gateway's primary
host (its STATE), so the gateway publishes only while the collector is up, as the README recommends.
Killed, the broker loses the collector's session and the retained STATE: the collector subscribes
and announces itself again, the gateway (whose unacknowledged messages stay in its spool) waits
for that STATE, then begins a new session and sends them. Killed, the collector resumes each edge
node's session from PostgreSQL (bdSeq, seq, the BIRTHs' alias tables), so the DDATA its MQTT
session held are read, not dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.request
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
from tests.servers import MosquittoServer, PostgresServer, free_port
from tests.test_fault_matrix import NO_AUTOSAVE, STEADY_S, _Quiet, _spool, _until

PUBLISHED = re.compile(r'^plantproof_gateway_points_published_total\{device="[^"]+"\} (\S+)$', re.M)


def _published(port: int) -> int:
    """Samples the broker acknowledged to the gateway, from its metrics endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return int(sum(float(v) for v in PUBLISHED.findall(text)))


@pytest.mark.parametrize("fault", ["broker", "broker-kill", "collector", "collector-primary"])
async def test_a_fault_on_the_sparkplug_path_loses_nothing_and_stores_nothing_twice(
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
    tag = uuid.uuid4().hex[:6]
    group, edge, host, metrics_port = f"plant{tag}", f"gw-{tag}", f"scada-{tag}", free_port()
    quiet = {"default": {"max_silence_s": 3600}}
    # The broker's cases with the collector as primary host. The collector's case without: the gateway
    # keeps publishing while the collector is down, so its session surely holds DDATA on restart; and
    # with: the collector's Will (STATE offline) ends the gateway's session, its data waits in the
    # spool until the collector is back and then goes out in a new session, flagged historical.
    primary = {"primary_host_id": host} if fault != "collector" else {}
    devices = [modbus_device(d, sim.port, u, interval=0.05, edge=quiet) for d, u in (("k1", 1), ("k2", 2))]
    config = write_config(
        tmp_path, broker.url, devices, gateway_id=edge, link_lost_after_s=3600,
        mqtt={"format": "sparkplug"}, sparkplug={"group_id": group, **primary},
        batch={"max_samples": 20, "max_age_s": 0.1}, metrics={"port": metrics_port},
    )  # fmt: skip
    gateway = GatewayProcess(config, tmp_path / "gateway.log")
    collector = Collector(
        collector_config(
            tmp_path / "c.yaml",
            dsn,
            broker.host,
            broker.port,
            mqtt={"sources": ["pp_v1", "sparkplug"]},
            sparkplug={"host_id": host},
        ),
        tmp_path / "c.log",
    )
    readings = (
        "SELECT count(*) FROM (SELECT point_id FROM readings UNION ALL SELECT point_id FROM readings_text)"
        f" r JOIN points USING (point_id) JOIN devices d USING (device_id) WHERE d.site = '{group}'"
    )
    stored = lambda: scalar(dsn, readings)  # noqa: E731
    try:
        collector.start()
        await _until(lambda: "MQTT connected" in collector.output(), 60, "the collector's connection")
        await asyncio.sleep(1.0)  # its subscription: the gateway's first births reach it
        gateway.start()
        await _until(lambda: stored() > 200, 60, "a steady run")
        await asyncio.sleep(STEADY_S)
        before = stored()
        if fault == "broker":
            await asyncio.to_thread(broker.stop)  # graceful: what it acknowledged is saved
        elif fault == "broker-kill":
            await asyncio.to_thread(broker.kill)
        else:
            collector.kill()
        await asyncio.sleep(1.0)
        if fault.startswith("collector"):
            collector.start()
        else:
            await asyncio.to_thread(broker.start)
        await _until(lambda: stored() > before + 200, 120, "the steady run to resume")
        await asyncio.sleep(STEADY_S)
        await sim.stop()  # no more readings: the gateway's last messages drain
        drained = _Quiet(tmp_path / "spool.db")
        await _until(drained.drained, 120, "the spool to empty")
        published = _published(metrics_port)
        with contextlib.suppress(AssertionError):  # what is missing is named below
            await _until(lambda: stored() >= published, 30, "every published sample")
        await asyncio.sleep(1.0)  # nothing more arrives
        assert gateway.alive() and collector.alive()
        held, _next_seq, dropped = _spool(tmp_path / "spool.db")
        assert (held, dropped) == (0, 0)
        with psycopg.connect(dsn) as conn:
            letters = conn.execute("SELECT error FROM dead_letters ORDER BY id").fetchall()
            got = (len(letters), stored())
            assert got == (0, published) and published > 0, (got, published, letters[:2])
            twice = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY point_id, time HAVING count(*) > 1) x"
            ).fetchone()
            assert twice == (0,), "no reading stored twice"
            births = conn.execute(
                "SELECT count(*) FROM sparkplug_messages WHERE message_type = 'NBIRTH'"
            ).fetchone()
        print(f"{fault}: {published} samples published, each stored once; NBIRTHs {births}")
        if fault == "collector":
            assert births == (1,), "the restored session read on: no rebirth asked for"
        if fault == "collector-primary":
            assert births == (2,) and "offline: ending the session (NDEATH)" in gateway.output()
    finally:
        gateway.stop()
        collector.stop()
        await sim.stop()
        print(collector.output()[-2000:])
        print(gateway.output()[-2000:])
