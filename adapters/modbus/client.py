"""Supervised Modbus TCP / RTU connection of one device instance.

TCP: one connection per device instance, so a dead device only ever costs its own task. Any timeout
or transaction-id mismatch drops the connection (a late answer would otherwise be taken for the next
request's) and the supervisor reconnects with exponential backoff and jitter.
RTU: device instances on one serial port share the bus (one request at a time); a unit that times
out is backed off by its own task, so it takes the bus for one timeout per back-off period instead
of one per scan cycle, and the other units keep their rate.
"""

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from adapters.backoff import Backoff
from adapters.base import (
    QUALITY_BAD,
    DeviceInstance,
    LinkStatus,
    RawReading,
    ReadingSink,
    check_scan_groups,
    endpoint_as,
)
from adapters.cancelled import raise_if_cancelled
from adapters.errors import CodecError, ConfigError, DeviceRejected, DeviceUnavailable
from adapters.linklog import LinkLog
from adapters.modbus import codec
from adapters.modbus.address import modbus_of
from adapters.modbus.endpoint import ModbusEndpoint
from adapters.modbus.planner import ReadRequest, decode_request, plan_reads
from devicemodel.devicetype import PointSpec

log = logging.getLogger(__name__)

_READS = {
    "holding": "read_holding_registers",
    "input": "read_input_registers",
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
}
# Modbus exception codes in the words of the specification (Modbus Application Protocol 1.1b3, 7).
EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
_WHAT = {
    "read_holding_registers": "reading holding registers",
    "read_input_registers": "reading input registers",
    "read_coils": "reading coils",
    "read_discrete_inputs": "reading discrete inputs",
    "write_register": "writing holding register",
    "write_registers": "writing holding registers",
    "write_coil": "writing coil",
}


# Exceptions after which a coalesced read is split into one read per point (an address problem).
_SPLIT_ON = (2, 3)
# Exceptions a TCP gateway sends for a serial unit that does not answer: the unit is unavailable.
_UNIT_GONE = (10, 11)


def exception_text(code: object) -> str:
    """'exception 2 (illegal data address)'."""
    name = EXCEPTIONS.get(code) if isinstance(code, int) else None
    return f"exception {code} ({name})" if name else f"exception {code}"


def request_text(method: str, args: tuple[Any, ...], count: int | None) -> str:
    """'reading holding registers 100..101' for a request, in the words of a register map."""
    start = args[0] if args else "?"
    what = _WHAT.get(method, method)
    if count is not None and count > 1 and isinstance(start, int):
        return f"{what} {start}..{start + count - 1}"
    if method == "write_registers" and len(args) > 1 and isinstance(start, int):
        return f"{what} {start}..{start + len(args[1]) - 1}"
    return f"{what} {start}"


class _Link:
    """One pymodbus client and the lock that keeps one request in flight on it."""

    def __init__(self, endpoint: ModbusEndpoint) -> None:
        self.endpoint = endpoint
        self.lock = asyncio.Lock()
        self.client: Any = None
        self.users = 0
        self.connects = 0

    def _make(self) -> Any:
        ep = self.endpoint
        common: dict[str, Any] = {"timeout": ep.timeout, "retries": 0, "reconnect_delay": 0}
        if ep.transport == "tcp":
            return AsyncModbusTcpClient(ep.host or "", port=ep.port, **common)
        return AsyncModbusSerialClient(
            ep.serial_port or "",
            baudrate=ep.baudrate,
            parity=ep.parity,
            bytesize=ep.bytesize,
            stopbits=ep.stopbits,
            **common,
        )

    async def ensure(self) -> Any:
        """The connected client; call with `lock` held."""
        if self.client is not None and self.client.connected:
            return self.client
        self.drop()
        client = self._make()
        try:
            async with asyncio.timeout(self.endpoint.timeout + 1.0):  # inline: a stop reaches the call itself
                ok = await client.connect()
        except (TimeoutError, OSError, ModbusException) as exc:
            client.close()
            raise DeviceUnavailable(
                f"cannot connect to {self.describe()}: {exc or type(exc).__name__}", "unreachable"
            ) from None
        if not ok:
            client.close()
            raise DeviceUnavailable(f"cannot connect to {self.describe()}", "unreachable")
        self.client = client
        self.connects += 1
        if self.endpoint.connect_delay_ms:  # devices that need a moment before the first request
            await asyncio.sleep(self.endpoint.connect_delay_ms / 1000)
        return client

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def describe(self) -> str:
        ep = self.endpoint
        return f"{ep.host}:{ep.port}" if ep.transport == "tcp" else f"{ep.serial_port}"


# Serial buses shared by the device instances on one port (RTU), per event loop.
_BUSES: dict[tuple[int, str], _Link] = {}


def _acquire_link(endpoint: ModbusEndpoint) -> _Link:
    if endpoint.transport == "tcp":
        link = _Link(endpoint)
    else:
        key = (id(asyncio.get_running_loop()), endpoint.serial_port or "")
        link = _BUSES.get(key) or _BUSES.setdefault(key, _Link(endpoint))
        if link.endpoint.model_dump(include={"baudrate", "parity", "bytesize", "stopbits"}) != (
            endpoint.model_dump(include={"baudrate", "parity", "bytesize", "stopbits"})
        ):
            raise ConfigError(f"devices on serial port {endpoint.serial_port} disagree on line settings")
    link.users += 1
    return link


def _release_link(link: _Link) -> None:
    link.users -= 1
    if link.users <= 0:
        link.drop()
        for key, value in list(_BUSES.items()):
            if value is link:
                del _BUSES[key]


class ModbusConnection:
    """The `adapters.base.Connection` of one Modbus device instance."""

    def __init__(self, device: DeviceInstance) -> None:
        self.device = device
        self.status = LinkStatus()
        self.endpoint = endpoint_as(device, ModbusEndpoint, "modbus")
        check_scan_groups(device, lambda p: modbus_of(p) is not None, "a modbus address")
        self.plans: list[list[ReadRequest]] = [list(self._plan(g.points)) for g in device.scan_groups]
        self._link: _Link | None = None
        self._write_lock = asyncio.Lock()
        self._closed = False
        self._links = LinkLog(log, device.id)
        ep = self.endpoint
        self._backoff = Backoff(initial=ep.backoff_initial, maximum=ep.backoff_cap)
        self._last_answer = 0.0  # monotonic time this unit last answered (for request_gap_ms)
        self._said: set[tuple[str, ...]] = set()  # what was already logged once (bounded by points)
        self._last_reject: str | None = None

    # -- planning -------------------------------------------------------------------------------

    def _plan(self, names: Sequence[str]) -> tuple[ReadRequest, ...]:
        ep = self.endpoint
        dt = self.device.device_type
        return plan_reads(
            [dt.by_name[n] for n in names],
            max_gap=ep.max_gap,
            max_registers=ep.max_registers_per_read,
            max_bits=ep.max_bits_per_read,
            per_point=ep.per_point_requests,
        )

    def requests_per_cycle(self) -> int:
        return sum(len(plan) for plan in self.plans)

    # -- one request ----------------------------------------------------------------------------

    def _get_link(self) -> _Link:
        if self._closed:
            raise DeviceUnavailable(f"device {self.device.id!r}: connection closed")
        if self._link is None:
            self._link = _acquire_link(self.endpoint)
        return self._link

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One Modbus request; foreign errors become DeviceUnavailable / DeviceRejected."""
        link = self._get_link()
        ep = self.endpoint
        what = request_text(method, args, kwargs.get("count"))
        async with link.lock:
            connects = link.connects
            try:
                client = await link.ensure()
            except DeviceUnavailable as exc:
                raise DeviceUnavailable(f"device {self.device.id!r}: {exc}", exc.reason) from None
            if link.connects != connects:
                self.status.connected = True
                if connects > 0:
                    self.status.reconnects += 1
                if self.status.reason == "unreachable":  # the device is back: retry promptly
                    self._backoff.reset()
            gap = self._last_answer + ep.request_gap_ms / 1000 - time.monotonic()
            if ep.request_gap_ms and gap > 0:
                await asyncio.sleep(gap)
            self.status.requests += 1
            started = time.monotonic()
            try:
                async with asyncio.timeout(ep.timeout + 0.5):
                    response = await getattr(client, method)(*args, device_id=ep.unit_id, **kwargs)
            except (TimeoutError, ModbusException, OSError) as exc:
                # TCP: a timed-out or mismatched transaction leaves the stream in doubt: start afresh.
                # RTU: keep the bus for the other units unless the port itself failed.
                if ep.transport == "tcp" or not isinstance(exc, TimeoutError | ModbusException):
                    link.drop()
                    self.status.connected = False
                raise self._unavailable(exc, link, what) from None
            finally:
                self._last_answer = time.monotonic()
            self.status.last_rtt_s = time.monotonic() - started
        if response.isError():
            code = getattr(response, "exception_code", None)
            text = (
                f"device {self.device.id!r}: unit {ep.unit_id} at {link.describe()} answered "
                f"{exception_text(code)} to {what}"
            )
            if code in _UNIT_GONE:  # a gateway answering for a unit that does not
                raise DeviceUnavailable(text, "no_answer")
            rejected = DeviceRejected(text, "exception")
            rejected.code = code  # type: ignore[attr-defined]
            raise rejected
        return response

    def _unavailable(self, exc: BaseException, link: _Link, what: str) -> DeviceUnavailable:
        ep = self.endpoint
        where = f"device {self.device.id!r}: "
        text = str(exc)
        if isinstance(exc, TimeoutError) or "No response" in text or "timeout" in text.lower():
            return DeviceUnavailable(
                f"{where}no answer from unit {ep.unit_id} at {link.describe()} within {ep.timeout:g} s "
                f"({what})",
                "timeout",
            )
        if isinstance(exc, OSError):
            return DeviceUnavailable(
                f"{where}connection to {link.describe()} lost ({what}): {exc.strerror or exc}", "unreachable"
            )
        return DeviceUnavailable(f"{where}unit {ep.unit_id} at {link.describe()}: {what} failed: {text}")

    async def _read(self, request: ReadRequest) -> list[RawReading]:
        response = await self._call(_READS[request.table], request.start, count=request.count)
        words = response.bits if request.table in ("coil", "discrete") else response.registers
        ts = time.time_ns()
        points = self.device.device_type.by_name
        return [RawReading(name, ts, value) for name, value in decode_request(request, words, points)]

    async def _read_plan(self, plan: list[ReadRequest]) -> list[RawReading]:
        out: list[RawReading] = []
        kept: list[ReadRequest] = []
        for request in plan:
            try:
                out.extend(await self._read(request))
                kept.append(request)
            except DeviceRejected as exc:
                if len(request.points) == 1 or getattr(exc, "code", None) not in _SPLIT_ON:
                    kept.append(request)
                    self.status.read_errors += 1
                    self.status.last_error = self._last_reject = str(exc)
                    key = ("rejected", request.table, str(request.start), str(getattr(exc, "code", "")))
                    if key not in self._said:
                        self._said.add(key)
                        log.warning("%s; %s bad", exc, ", ".join(request.points) + (
                            " is" if len(request.points) == 1 else " are"))  # fmt: skip
                    ts = time.time_ns()
                    out.extend(RawReading(n, ts, None, QUALITY_BAD) for n in request.points)
                    continue
                # The device refuses the coalesced span (unmapped registers in a gap): from now on
                # read these points one by one, so one bad address costs only its own point.
                log.warning("%s; reading its %d points one by one", exc, len(request.points))
                single = list(self._plan_single(request.points))
                out.extend(await self._read_plan(single))
                kept.extend(single)
            except CodecError as exc:
                kept.append(request)
                self.status.read_errors += 1
                self.status.last_error = str(exc)
                out.extend(RawReading(n, time.time_ns(), None, QUALITY_BAD) for n in request.points)
        plan[:] = kept
        return out

    def _plan_single(self, names: Sequence[str]) -> tuple[ReadRequest, ...]:
        dt = self.device.device_type
        return plan_reads([dt.by_name[n] for n in names], per_point=True)

    # -- the Connection protocol ----------------------------------------------------------------

    async def run(self, sink: ReadingSink) -> None:
        ep = self.endpoint
        backoff = self._backoff
        while not self._closed:
            raise_if_cancelled()
            try:
                await self._scan(sink, backoff)
            except DeviceUnavailable as exc:
                self.status.read_errors += 1
                self.status.last_error = str(exc)
                self.status.reason = exc.reason
                if self._link is not None and ep.transport == "tcp":
                    self.status.connected = False
                if not self.status.stale:
                    self.status.stale = True
                    await sink(self.device.id, self._bad_readings())
                delay = backoff.next_delay()
                self._links.failed(exc, delay)
                await asyncio.sleep(delay)

    async def _scan(self, sink: ReadingSink, backoff: Backoff) -> None:
        groups = self.device.scan_groups
        due = [time.monotonic()] * len(groups)
        while True:
            now = time.monotonic()
            for i, group in enumerate(groups):
                if now < due[i]:
                    continue
                readings = await self._read_plan(self.plans[i])
                raise_if_cancelled()
                self.status.reads += 1
                if any(r.quality < QUALITY_BAD for r in readings):  # the unit really answers
                    if self.status.stale or self.status.reason is not None:
                        self._links.up()
                    self.status.stale = False
                    self.status.reason = None
                    backoff.reset()
                elif self.status.stale and self._last_reject is not None:
                    self.status.last_error = f"every point is bad: {self._last_reject}"
                    self.status.reason = "exception"
                await sink(self.device.id, readings)
                due[i] += group.interval_s
                late = time.monotonic() - due[i]
                if late > 0:  # overran: skip the missed cycles rather than bursting to catch up
                    due[i] += math.ceil(late / group.interval_s) * group.interval_s
                    self.status.extra["overruns"] = self.status.extra.get("overruns", 0.0) + 1
            await asyncio.sleep(max(0.0, min(due) - time.monotonic()))

    def _bad_readings(self) -> list[RawReading]:
        ts = time.time_ns()
        names = dict.fromkeys(n for g in self.device.scan_groups for n in g.points)
        return [RawReading(n, ts, None, QUALITY_BAD) for n in names]

    async def read_once(self, points: Sequence[str]) -> list[RawReading]:
        specs = [self._point(name) for name in points]
        return await self._read_plan(list(self._plan([p.name for p in specs])))

    async def write(self, point: str, value: bool | int | float) -> None:
        """Write a raw (unscaled) value; a bit in a word is read, modified and written back."""
        spec = self._point(point)
        mb = modbus_of(spec)
        assert mb is not None
        if not spec.writable:
            raise ConfigError(f"point {point!r} of device {self.device.id!r} is not writable")
        if mb.table == "coil":
            await self._call("write_coil", mb.address, bool(value))
            return
        if mb.table != "holding":
            raise ConfigError(f"point {point!r}: {mb.table} is read-only")
        if mb.bit is not None:
            async with self._write_lock:
                current = (await self._call("read_holding_registers", mb.address, count=1)).registers[0]
                await self._call("write_register", mb.address, codec.set_bit(current, mb.bit, bool(value)))
            return
        words = codec.encode_point(spec, value)
        if len(words) == 1:
            await self._call("write_register", mb.address, words[0])
        else:
            await self._call("write_registers", mb.address, words)

    def _point(self, name: str) -> PointSpec:
        spec = self.device.device_type.by_name.get(name)
        if spec is None or modbus_of(spec) is None:
            raise ConfigError(f"device {self.device.id!r} has no modbus point {name!r}")
        return spec

    async def close(self) -> None:
        self._closed = True
        if self._link is not None:
            link, self._link = self._link, None
            _release_link(link)
        self.status.connected = False
