"""The adapters against the project's own simulator servers (same device YAML on both sides):
the engineering values a gateway derives from what the adapters read equal what the servers say
they serve; a silenced unit does not slow the other units of the same server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devicemodel.devicetype import DeviceType
from simulators.servers import StaticDevice, to_engineering
from simulators.servers.modbus import SimModbusServer
from simulators.servers.opcua import SimOpcUaServer
from tests.adapters import test_modbus, test_opcua
from tests.adapters.devices import CNC, Recorder, device_type, eventually

CNC_DT = device_type(CNC)
VALUES: dict[str, dict[str, Any]] = {
    "cnc-1": {
        "state": "running",
        "parts_total": 4_000_000_123,
        "parts_good": 77,
        "energy": 1234.56,
        "spindle_speed": 8012.5,
        "spindle_temp": 47.3,
        "door_open": False,
        "alarm_active": True,
        "feed_override": 95,
    },
    "cnc-2": {
        "state": "minor_stop",
        "parts_total": 5,
        "parts_good": 4,
        "energy": 0.5,
        "spindle_speed": 0.0,
        "spindle_temp": -3.2,
        "door_open": True,
        "alarm_active": False,
        "feed_override": 100,
    },
}


@dataclass
class Static:
    devices: list[StaticDevice]

    def values_at(self, device_id: str, t_ns: int) -> Mapping[str, Any]:
        return VALUES[device_id]


def source() -> Static:
    return Static([StaticDevice("cnc-1", CNC_DT, 1), StaticDevice("cnc-2", CNC_DT, 2)])


def engineering(dt: DeviceType, rec: Recorder) -> dict[str, Any]:
    return {
        name: to_engineering(dt.point(name), r.value) for name, r in rec.latest().items() if r.quality == 0
    }


def close_enough(got: dict[str, Any], want: dict[str, Any]) -> bool:
    if set(got) != set(want):
        return False
    for k, v in want.items():
        if isinstance(v, float) and not isinstance(got[k], bool):
            if abs(got[k] - v) > 1e-9 * max(1.0, abs(v)):
                return False
        elif got[k] != v:
            return False
    return True


async def test_modbus_against_the_simulator() -> None:
    server = SimModbusServer(source(), speed=0.0)
    await server.start()
    recs = {d: Recorder() for d in VALUES}
    conns = {
        d: test_modbus.connect(
            d, server.port, unit, CNC_DT, interval_s=0.05, timeout=0.3, backoff_initial=0.2
        )
        for d, unit in (("cnc-1", 1), ("cnc-2", 2))
    }
    try:
        async with contextlib.AsyncExitStack() as stack:
            for d in VALUES:
                await stack.enter_async_context(test_modbus.running(conns[d], recs[d]))
            for d in VALUES:
                want = server.expected(d)
                await recs[d].wait_for(lambda r, w=want: close_enough(engineering(CNC_DT, r), w))  # type: ignore[misc]
            # Unmapped registers inside a coalesced read: the device refuses the span, the adapter
            # falls back to one read per point for that span and every point still arrives.
            assert conns["cnc-2"].requests_per_cycle() == 2
            server.fail_range("cnc-2", "holding", 5, 5, code=2)
            mark = len(recs["cnc-2"].batches)
            await recs["cnc-2"].wait_for(
                lambda r: any(all(x.quality == 0 for x in b) for _, b in r.batches[mark + 1 :])
            )
            assert conns["cnc-2"].requests_per_cycle() == 5  # holding split in 4, input 1
            assert close_enough(engineering(CNC_DT, recs["cnc-2"]), server.expected("cnc-2"))
            # A silenced unit: the other unit on the same server keeps its rate.
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await asyncio.sleep(1.5)
            baseline = recs["cnc-2"].good_batches_between(t0, loop.time()) / (loop.time() - t0)
            server.silence_unit("cnc-1")
            await eventually(lambda: conns["cnc-1"].status.read_errors >= 1, what="cnc-1 to time out")
            t1 = loop.time()
            await asyncio.sleep(1.5)
            during = recs["cnc-2"].good_batches_between(t1, loop.time()) / (loop.time() - t1)
            assert during >= 0.75 * baseline, (baseline, during)
    finally:
        await server.stop()


async def test_opcua_against_the_simulator() -> None:
    server = SimOpcUaServer(source(), speed=0.0, refresh_s=0.2)
    await server.start()
    try:
        for d in VALUES:
            rec = Recorder()
            conn = test_opcua.connect(d, server.endpoint, CNC_DT)
            async with test_opcua.running(conn, rec):
                want = server.expected(d)
                await rec.wait_for(lambda r, w=want: close_enough(engineering(CNC_DT, r), w))  # type: ignore[misc]
    finally:
        await server.stop()
        await server.close()
