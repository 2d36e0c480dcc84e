"""OPC UA connection against a real asyncua server: values, timestamps, quality, restarts, limits."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import pytest
import pytest_asyncio
from asyncua import ua

from adapters import registry
from adapters.base import QUALITY_BAD, Connection
from adapters.errors import ConfigError
from adapters.opcua import OpcUaEndpoint
from tests.adapters.devices import (
    ALL_DTYPES,
    CNC,
    OpcUaTestServer,
    Recorder,
    device_type,
    eventually,
    instance,
    same,
)

CNC_DT = device_type(CNC)
ALL_DT = device_type(ALL_DTYPES)


def connect(dev_id: str, url: str, dt: Any, interval_s: float = 0.1, **ep: Any) -> Connection:
    info = registry.get("opcua")
    endpoint = info.endpoint_model.model_validate({"url": url, "timeout": 3.0, "backoff_initial": 0.2, **ep})
    return info.factory(instance(dev_id, dt, endpoint, interval_s))


@contextlib.asynccontextmanager
async def running(conn: Connection, sink: Recorder) -> AsyncIterator[None]:
    task = asyncio.create_task(conn.run(sink))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await conn.close()


# One server (and event loop) for the tests that do not stop it: starting asyncua takes seconds.
SHARED = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[OpcUaTestServer]:
    srv = OpcUaTestServer([("cnc-1", CNC_DT), ("dev-2", ALL_DT)], pad=1)
    await srv.start()
    yield srv
    await srv.stop()


def matches(rec: Recorder, truth: dict[str, Any]) -> bool:
    latest = rec.latest()
    return all(k in latest and latest[k].quality == 0 and same(latest[k].value, v) for k, v in truth.items())


@SHARED
async def test_values_timestamps_and_quality(server: OpcUaTestServer) -> None:
    rng = random.Random(1)
    cnc, alld = Recorder(), Recorder()
    c1 = connect("cnc-1", server.url, CNC_DT)
    c2 = connect("dev-2", server.url, ALL_DT)
    async with running(c1, cnc), running(c2, alld):
        for _ in range(2):
            t1 = await server.fill_random("cnc-1", CNC_DT, rng)
            t2 = await server.fill_random("dev-2", ALL_DT, rng)
            await cnc.wait_for(lambda r, t=t1: matches(r, t))  # type: ignore[misc]
            await alld.wait_for(lambda r, t=t2: matches(r, t))  # type: ignore[misc]
        assert not c1.status.stale and c1.status.connected
        # Subscribed, nothing polled: the round trip is that of the CurrentTime probe, never 0.
        assert not c1.polled_points
        await eventually(lambda: c1.status.last_rtt_s > 0, what="a round-trip time")
        assert c1.status.last_rtt_s < 3.0
        # Source timestamps are kept; status severity maps to quality.
        src = 1_700_000_000_123_456_000
        await server.set_raw("dev-2", "i16", -7, source_ns=src)
        await alld.wait_for(lambda r: r.latest()["i16"].value == -7)
        assert alld.latest()["i16"].ts_ns == src
        await server.set_raw("dev-2", "i16", 9, status=0x40000000)  # Uncertain
        await alld.wait_for(lambda r: r.latest()["i16"].quality == 1)
        assert alld.latest()["i16"].value == 9
        await server.set_raw("dev-2", "i16", 10, status=0x80000000)  # Bad
        await alld.wait_for(lambda r: r.latest()["i16"].quality == QUALITY_BAD)
        assert alld.latest()["i16"].value is None
        got = {r.point: r for r in await c2.read_once(["f64_abcd", "label"])}
        assert got["f64_abcd"].value == await server.get_raw("dev-2", "f64_abcd")
        assert got["label"].value == await server.get_raw("dev-2", "label")


async def test_server_restart_resumes_without_new_connection() -> None:
    srv = OpcUaTestServer([("cnc-1", CNC_DT)], pad=0)
    await srv.start()
    rec = Recorder()
    conn = connect("cnc-1", srv.url, CNC_DT, watchdog_s=0.5)
    try:
        async with running(conn, rec):
            t1 = await srv.fill_random("cnc-1", CNC_DT, random.Random(2))
            await rec.wait_for(lambda r: matches(r, t1))
            await srv.stop()
            await rec.wait_for(lambda r: r.count(lambda b: all(x.quality == QUALITY_BAD for x in b)) > 0)
            assert conn.status.stale
            srv.pad = 3  # the device namespace gets another index after the restart
            await srv.start()
            loop = asyncio.get_running_loop()
            restarted = loop.time()
            t2 = await srv.fill_random("cnc-1", CNC_DT, random.Random(3))
            # How fast it resumes is measured in bench/; here only that it resumes on the same connection.
            await rec.wait_for(lambda r: matches(r, t2), within=60)
            print(f"OPC UA data resumed {loop.time() - restarted:.1f} s after the server restarted")
            assert conn.status.reconnects >= 1 and not conn.status.stale
    finally:
        await srv.stop()


async def test_monitored_items_are_chunked_to_the_server_limit() -> None:
    srv = OpcUaTestServer([("dev-2", ALL_DT)], max_items_per_call=5)
    await srv.start()
    rec = Recorder()
    conn = connect("dev-2", srv.url, ALL_DT)
    try:
        async with running(conn, rec):
            truth = await srv.fill_random("dev-2", ALL_DT, random.Random(4))
            await rec.wait_for(lambda r: matches(r, truth))
            assert conn.status.extra["monitored_item_calls"] == math.ceil(len(ALL_DT.points) / 5)
            assert conn.polled_points == set()
    finally:
        await srv.stop()


@SHARED
async def test_polling_fallback_when_subscriptions_are_refused(server: OpcUaTestServer) -> None:
    rec = Recorder()
    conn = connect("cnc-1", server.url, CNC_DT)
    refused = ua.UaStatusCodeError(ua.StatusCodes.BadTooManySubscriptions)
    with mock.patch("asyncua.Client.create_subscription", side_effect=refused):
        async with running(conn, rec):
            truth = await server.fill_random("cnc-1", CNC_DT, random.Random(5))
            await rec.wait_for(lambda r: matches(r, truth))
            assert conn.polled_points == {p.name for p in CNC_DT.points}
            requests = conn.status.requests
            await eventually(lambda: conn.status.requests >= requests + 3, what="polling reads")


@SHARED
async def test_writes_use_the_variable_data_type(server: OpcUaTestServer) -> None:
    conn = connect("dev-2", server.url, ALL_DT)
    await conn.write("u16", 65000)
    await conn.write("f32_dcba", 2.5)
    await conn.write("i64_dcba", -(2**40))
    await conn.write("pump_on", True)
    assert await server.get_raw("dev-2", "u16") == 65000
    assert await server.get_raw("dev-2", "f32_dcba") == 2.5
    assert await server.get_raw("dev-2", "i64_dcba") == -(2**40)
    assert await server.get_raw("dev-2", "pump_on") is True
    var, _ = server._nodes[("dev-2", "u16")]
    assert (await var.read_data_value()).Value.VariantType == ua.VariantType.UInt16
    with pytest.raises(ConfigError, match="not writable"):
        await conn.write("i16", 1)
    await conn.close()


def test_endpoint_validation() -> None:
    assert registry.get("opcua").endpoint_model is OpcUaEndpoint
    with pytest.raises(ValueError, match="needs 'username'"):
        OpcUaEndpoint(url="opc.tcp://h:4840", auth="username")
    with pytest.raises(ValueError, match="needs security"):
        OpcUaEndpoint(url="opc.tcp://h:4840", auth="certificate")
    with pytest.raises(ValueError):
        OpcUaEndpoint(url="http://h")
    ep = OpcUaEndpoint(url="opc.tcp://h:4840", auth="username", username="u", password="secret")  # type: ignore[arg-type]
    assert "secret" not in repr(ep)
