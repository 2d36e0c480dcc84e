"""Real protocol servers for adapter tests: a pymodbus TCP server whose datastore is filled through
`adapters.modbus.codec`, and an asyncua server with one variable per point of a device type.

Both run in the test's event loop on free loopback ports and can be stopped and started again on
the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymodbus import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from adapters.base import DeviceInstance, RawReading, ScanGroup
from adapters.modbus import codec
from adapters.modbus.address import modbus_of, register_count
from adapters.opcua.address import opcua_of
from devicemodel.devicetype import DeviceType, PointSpec
from devicemodel.loader import load_device_type
from tests.servers import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CNC = ROOT / "configs" / "devices" / "cnc_machine.yaml"
ALL_DTYPES = HERE / "all_dtypes.yaml"

_SET_FC = {"holding": 16, "input": 4, "coil": 15, "discrete": 2}
_GET_FC = {"holding": 3, "input": 4, "coil": 1, "discrete": 2}


def device_type(path: Path = CNC) -> DeviceType:
    return load_device_type(path)


def instance(
    dev_id: str, dt: DeviceType, endpoint: Any, interval_s: float = 0.1, points: Sequence[str] | None = None
) -> DeviceInstance:
    names = tuple(points) if points is not None else tuple(p.name for p in dt.points)
    return DeviceInstance(dev_id, dt, endpoint, (ScanGroup("fast", interval_s, names),))


def random_raw(point: PointSpec, rng: random.Random) -> bool | int | float | str:
    """A raw value the point's dtype can hold exactly (float32 values are float32-representable)."""
    d = point.dtype
    if d == "bool":
        return rng.random() < 0.5
    if d == "string":
        length = modbus_of(point).length if modbus_of(point) and modbus_of(point).length else 4
        return "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") for _ in range(rng.randint(1, 2 * length))
        )
    if d == "float32":
        words = codec.encode(rng.uniform(-1e6, 1e6), "float32")
        return codec.decode(words, "float32")
    if d == "float64":
        return rng.uniform(-1e12, 1e12)
    bits = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64}[d]
    if d.startswith("u"):
        return rng.randrange(0, 2**bits)
    return rng.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1))


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


@dataclass
class ModbusTestServer:
    """A pymodbus TCP server serving one device type per unit id."""

    units: dict[int, DeviceType]
    port: int = field(default_factory=free_port)
    registers: int = 1024
    bits: int = 2048
    server: ModbusTcpServer | None = None
    trace_packet: Any = None  # fault injection: pymodbus trace_packet(sending, data) -> data
    trace_connect: Any = None  # pymodbus trace_connect(connected: bool), to see connections open
    rtu: bool = False  # RTU framing over TCP (a serial line behind a terminal server)

    def _device(self, unit: int) -> SimDevice:
        def regs() -> list[SimData]:
            return [SimData(0, count=self.registers, values=0, datatype=DataType.REGISTERS)]

        def bits() -> list[SimData]:
            return [SimData(0, count=self.bits, values=False, datatype=DataType.BITS)]

        return SimDevice(unit, simdata=(bits(), bits(), regs(), regs()))

    async def start(self) -> None:
        kwargs: dict[str, Any] = {"address": ("127.0.0.1", self.port)}
        if self.trace_packet is not None:
            kwargs["trace_packet"] = self.trace_packet
        if self.trace_connect is not None:
            kwargs["trace_connect"] = self.trace_connect
        if self.rtu:
            kwargs["framer"] = FramerType.RTU
        server = ModbusTcpServer([self._device(u) for u in self.units], **kwargs)
        await server.serve_forever(background=True)
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.shutdown()

    @property
    def context(self) -> Any:
        assert self.server is not None, "server not started"
        return self.server.context

    async def set_raw(self, unit: int, name: str, value: bool | int | float | str) -> None:
        point = self.units[unit].point(name)
        mb = modbus_of(point)
        assert mb is not None
        if mb.table in ("coil", "discrete"):
            await self.context.async_setValues(unit, _SET_FC[mb.table], mb.address, [bool(value)])
            return
        if mb.bit is not None:
            current = (await self.context.async_getValues(unit, _GET_FC[mb.table], mb.address, 1))[0]
            words = [codec.set_bit(current, mb.bit, bool(value))]
        else:
            words = codec.encode_point(point, value)
        await self.context.async_setValues(unit, _SET_FC[mb.table], mb.address, words)

    async def get_raw(self, unit: int, name: str) -> bool | int | float | str:
        point = self.units[unit].point(name)
        mb = modbus_of(point)
        assert mb is not None
        count = 1 if mb.bit is not None or mb.table in ("coil", "discrete") else register_count(point)
        words = await self.context.async_getValues(unit, _GET_FC[mb.table], mb.address, count)
        if mb.table in ("coil", "discrete"):
            return bool(words[0])
        return codec.decode_point(point, list(words))

    async def fill_random(self, unit: int, rng: random.Random) -> dict[str, bool | int | float | str]:
        """Random raw values for every point; returns what the server now holds (the ground truth)."""
        for point in self.units[unit].points:
            if modbus_of(point) is not None:
                await self.set_raw(unit, point.name, random_raw(point, rng))
        return {p.name: await self.get_raw(unit, p.name) for p in self.units[unit].points if modbus_of(p)}


class BlackholeServer:
    """Accepts TCP connections and never answers: a unit that has stopped responding."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while await reader.read(4096):
                    pass
            writer.close()

        self._server = await asyncio.start_server(swallow, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)


class Recorder:
    """A ReadingSink that keeps every batch and wakes waiters."""

    def __init__(self) -> None:
        self.batches: list[tuple[float, list[RawReading]]] = []
        self._cond = asyncio.Condition()

    async def __call__(self, dev: str, readings: Sequence[RawReading]) -> None:
        async with self._cond:
            self.batches.append((asyncio.get_running_loop().time(), list(readings)))
            self._cond.notify_all()

    async def wait_for(self, predicate: Any, within: float = 20.0) -> None:
        async def wait() -> None:
            async with self._cond:
                await self._cond.wait_for(lambda: predicate(self))

        await asyncio.wait_for(wait(), within)

    def latest(self) -> dict[str, RawReading]:
        out: dict[str, RawReading] = {}
        for _, batch in self.batches:
            out.update((r.point, r) for r in batch)
        return out

    def good_batches_between(self, start: float, end: float) -> int:
        return sum(1 for t, b in self.batches if start <= t < end and b and all(r.quality == 0 for r in b))

    def count(self, pred: Any) -> int:
        return sum(1 for _, b in self.batches if pred(b))


async def eventually(predicate: Callable[[], bool], within: float = 20.0, what: str = "condition") -> None:
    """Poll a condition that no sink call announces (status counters), with a generous timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


def names(readings: Iterable[RawReading]) -> list[str]:
    return [r.point for r in readings]


VARIANT_TYPES = {
    "bool": "Boolean",
    "int16": "Int16",
    "uint16": "UInt16",
    "int32": "Int32",
    "uint32": "UInt32",
    "int64": "Int64",
    "float32": "Float",
    "float64": "Double",
    "string": "String",
}


def _initial(point: PointSpec) -> bool | int | float | str:
    return {"bool": False, "string": ""}.get(point.dtype, 0.0 if point.dtype.startswith("float") else 0)


@dataclass
class OpcUaTestServer:
    """An asyncua server with one variable per point, node ids exactly as the device YAML says.

    `pad` namespaces are registered before the devices' ones, so that a restart with another `pad`
    moves the namespace indexes and clients must re-resolve them through the NamespaceArray.
    """

    devices: list[tuple[str, DeviceType]]
    port: int = field(default_factory=free_port)
    pad: int = 0
    max_items_per_call: int = 0
    security: list[str] | None = None  # asyncua SecurityPolicyType names; None: no security
    cert: tuple[Path, Path] | None = None  # (DER, PEM key) of the server, with security
    application_uri: str = "urn:plantproof:test:server"
    user_manager: Any = None
    server: Any = None
    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    # Strict about client certificates, like a plant server: only those in `pki/trusted/` (read
    # afresh on every attempt) are accepted; refused ones are saved in `pki/rejected/`.
    pki: Path | None = None
    refused: int = 0

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/pp"

    async def start(self) -> None:
        from asyncua import Server, ua

        server = Server(user_manager=self.user_manager)
        await server.init()
        server.set_endpoint(self.url)
        await server.set_application_uri(self.application_uri)
        if self.security is not None:
            server.set_security_policy([getattr(ua.SecurityPolicyType, name) for name in self.security])
            assert self.cert is not None
            await server.load_certificate(str(self.cert[0]))
            await server.load_private_key(str(self.cert[1]))
            if self.pki is not None:
                server.set_certificate_validator(self._validate)
        for i in range(self.pad):
            await server.register_namespace(f"urn:plantproof:pad:{i}")
        if self.max_items_per_call:
            limit = server.get_node(
                ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall
            )
            await limit.write_value(ua.Variant(self.max_items_per_call, ua.VariantType.UInt32))
        self._nodes: dict[tuple[str, str], Any] = {}
        for dev_id, dt in self.devices:
            obj = None
            for point in dt.points:
                if opcua_of(point) is None:
                    continue
                idx = await server.register_namespace(opcua_of(point).namespace_uri())
                if obj is None:
                    obj = await server.nodes.objects.add_object(idx, dev_id)
                _, ident = opcua_of(point).identifier(dev_id)
                vtype = getattr(ua.VariantType, VARIANT_TYPES[point.dtype])
                value = self.values.get((dev_id, point.name), _initial(point))
                var = await obj.add_variable(ua.NodeId(ident, idx), point.name, ua.Variant(value, vtype))
                if point.writable:
                    await var.set_writable()
                self._nodes[(dev_id, point.name)] = (var, vtype)
        await server.start()
        self.server = server

    async def _validate(self, cert: Any, app: Any) -> None:
        from asyncua import ua
        from asyncua.common.utils import ServiceError
        from cryptography.hazmat.primitives import serialization

        assert self.pki is not None
        der = cert.public_bytes(serialization.Encoding.DER)
        trusted = self.pki / "trusted"
        if trusted.is_dir() and any(p.read_bytes() == der for p in trusted.iterdir()):
            return
        self.refused += 1
        (self.pki / "rejected").mkdir(parents=True, exist_ok=True)
        (self.pki / "rejected" / f"{app.ApplicationUri.replace(':', '_')}.der").write_bytes(der)
        raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    async def stop(self) -> None:
        if self.server is not None:
            for key in self._nodes:  # keep values (and client writes) across a restart
                self.values[key] = await self.get_raw(*key)
            server, self.server = self.server, None
            await server.stop()

    async def set_raw(
        self, dev: str, name: str, value: Any, source_ns: int | None = None, status: int = 0
    ) -> None:
        import datetime as dt

        from asyncua import ua

        var, vtype = self._nodes[(dev, name)]
        stamp = None
        if source_ns is not None:
            stamp = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=source_ns // 1000)
        dv = ua.DataValue(ua.Variant(value, vtype), StatusCode=ua.StatusCode(status), SourceTimestamp=stamp)
        await self.server.write_attribute_value(var.nodeid, dv)

    async def get_raw(self, dev: str, name: str) -> Any:
        var, _ = self._nodes[(dev, name)]
        value = await var.read_data_value(raise_on_bad_status=False)
        return value.Value.Value if value.Value is not None else None

    async def fill_random(self, dev: str, dt: DeviceType, rng: random.Random) -> dict[str, Any]:
        for point in dt.points:
            if opcua_of(point) is not None:
                value = random_raw(point, rng)
                await self.set_raw(dev, point.name, value)
        return {p.name: await self.get_raw(dev, p.name) for p in dt.points if opcua_of(p) is not None}
