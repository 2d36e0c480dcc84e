"""A steady machine stays connected and `running`: real asyncua (subscription and poll) and pymodbus
servers serving values that never change, the gateway, a real Mosquitto, the collector, PostgreSQL.

A subscription notifies nothing and a poll returns the same source timestamp for an unchanged value,
so only the gateway-clock heartbeat keeps the state timeline free of `no_data`. While a server is
down no sample is fabricated; a gateway restart never re-sends an old source timestamp (no duplicate
(point, time) row). `PLANTPROOF_STEADY_S` / `PLANTPROOF_STEADY_SILENCE_S` stretch the run into a soak,
e.g. two hours at the default 60 s heartbeat (the claim's default 600 s timeout):

    PLANTPROOF_STEADY_S=7200 PLANTPROOF_STEADY_SILENCE_S=60 pytest -o timeout=9000 tests/test_e2e_steady.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from collector.figures import queries
from collector.figures.compute import Parameters
from collector.figures.window import Window
from collector.ingest import Pipeline
from collector.kpi.claims import Period, Points
from collector.kpi.load import DeviceRow, connect, load_period
from collector.kpi.timemodel import build_timeline, sanitize_codes
from collector.migrate import migrate
from collector.settings import load_settings
from gateway.config import load_config
from gateway.runner import Gateway
from simulators.servers.modbus import SimModbusServer
from simulators.servers.opcua import SimOpcUaServer
from tests.gateway.helpers import CNC, StaticDevice, write_config
from tests.servers import MosquittoServer
from wire.states import STATE_CODES

STEADY_S = float(os.environ.get("PLANTPROOF_STEADY_S", "6"))
SILENCE_S = float(os.environ.get("PLANTPROOF_STEADY_SILENCE_S", "1"))
TIMEOUT_S = 10 * SILENCE_S  # the claim's heartbeat timeout: a state sample holds this long
DEVICES = ("opc-sub", "opc-poll", "mb-1")


class SteadySource:
    """A machine running in one state for ever: every value constant, counters included."""

    def __init__(self) -> None:
        from devicemodel.loader import load_device_type

        dt_ = load_device_type(CNC)
        self.devices = [StaticDevice(d, dt_, i + 1) for i, d in enumerate(DEVICES)]

    def values_at(self, device_id: str, t_ns: int) -> dict[str, Any]:
        return {
            "state": "running",
            "parts_total": 123_456,
            "parts_good": 120_000,
            "energy": 4321.5,
            "spindle_speed": 8000.0,
            "spindle_temp": 45.0,
            "door_open": False,
            "alarm_active": False,
            "feed_override": 100,
        }


def _devices(opc_url: str, mb_port: int, pki: Path) -> list[dict[str, Any]]:
    group = [{"name": "all", "interval": 0.2, "points": "all"}]
    edge = {"default": {"max_silence_s": SILENCE_S}}
    opc = {"url": opc_url, "cert_dir": str(pki), "backoff_max": 1.0, "timeout": 2.0}
    mb = {"host": "127.0.0.1", "port": mb_port, "unit_id": 3, "timeout": 1.0, "backoff_max": 1.0}
    common = {"type": "cnc_machine.yaml", "scan_groups": group, "edge": edge}
    return [
        {"id": "opc-sub", "protocol": "opcua", "endpoint": {**opc, "mode": "subscribe"}, **common},
        {"id": "opc-poll", "protocol": "opcua", "endpoint": {**opc, "mode": "poll"}, **common},
        {"id": "mb-1", "protocol": "modbus", "endpoint": mb, **common},
    ]


async def _collector(dsn: str, broker: MosquittoServer, stop: asyncio.Event) -> asyncio.Task[None]:
    settings = load_settings(
        None,
        dsn=dsn,
        metrics_port=None,
        mqtt={"url": broker.url, "client_id": f"steady-{uuid.uuid4().hex[:8]}"},
        batch={"max_age_ms": 50},
    )
    pipeline = Pipeline(settings)
    task = asyncio.create_task(pipeline.run(stop))
    while pipeline.source is None:  # noqa: ASYNC110 - created by the running task
        await asyncio.sleep(0.05)
    await asyncio.wait_for(pipeline.source.connected.wait(), 30)
    return task


def _rows(dsn: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, args).fetchall()


def _state_samples(dsn: str, dev: str) -> list[tuple[int, float | None, int]]:
    rows = _rows(
        dsn,
        "SELECT (extract(epoch FROM r.time) * 1e6)::bigint * 1000, r.value, r.quality FROM readings r"
        " JOIN points p USING (point_id) JOIN devices d USING (device_id)"
        " WHERE d.dev = %s AND p.name = 'state' ORDER BY r.time",
        dev,
    )
    return [(int(t), v, int(q)) for t, v, q in rows]


async def _wait_stored(dsn: str, until_ns: int, timeout_s: float = 60) -> None:
    """Until every device has a state sample at or after `until_ns` in the database."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = [max((t for t, _, _ in _state_samples(dsn, d)), default=0) for d in DEVICES]
        if min(last) >= until_ns:
            return
        assert time.monotonic() < deadline, f"not stored in time: {dict(zip(DEVICES, last, strict=True))}"
        await asyncio.sleep(0.2)


@pytest.fixture()
async def servers() -> AsyncIterator[tuple[SimOpcUaServer, SimModbusServer]]:
    source = SteadySource()
    opc = SimOpcUaServer(source, port=0, devices=["opc-sub", "opc-poll"])
    mb = SimModbusServer(source, port=0, devices=["mb-1"])
    await opc.start()
    await mb.start()
    yield opc, mb
    await opc.close()
    await mb.stop()


def _running_seconds(dsn: str, until_ns: int) -> dict[str, float]:
    """Seconds each device was `running` by the KPI engine's state timeline, from its samples up to
    `until_ns` (each holds until the next, at most the heartbeat timeout)."""
    start = dt.datetime.fromtimestamp(until_ns / 1e9 - STEADY_S - 60, dt.UTC).date()
    end = dt.datetime.fromtimestamp(until_ns / 1e9, dt.UTC).date()
    with connect(dsn) as conn:
        rows = conn.execute("SELECT device_id, site || '/' || dev, dev FROM devices ORDER BY dev").fetchall()
        devices = [DeviceRow(int(r[0]), str(r[1]), None) for r in rows]
        data = load_period(conn, devices, Points(), Period(start=start, end=end), TIMEOUT_S)
    s = data.state
    keep = s.t <= until_ns
    timeline = build_timeline(
        s.dev[keep],
        s.t[keep],
        sanitize_codes(s.value[keep], s.quality[keep]),
        n_devices=len(devices),
        start=data.start_ns,
        end=data.end_ns,
        timeout_ns=int(TIMEOUT_S * 1e9),
    )
    running = timeline.seconds[:, :, STATE_CODES["running"]].sum(axis=1)
    return {str(r[2]): float(running[i]) for i, r in enumerate(rows)}


async def test_a_steady_machine_stays_connected_and_running(
    tmp_path: Path,
    pg_server: Any,
    mosquitto_factory: Any,
    servers: tuple[SimOpcUaServer, SimModbusServer],
) -> None:
    opc, mb = servers
    broker: MosquittoServer = mosquitto_factory()
    dsn = pg_server.create_database()
    migrate(dsn)
    stop = asyncio.Event()
    collector = await _collector(dsn, broker, stop)
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    config = load_config(
        write_config(tmp_path, broker.url, _devices(opc.endpoint, mb.port, tmp_path / "pki"), gateway_id=gw)
    )

    async def run_gateway() -> tuple[Gateway, asyncio.Task[None]]:
        gateway = Gateway(config)
        task = asyncio.create_task(gateway.run())
        await asyncio.wait_for(gateway.started.wait(), 30)
        return gateway, task

    _gateway, task = await run_gateway()
    try:
        t0 = time.time_ns()
        await _wait_stored(dsn, t0)
        await asyncio.sleep(STEADY_S)
        steady_end = time.time_ns()
        await _wait_stored(dsn, steady_end)
        # 1. steady: running without a gap from each device's first sample on
        for dev, running in _running_seconds(dsn, steady_end).items():
            first = _state_samples(dsn, dev)[0][0]
            assert running >= (steady_end - first) / 1e9 - 1e-3, (dev, running, (steady_end - first) / 1e9)
        for dev in DEVICES:
            samples = [s for s in _state_samples(dsn, dev) if s[0] <= steady_end]
            assert len(samples) >= 2 and all(v == STATE_CODES["running"] and q == 0 for _, v, q in samples)

        # 2. both servers down: no sample is fabricated between the link-loss marker and the restart
        await opc.stop()
        await mb.stop()
        down_at = time.time_ns()
        await asyncio.sleep(4 * SILENCE_S + 3)
        restarted = time.time_ns()
        await opc.start()
        await mb.start()
        await _wait_stored(dsn, restarted)
        for dev in DEVICES:
            samples = _state_samples(dsn, dev)
            marker = next(t for t, _, q in samples if q == 2 and t >= down_at - 10**9 * 3)
            fabricated = [t for t, _, q in samples if marker < t < restarted and q < 2]
            assert not fabricated, (dev, marker, fabricated)

        # 3. a gateway restart re-publishes the unchanged values as fresh observations, never again
        # with their old source timestamps
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        _gateway, task = await run_gateway()
        again = time.time_ns()
        await _wait_stored(dsn, again)
        duplicates = _rows(
            dsn, "SELECT point_id, time, count(*) FROM readings GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 5"
        )
        assert duplicates == []
        online = _rows(dsn, "SELECT dev FROM devices WHERE online ORDER BY dev")
        assert sorted(r[0] for r in online) == sorted(DEVICES)
        today = dt.datetime.now(dt.UTC).date()
        window = Window(today, today + dt.timedelta(days=1))
        figures, _ = queries.figures(dsn, Parameters(window, dt.datetime.now(dt.UTC), 0.5, False))
        assert figures.connected_equipment.any_day.value == len(DEVICES)
        stamps = np.array([t for t, _, _ in _state_samples(dsn, "opc-sub")])
        assert np.all(np.diff(stamps) > 0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        stop.set()
        await asyncio.wait_for(collector, 30)
