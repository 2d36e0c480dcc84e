"""Modbus TCP server serving a plant model: one unit id per device on a shared port.

Registers are laid out exactly as each device-type YAML says and encoded with
`adapters.modbus.codec`. A refresh task rewrites every unit's register image from the model every
`refresh_s` seconds of wall time; requests are answered from the current image, so a multi-register
value is never torn. Writable points (setpoints, coils) start at the model's value and then hold
the last value a client wrote.

Fault switches for tests: `silence_unit` (the unit stops answering, the others keep answering),
`fail_range` (a register range answers with a Modbus exception, or not at all), and stop/start
(restartable on the same port).
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self, cast

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusBaseServer, ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice

from adapters.errors import CodecError
from adapters.modbus import codec
from adapters.modbus.address import modbus_of, register_count
from devicemodel.devicetype import PointSpec
from simulators.servers import (
    DeviceLike,
    EngValue,
    ModelClock,
    RawValue,
    RefreshTicks,
    SimServerError,
    ValueSource,
    expected_values,
    find_device,
    raw_values,
    unreadable,
)

log = logging.getLogger(__name__)


def placeholder_context() -> SimDevice:
    """pymodbus wants a datastore at construction; ours replaces it before the first request."""
    return SimDevice(0, simdata=SimData(0))


TABLES = ("holding", "input", "coil", "discrete")
BIT_TABLES = ("coil", "discrete")
_READ_FC = {1: "coil", 2: "discrete", 3: "holding", 4: "input"}
_WRITE_FC = {5: "coil", 15: "coil", 6: "holding", 16: "holding", 22: "holding", 23: "holding"}


@dataclass(frozen=True, slots=True)
class RangeFault:
    table: str
    start: int
    end: int  # exclusive
    code: int | None  # Modbus exception code, or None: no answer at all


@dataclass(slots=True)
class ServerStats:
    requests: int = 0
    exceptions: int = 0
    unanswered: int = 0
    writes: int = 0
    refreshes: int = 0
    refresh_errors: int = 0
    by_unit: dict[int, int] = field(default_factory=dict)


class _Unit:
    """One device's register image, its held writes and its faults."""

    def __init__(self, device: DeviceLike) -> None:
        self.device = device
        self.points = [p for p in device.device_type.points if modbus_of(p) is not None]
        self.size = dict.fromkeys(TABLES, 0)
        self.writable: dict[str, set[int]] = {t: set() for t in TABLES}
        for p in self.points:
            mb = modbus_of(p)
            assert mb is not None
            end = mb.address + (1 if mb.bit is not None else register_count(p))
            self.size[mb.table] = max(self.size[mb.table], end)
            if p.writable:
                self.writable[mb.table].update(range(mb.address, end))
        self.image: dict[str, list[int]] = {t: [0] * n for t, n in self.size.items()}
        self.held: dict[str, RawValue] = {}
        self.silent = False
        self.unreadable = False  # fault: connects, answers nothing but exceptions (device failure)
        self.faults: list[RangeFault] = []

    def render(self, values: dict[str, RawValue]) -> None:
        image = {t: [0] * n for t, n in self.size.items()}
        for p in self.points:
            mb = modbus_of(p)
            assert mb is not None
            raw = values[p.name]
            if mb.bit is not None:
                image[mb.table][mb.address] = codec.set_bit(image[mb.table][mb.address], mb.bit, bool(raw))
            elif mb.table in BIT_TABLES:
                image[mb.table][mb.address] = 1 if raw else 0
            else:
                try:
                    words = codec.encode_point(p, raw)
                except CodecError as exc:
                    raise SimServerError(f"device {self.device.id!r} point {p.name!r}: {exc}") from exc
                image[mb.table][mb.address : mb.address + len(words)] = words
        self.image = image  # swapped whole: a request never sees half an update

    def decode(self, point: PointSpec) -> RawValue:
        mb = modbus_of(point)
        assert mb is not None
        words = self.image[mb.table][mb.address : mb.address + register_count(point)]
        return codec.decode_point(point, words)

    def write(self, table: str, address: int, values: Sequence[int]) -> None:
        self.image[table][address : address + len(values)] = list(values)
        end = address + len(values)
        for p in self.points:
            mb = modbus_of(p)
            assert mb is not None
            if (
                p.writable
                and mb.table == table
                and mb.address < end
                and address < mb.address + register_count(p)
            ):
                self.held[p.name] = self.decode(p)

    def fault_for(self, table: str, address: int, count: int) -> RangeFault | None:
        for fault in self.faults:
            if fault.table == table and fault.start < address + count and address < fault.end:
                return fault
        return None


class _Store:
    """The datastore pymodbus calls for every request (its `context`)."""

    def __init__(self, units: dict[int, _Unit], stats: ServerStats, any_unit: _Unit | None) -> None:
        self.units, self.stats, self.any_unit = units, stats, any_unit
        self.absent_answers = True  # TCP: a gateway answers for absent units; on a serial bus, nobody does

    def device_ids(self) -> list[int]:
        return list(self.units)

    def _unit(self, device_id: int) -> _Unit | None:
        self.stats.requests += 1
        self.stats.by_unit[device_id] = self.stats.by_unit.get(device_id, 0) + 1
        unit = self.units.get(device_id, self.any_unit)
        if unit is not None and unit.silent:
            self.stats.unanswered += 1
            raise NoSuchIdException(f"unit {device_id} is silenced")  # the server then stays silent
        return unit

    def _check(self, unit: _Unit | None, table: str, address: int, count: int) -> ExcCodes | None:
        if unit is None:
            if not self.absent_answers:
                self.stats.unanswered += 1
                raise NoSuchIdException("no such unit on this line")
            return ExcCodes.GATEWAY_NO_RESPONSE  # what a TCP gateway answers for an absent unit
        if unit.unreadable:
            return ExcCodes.DEVICE_FAILURE
        fault = unit.fault_for(table, address, count)
        if fault is not None:
            if fault.code is None:
                self.stats.unanswered += 1
                raise NoSuchIdException(f"range {table} {fault.start}..{fault.end - 1} does not answer")
            return ExcCodes(fault.code)
        if address < 0 or count < 1 or address + count > unit.size[table]:
            return ExcCodes.ILLEGAL_ADDRESS
        return None

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        table = _READ_FC.get(func_code) or _WRITE_FC.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        unit = self._unit(device_id)
        error = self._check(unit, table, address, count)
        if error is not None:
            self.stats.exceptions += 1
            return error
        assert unit is not None
        words = unit.image[table][address : address + count]
        return [bool(w) for w in words] if table in BIT_TABLES else words

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        table = _WRITE_FC.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        unit = self._unit(device_id)
        error = self._check(unit, table, address, len(values))
        if error is None:
            assert unit is not None
            if not all(a in unit.writable[table] for a in range(address, address + len(values))):
                error = ExcCodes.ILLEGAL_ADDRESS  # only setpoints and coils accept writes
        if error is not None:
            self.stats.exceptions += 1
            return error
        assert unit is not None
        unit.write(table, address, [int(v) for v in values])
        self.stats.writes += 1
        return None


class SimModbusServer:
    """Modbus TCP server for the devices of a value source (all, or those named in `devices`).

    With `any_unit=True` and a single device, every unit id addresses that device (port per
    machine). Model time advances `speed` times wall time from `t0_ns` (default: now).
    """

    def __init__(
        self,
        source: ValueSource,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        t0_ns: int | None = None,
        *,
        refresh_s: float = 0.1,
        devices: Sequence[str] | None = None,
        any_unit: bool = False,
    ) -> None:
        self.source, self.host, self.port, self.refresh_s = source, host, port, refresh_s
        self.clock = ModelClock(speed, t0_ns)
        chosen = [find_device(source, d) for d in devices] if devices is not None else list(source.devices)
        if not chosen:
            raise SimServerError("no devices to serve")
        self.unit_ids: dict[str, int] = {}
        units: dict[int, _Unit] = {}
        for device in chosen:
            if not 1 <= device.unit_id <= 247:
                raise SimServerError(f"device {device.id!r}: unit id {device.unit_id} is not in 1..247")
            if device.unit_id in units:
                other = units[device.unit_id].device.id
                raise SimServerError(f"devices {other!r} and {device.id!r} share unit id {device.unit_id}")
            if not any(modbus_of(p) for p in device.device_type.points):
                raise SimServerError(f"device {device.id!r}: its type has no modbus points")
            units[device.unit_id] = _Unit(device)
            self.unit_ids[device.id] = device.unit_id
        self._units = units
        self._by_id = {u.device.id: u for u in units.values()}
        if any_unit and len(units) != 1:
            raise SimServerError("any_unit needs exactly one device")
        self.stats = ServerStats()
        self.ticks = RefreshTicks()
        self._store = _Store(units, self.stats, next(iter(units.values())) if any_unit else None)
        self._server: ModbusBaseServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.model_ns = self.clock.now_ns()
        self.update_now()
        for unit in units.values():  # setpoints start at the model's value, then hold writes
            raws = raw_values(unit.device.device_type, self._values(unit, self.model_ns), {})
            unit.held = {p.name: raws[p.name] for p in unit.points if p.writable}

    @property
    def running(self) -> bool:
        return self._server is not None

    def _values(self, unit: _Unit, t_ns: int) -> dict[str, EngValue]:
        return dict(self.source.values_at(unit.device.id, t_ns))

    def update_now(self) -> None:
        """Refresh every unit's registers from the model at the current model time."""
        t_ns = self.clock.now_ns()
        for unit in self._units.values():
            unit.render(raw_values(unit.device.device_type, self._values(unit, t_ns), unit.held))
            unit.unreadable = unreadable(self.source, unit.device.id, t_ns)
        self.model_ns = t_ns
        self.stats.refreshes += 1
        self.ticks.tick()

    async def wait_refresh(self, count: int = 1, timeout_s: float = 30.0) -> None:
        """Return after `count` more refreshes (raises SimServerError after timeout_s each)."""
        await self.ticks.wait(count, timeout_s)

    def expected(self, device_id: str, t_ns: int | None = None) -> dict[str, EngValue]:
        """Engineering values a client decodes at model time t (default: the registers served now)."""
        unit = self._unit(device_id)
        t = self.model_ns if t_ns is None else t_ns
        return expected_values(unit.device.device_type, self._values(unit, t), unit.held)

    def _unit(self, device_id: str) -> _Unit:
        if device_id not in self._by_id:
            raise SimServerError(f"device {device_id!r} is not served here")
        return self._by_id[device_id]

    def silence_unit(self, device_id: str, silent: bool = True) -> None:
        self._unit(device_id).silent = silent

    def fail_range(self, device_id: str, table: str, address: int, count: int, code: int | None = 2) -> None:
        """Requests touching [address, address+count) of a table get exception `code` (None: no answer)."""
        if table not in TABLES:
            raise SimServerError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
        if code is not None and code not in {int(c) for c in ExcCodes}:
            raise SimServerError(f"{code} is not a Modbus exception code")
        self._unit(device_id).faults.append(RangeFault(table, address, address + count, code))

    def clear_faults(self, device_id: str | None = None) -> None:
        for unit in [self._unit(device_id)] if device_id else self._units.values():
            unit.faults.clear()
            unit.silent = False

    async def _listen(self) -> ModbusBaseServer:
        server = ModbusTcpServer(
            context=placeholder_context(), address=(self.host, self.port), ignore_missing_devices=True
        )
        server.context = cast(Any, self._store)
        try:
            await server.serve_forever(background=True)
        except (RuntimeError, OSError) as exc:
            raise SimServerError(f"modbus server cannot listen on {self.host}:{self.port}: {exc}") from exc
        self.port = cast(Any, server.transport).sockets[0].getsockname()[1]
        return server

    async def start(self) -> None:
        """Listen (on the same port again after a stop) and start refreshing."""
        if self._server is not None:
            return
        self._server = await self._listen()
        self.update_now()
        self._task = asyncio.create_task(self._refresh_loop(), name=f"modbus-refresh-{self.port}")

    async def stop(self) -> None:
        task, server = self._task, self._server
        self._task = self._server = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if server is not None:
            listener = server.transport
            await server.shutdown()
            if isinstance(listener, asyncio.AbstractServer):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(listener.wait_closed(), 5)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                self.update_now()
            except Exception:  # a model error must not stop the server; it is counted, logged sparsely
                self.stats.refresh_errors += 1
                if self.stats.refresh_errors % 100 == 1:
                    log.exception("modbus refresh failed (%d failures so far)", self.stats.refresh_errors)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
