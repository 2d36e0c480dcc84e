"""Adapter throughput: Modbus points read every 100 ms and OPC UA monitored items at 1 s.

    python -m bench.bench_adapters [--modbus-points 1000] [--opcua-items 10000] [--seconds 8]

Quick run (what `python -m bench` uses): --opcua-items 2000 --seconds 3.

Servers run in child processes so that the CPU figures are the adapters' own. Ceilings measured in
the same run: the raw pymodbus request rate on one connection (Modbus) and the server's own update
rate (OPC UA). Prints points/s, CPU (fraction of one core) and requests per cycle before and after
coalescing.
"""

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import resource
import socket
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from typing import Any

from adapters.base import DeviceInstance, RawReading, ScanGroup
from adapters.modbus.endpoint import ModbusEndpoint
from adapters.modbus.planner import requests_per_cycle
from adapters.opcua.endpoint import OpcUaEndpoint
from bench.report import emit
from devicemodel.devicetype import DeviceType

POINTS_PER_UNIT = 100
NAMESPACE = "urn:plantproof:bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_type(n: int) -> DeviceType:
    """n points: uint16 and float32 packed with small holes (a typical register map)."""
    points: list[dict[str, Any]] = []
    address = 0
    for i in range(n):
        dtype = "float32" if i % 3 == 0 else "uint16"
        points.append(
            {
                "name": f"p{i}",
                "kind": "analog",
                "dtype": dtype,
                "modbus": {"table": "holding", "address": address},
                "opcua": {"node": f"nsu={NAMESPACE};s=bench.p{i}"},
            }
        )
        address += (2 if dtype == "float32" else 1) + (1 if i % 10 == 9 else 0)
    return DeviceType.model_validate(
        {"type": "generic", "industry": "C40", "sector": "process", "points": points}
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- servers (child processes) -----------------------------------------------------------------


def _modbus_server(port: int, units: int, ready: Any) -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    async def main() -> None:
        def dev(unit: int) -> SimDevice:
            regs = [SimData(0, count=512, values=unit, datatype=DataType.REGISTERS)]
            bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
            return SimDevice(unit, simdata=(bits, bits, regs, list(regs)))

        server = ModbusTcpServer([dev(u) for u in range(1, units + 1)], address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def _opcua_server(port: int, items: int, ready: Any) -> None:
    from asyncua import Server, ua

    async def main() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench")
        idx = await server.register_namespace(NAMESPACE)
        node: Any = ua.NodeId  # asyncua annotates its own int/str aliases
        # 100 variables per object, added in one AddNodes call: one parent with thousands of
        # children makes asyncua's address space quadratic.
        parents = [
            (await server.nodes.objects.add_object(idx, f"g{j}")).nodeid for j in range(items // 100 + 1)
        ]
        adds = []
        for i in range(items):
            attrs = ua.VariableAttributes()
            attrs.DisplayName = ua.LocalizedText(f"p{i}")
            attrs.Value = ua.Variant(0.0, ua.VariantType.Double)
            attrs.DataType = node(ua.ObjectIds.Double)
            attrs.ValueRank = -1
            attrs.AccessLevel = attrs.UserAccessLevel = ua.AccessLevel.CurrentRead.mask
            item = ua.AddNodesItem()
            item.RequestedNewNodeId = node(f"bench.p{i}", idx)
            item.BrowseName = ua.QualifiedName(f"p{i}", idx)
            item.NodeClass = ua.NodeClass.Variable
            item.ParentNodeId = parents[i // 100]
            item.ReferenceTypeId = node(ua.ObjectIds.HasComponent)
            item.TypeDefinition = node(ua.ObjectIds.BaseDataVariableType)
            item.NodeAttributes = attrs
            adds.append(item)
        await server.iserver.isession.add_nodes(adds)
        node_ids = [a.RequestedNewNodeId for a in adds]
        limit = server.get_node(
            ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall
        )
        await limit.write_value(ua.Variant(1000, ua.VariantType.UInt32))
        await server.start()
        ready.set()
        tick = 0
        while True:  # every value changes once per second
            tick += 1
            started = time.monotonic()
            value = ua.DataValue(ua.Variant(float(tick), ua.VariantType.Double))
            for node_id in node_ids:
                await server.write_attribute_value(node_id, value)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    asyncio.run(main())


def _spawn(target: Any, *args: Any) -> BaseProcess:
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=target, args=(*args, ready), daemon=True)
    proc.start()
    if not ready.wait(120):
        proc.kill()
        raise SystemExit(f"{target.__name__} did not start")
    return proc


# -- measurements ------------------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.readings = 0
        self.good = 0

    async def __call__(self, dev: str, batch: Sequence[RawReading]) -> None:
        self.readings += len(batch)
        self.good += sum(1 for r in batch if r.quality == 0)


async def _modbus_ceiling(port: int, seconds: float) -> float:
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient("127.0.0.1", port=port, retries=0, reconnect_delay=0)
    await client.connect()
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        await client.read_holding_registers(0, count=125, device_id=1)
        n += 1
    client.close()
    return n / seconds


async def _run(
    conns: list[Any], counter: Counter, warmup: float, seconds: float
) -> tuple[float, float, float]:
    tasks = [asyncio.create_task(c.run(counter)) for c in conns]
    await asyncio.sleep(warmup)
    r0, c0, t0 = counter.good, _cpu(), time.monotonic()
    req0 = sum(c.status.requests for c in conns)
    await asyncio.sleep(seconds)
    wall = time.monotonic() - t0
    rate, cpu = (counter.good - r0) / wall, (_cpu() - c0) / wall
    reqs = (sum(c.status.requests for c in conns) - req0) / wall
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in conns:
        await c.close()
    return rate, cpu, reqs


async def bench_modbus(points: int, seconds: float) -> None:
    from adapters.modbus.client import ModbusConnection

    units = max(1, points // POINTS_PER_UNIT)
    dt = bench_type(POINTS_PER_UNIT)
    port = _free_port()
    proc = _spawn(_modbus_server, port, units)
    try:
        ceiling = await _modbus_ceiling(port, 2.0)
        conns = [
            ModbusConnection(
                DeviceInstance(
                    f"m{u}",
                    dt,
                    ModbusEndpoint(host="127.0.0.1", port=port, unit_id=u),
                    (ScanGroup("fast", 0.1, tuple(p.name for p in dt.points)),),
                )
            )
            for u in range(1, units + 1)
        ]
        before, after = requests_per_cycle(dt.points)
        rate, cpu, reqs = await _run(conns, Counter(), 1.0, seconds)
        target = units * POINTS_PER_UNIT / 0.1
        print(
            f"modbus: {units} devices x {POINTS_PER_UNIT} points every 100 ms (target {target:,.0f} points/s)"
        )
        print(
            f"  requests per cycle per device: {before} -> {after} after coalescing "
            f"({before / after:.1f}x fewer)"
        )
        print(f"  points/s {rate:,.0f} = {rate / target:.2f} of target; adapter CPU {cpu:.2f} core")
        print(
            f"  requests/s {reqs:,.0f}; ceiling (raw pymodbus, one connection) {ceiling:,.0f}"
            f" -> {reqs / ceiling:.2f}"
        )
        emit(
            f"modbus {units * POINTS_PER_UNIT} points @ 100 ms",
            rate,
            "points/s",
            None,
            "",
            target=f">= {target:,.0f} points/s",
        )
        emit("modbus requests", reqs, "requests/s", ceiling, "raw pymodbus, one connection")
        emit("modbus adapter CPU", cpu, "core", None, "")
    finally:
        proc.kill()


async def bench_opcua(items: int, seconds: float) -> None:
    from adapters.opcua.client import OpcUaConnection

    port = _free_port()
    started = time.monotonic()
    proc = _spawn(_opcua_server, port, items)
    setup = time.monotonic() - started
    try:
        dt = bench_type(items)
        conn = OpcUaConnection(
            DeviceInstance(
                "bench",
                dt,
                OpcUaEndpoint(url=f"opc.tcp://127.0.0.1:{port}/bench", timeout=10),
                (ScanGroup("slow", 1.0, tuple(p.name for p in dt.points)),),
            )
        )
        rate, cpu, _ = await _run([conn], Counter(), 3.0, seconds)
        calls = conn.status.extra.get("monitored_item_calls", 0)
        print(
            f"opcua: {items} monitored items at 1 s (server setup {setup:.1f} s; "
            f"{calls:.0f} CreateMonitoredItems calls)"
        )
        print(f"  notifications/s {rate:,.0f} = {rate / items:.2f} of the server's update rate ({items}/s)")
        print(f"  adapter CPU {cpu:.2f} core ({cpu / max(rate, 1) * 1e6:.0f} us per notification)")
        emit(f"opcua {items} items @ 1 s", rate, "notifications/s", float(items), "server update rate")
        emit("opcua adapter CPU", cpu, "core", None, "")
    finally:
        proc.kill()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--modbus-points", type=int, default=1000)
    parser.add_argument("--opcua-items", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(bench_modbus(args.modbus_points, args.seconds))
        asyncio.run(bench_opcua(args.opcua_items, args.seconds))


if __name__ == "__main__":
    main()
