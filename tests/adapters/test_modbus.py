"""Modbus TCP connection against a real pymodbus server: values, writes, outages, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters import registry
from adapters.base import QUALITY_BAD, Connection
from adapters.errors import ConfigError, DeviceRejected, DeviceUnavailable
from adapters.modbus import ModbusEndpoint
from tests.adapters.devices import (
    ALL_DTYPES,
    CNC,
    BlackholeServer,
    ModbusTestServer,
    Recorder,
    device_type,
    eventually,
    instance,
    same,
)

CNC_DT = device_type(CNC)
ALL_DT = device_type(ALL_DTYPES)


def connect(dev_id: str, port: int, unit: int, dt: Any, interval_s: float = 0.1, **ep: Any) -> Connection:
    info = registry.get("modbus")
    endpoint = info.endpoint_model.model_validate({"host": "127.0.0.1", "port": port, "unit_id": unit, **ep})
    return info.factory(instance(dev_id, dt, endpoint, interval_s))


@contextlib.asynccontextmanager
async def running(conn: Connection, sink: Recorder) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(conn.run(sink))
    try:
        yield task
    finally:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)  # a stuck task fails the test, with its stack
        if not done:
            task.print_stack()
            raise AssertionError(f"{conn.device.id}: the connection task ignored its cancellation for 10 s")
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.wait_for(conn.close(), 10)


@pytest.fixture()
async def server() -> AsyncIterator[ModbusTestServer]:
    srv = ModbusTestServer({1: CNC_DT, 2: ALL_DT})
    await srv.start()
    yield srv
    await srv.stop()


def after(mark: int) -> Callable[[Recorder], bool]:
    """Predicate: a complete good batch arrived after the first `mark` batches."""
    return lambda rec: any(all(r.quality == 0 for r in b) for _, b in rec.batches[mark:])


async def test_values_equal_server_for_every_dtype_and_order(server: ModbusTestServer) -> None:
    rng = random.Random(7)
    cnc, alld = Recorder(), Recorder()
    c1 = connect("cnc-1", server.port, 1, CNC_DT)
    c2 = connect("dev-2", server.port, 2, ALL_DT)
    async with running(c1, cnc), running(c2, alld):
        for _round in range(3):  # several random fills: every value must follow the server
            truth1 = await server.fill_random(1, rng)
            truth2 = await server.fill_random(2, rng)
            m1, m2 = len(cnc.batches), len(alld.batches)
            await cnc.wait_for(after(m1))
            await alld.wait_for(after(m2))
            for rec, truth, mark in ((cnc, truth1, m1), (alld, truth2, m2)):
                batch = next(b for _, b in rec.batches[mark:] if all(r.quality == 0 for r in b))
                got = {r.point: r.value for r in batch}
                assert set(got) == set(truth)
                wrong = {k: (got[k], v) for k, v in truth.items() if not same(got[k], v)}
                assert not wrong
        assert c1.status.connected and not c1.status.stale
        assert c2.status.reads > 0 and c2.status.requests >= 8 * c2.status.reads  # 8 reads per cycle
        assert c2.status.read_errors == 0 and c2.status.reconnects == 0


async def test_coalescing_reduces_requests(server: ModbusTestServer) -> None:
    merged = connect("a", server.port, 2, ALL_DT)
    single = connect("b", server.port, 2, ALL_DT, per_point_requests=True)
    assert single.requests_per_cycle() == len(ALL_DT.points)
    assert merged.requests_per_cycle() == 8
    # Both plans read the same values.
    await server.fill_random(2, random.Random(3))
    names = [p.name for p in ALL_DT.points]
    a, b = await merged.read_once(names), await single.read_once(names)
    assert [(r.point, r.value) for r in sorted(a, key=lambda r: r.point)] == [
        (r.point, r.value) for r in sorted(b, key=lambda r: r.point)
    ]
    assert merged.status.requests == 8 and single.status.requests == len(names)
    await merged.close()
    await single.close()


async def test_writes_setpoints_coils_and_bits(server: ModbusTestServer) -> None:
    conn = connect("dev-2", server.port, 2, ALL_DT)
    await server.set_raw(2, "fault_bit", True)
    await conn.write("u16", 4321)
    await conn.write("i64_dcba", -(2**62) + 5)
    await conn.write("f32_dcba", 12.5)
    await conn.write("run_bit", True)
    await conn.write("pump_on", True)
    await conn.write("valve_open", True)
    await conn.write("valve_open", False)
    assert await server.get_raw(2, "u16") == 4321
    assert await server.get_raw(2, "i64_dcba") == -(2**62) + 5
    assert await server.get_raw(2, "f32_dcba") == 12.5
    assert await server.get_raw(2, "run_bit") is True
    assert await server.get_raw(2, "fault_bit") is True  # read-modify-write kept the other bit
    await conn.write("run_bit", False)
    assert await server.get_raw(2, "run_bit") is False
    assert await server.get_raw(2, "fault_bit") is True
    assert await server.get_raw(2, "pump_on") is True
    assert await server.get_raw(2, "valve_open") is False
    got = {r.point: r.value for r in await conn.read_once(["u16", "run_bit", "pump_on", "f32_dcba"])}
    assert got == {"u16": 4321, "run_bit": False, "pump_on": True, "f32_dcba": 12.5}
    with pytest.raises(ConfigError, match="not writable"):
        await conn.write("i16", 1)
    with pytest.raises(ConfigError, match="no modbus point"):
        await conn.write("nope", 1)
    await conn.close()


async def test_unmapped_address_costs_only_its_point() -> None:
    srv = ModbusTestServer({2: ALL_DT}, registers=100)  # far_u16 at 500 does not exist
    await srv.start()
    try:
        truth = await _fill_within(srv, 2)
        conn = connect("dev-2", srv.port, 2, ALL_DT)
        got = {r.point: r for r in await conn.read_once([p.name for p in ALL_DT.points])}
        assert got["far_u16"].quality == QUALITY_BAD and got["far_u16"].value is None
        assert all(same(got[k].value, v) and got[k].quality == 0 for k, v in truth.items())
        await conn.close()
    finally:
        await srv.stop()


async def _fill_within(srv: ModbusTestServer, unit: int) -> dict[str, Any]:
    from tests.adapters.devices import random_raw

    rng = random.Random(11)
    for p in ALL_DT.points:
        if p.name != "far_u16":
            await srv.set_raw(unit, p.name, random_raw(p, rng))
    return {p.name: await srv.get_raw(unit, p.name) for p in ALL_DT.points if p.name != "far_u16"}


async def test_dead_units_do_not_slow_a_healthy_device() -> None:
    healthy_srv, victim_srv, hole = (
        ModbusTestServer({1: CNC_DT}),
        ModbusTestServer({1: CNC_DT}),
        BlackholeServer(),
    )
    await healthy_srv.start()
    await victim_srv.start()
    await hole.start()
    healthy, victim, silent = Recorder(), Recorder(), Recorder()
    h = connect("healthy", healthy_srv.port, 1, CNC_DT, interval_s=0.05)
    v = connect("victim", victim_srv.port, 1, CNC_DT, interval_s=0.05, timeout=0.3, backoff_initial=0.2)
    s = connect("silent", hole.port, 1, CNC_DT, interval_s=0.05, timeout=0.3, backoff_initial=0.2)
    try:
        async with running(h, healthy), running(v, victim):
            await healthy.wait_for(lambda r: len(r.batches) >= 5)
            await victim.wait_for(lambda r: len(r.batches) >= 5)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await asyncio.sleep(2.0)
            baseline = healthy.good_batches_between(t0, loop.time()) / (loop.time() - t0)
            # Outage: one server stops, one unit accepts connections but never answers.
            await victim_srv.stop()
            async with running(s, silent):
                await victim.wait_for(
                    lambda r: any(x.quality == QUALITY_BAD for _, b in r.batches for x in b)
                )
                await eventually(lambda: s.status.read_errors >= 1, what="the silent unit to time out")
                t1 = loop.time()
                await asyncio.sleep(2.0)
                during = healthy.good_batches_between(t1, loop.time()) / (loop.time() - t1)
                assert s.status.read_errors >= 2 and v.status.read_errors >= 2
            print(f"healthy device: {baseline:.1f} reads/s before, {during:.1f} reads/s during the outage")
            # A healthy device waiting on the dead units' 0.3 s timeouts would fall from ~20 to ~3 reads/s;
            # the margin leaves room for a loaded machine without letting that through.
            assert during >= 0.4 * baseline, (baseline, during)
            assert v.status.stale and s.status.stale
            # The victim comes back on its own, without recreating the connection.
            await victim_srv.start()
            mark = len(victim.batches)
            await victim.wait_for(after(mark), within=30)
            assert not v.status.stale
    finally:
        await healthy_srv.stop()
        await victim_srv.stop()
        await hole.stop()


async def test_transaction_id_mismatch_reconnects() -> None:
    sent = {"n": 0}

    def corrupt(sending: bool, data: bytes) -> bytes:
        if sending:
            sent["n"] += 1
            if sent["n"] == 5:  # the fifth answer comes back under another transaction id
                return bytes([data[0] ^ 0x55, data[1] ^ 0xAA]) + data[2:]
        return data

    srv = ModbusTestServer({1: CNC_DT}, trace_packet=corrupt)
    await srv.start()
    rec = Recorder()
    conn = connect("cnc", srv.port, 1, CNC_DT, interval_s=0.05, timeout=0.5, backoff_initial=0.1)
    try:
        async with running(conn, rec):
            await rec.wait_for(lambda r: conn.status.reconnects >= 1 and after(0)(r) and sent["n"] > 8)
            truth = await srv.fill_random(1, random.Random(5))
            mark = len(rec.batches)
            await rec.wait_for(after(mark))
            latest = rec.latest()
            assert all(same(latest[k].value, v) for k, v in truth.items())
        assert conn.status.read_errors >= 1
    finally:
        await srv.stop()


async def test_unavailable_device_raises_on_demand() -> None:
    hole = ModbusTestServer({1: CNC_DT})  # never started: connection refused
    conn = connect("x", hole.port, 1, CNC_DT, timeout=0.3)
    with pytest.raises(DeviceUnavailable):
        await conn.read_once(["state"])
    with pytest.raises(DeviceUnavailable):
        await conn.write("feed_override", 3)
    await conn.close()


def test_registry_and_endpoint_validation() -> None:
    info = registry.get("modbus")
    assert info.endpoint_model is ModbusEndpoint
    with pytest.raises(ValueError, match="needs 'host'"):
        ModbusEndpoint.model_validate({"port": 502})
    with pytest.raises(ValueError, match="serial_port"):
        ModbusEndpoint.model_validate({"transport": "rtu"})
    ep = ModbusEndpoint(host="h")
    with pytest.raises(ConfigError, match="not a point with a modbus address"):
        info.factory(instance("d", CNC_DT, ep, points=["state", "missing"]))


async def test_rtu_bus_backs_off_a_silent_unit() -> None:
    """Three units on one RTU line (RTU framing through a pyserial socket:// port): unit 3 never
    answers; it is backed off, so units 1 and 2 keep most of their bus time."""
    silent = {"on": False}

    def drop_unit_3(sending: bool, data: bytes) -> bytes:
        return b"" if sending and silent["on"] and data[:1] == b"\x03" else data

    srv = ModbusTestServer({1: CNC_DT, 2: CNC_DT, 3: CNC_DT}, rtu=True, trace_packet=drop_unit_3)
    await srv.start()
    url = f"socket://127.0.0.1:{srv.port}"
    recs = [Recorder() for _ in range(3)]
    conns = [
        connect(
            f"u{u}",
            502,
            u,
            CNC_DT,
            interval_s=0.05,
            transport="rtu",
            serial_port=url,
            host=None,
            timeout=0.25,
            backoff_initial=0.5,
            backoff_max=2.0,
        )
        for u in (1, 2, 3)
    ]
    try:
        async with running(conns[0], recs[0]), running(conns[1], recs[1]), running(conns[2], recs[2]):
            truth = await srv.fill_random(2, random.Random(9))
            await recs[1].wait_for(after(0))
            assert all(same(recs[1].latest()[k].value, v) for k, v in truth.items())
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await asyncio.sleep(2.0)
            baseline = recs[0].good_batches_between(t0, loop.time()) / (loop.time() - t0)
            silent["on"] = True
            await eventually(lambda: conns[2].status.read_errors >= 1, what="unit 3 to time out")
            t1 = loop.time()
            errors_before = conns[2].status.read_errors
            await asyncio.sleep(3.0)
            during = recs[0].good_batches_between(t1, loop.time()) / (loop.time() - t1)
            # Without back-off unit 3 would take 0.25 s of the bus every 0.05 s cycle.
            assert conns[2].status.read_errors - errors_before <= 5
            print(f"RTU unit 1: {baseline:.1f} reads/s before, {during:.1f} reads/s with unit 3 silent")
            assert during >= 0.6 * baseline, (baseline, during)
            assert conns[0].status.reconnects == 0  # the bus itself stayed up
            silent["on"] = False
            mark = len(recs[2].batches)
            await recs[2].wait_for(after(mark), within=30)
    finally:
        await asyncio.wait_for(srv.stop(), 10)  # once this test hung for 300 s; fail fast and say where


async def test_write_refused_by_the_device() -> None:
    srv = ModbusTestServer({1: CNC_DT}, registers=8)  # feed_override (holding 10) does not exist
    await srv.start()
    conn = connect("cnc", srv.port, 1, CNC_DT)
    try:
        with pytest.raises(DeviceRejected, match="exception 2"):
            await conn.write("feed_override", 50)
        # The device is still reachable for everything else.
        assert (await conn.read_once(["state"]))[0].quality == 0
    finally:
        await conn.close()
        await srv.stop()


@pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat for a pseudo-terminal pair")
async def test_rtu_over_a_serial_line(tmp_path: Path) -> None:
    """RTU through a real serial device path (a pty pair made by socat), via pyserial."""
    from pymodbus.server import ModbusSerialServer

    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    socat = await asyncio.create_subprocess_exec(
        "socat",
        f"pty,raw,echo=0,link={a}",
        f"pty,raw,echo=0,link={b}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    server = None
    try:
        await eventually(lambda: a.exists() and b.exists(), within=10, what="socat's ptys")
        srv = ModbusTestServer({5: ALL_DT})
        server = ModbusSerialServer([srv._device(5)], port=str(a), baudrate=115200)
        await server.serve_forever(background=True)
        srv.server = server  # set_raw/get_raw use the serial server's datastore
        truth = await srv.fill_random(5, random.Random(12))
        conn = connect(
            "rtu-5", 502, 5, ALL_DT, transport="rtu", serial_port=str(b), host=None, baudrate=115200
        )
        got = {r.point: r for r in await conn.read_once([p.name for p in ALL_DT.points])}
        assert all(got[k].quality == 0 and same(got[k].value, v) for k, v in truth.items())
        await conn.write("run_bit", True)
        await conn.write("i64_dcba", 12345678901)
        assert await srv.get_raw(5, "run_bit") is True
        assert await srv.get_raw(5, "i64_dcba") == 12345678901
        await conn.close()
    finally:
        if server is not None:
            await server.shutdown()
        socat.terminate()
        await asyncio.wait_for(socat.wait(), 10)
