"""Management commands on `pp/v1/{site}/{gw}/{dev}/cmd`, answered on `.../cmd/res`.

ping → a real read of the device (the first point of its first scan group):
  {"pong": true, "read": {"point", "raw", "quality", "ts"}}; ok=false when the link is down or the
  read fails, so a gateway never answers for a device it cannot reach.
read_config → the device's type and point list (no secrets), from the gateway's configuration.
write_setpoint {"point", "value"} (engineering units) → the value is converted exactly (integers
  stay integers up to 64 bits; a value the point's dtype cannot hold is refused with the reason),
  written, then read back: {"point", "requested", "written" (engineering, as read back), "raw"}.
  ok=false when the read-back differs from what was written.
A command that cannot be decoded is still answered (id "invalid") so no request disappears
without a trace.
"""

import asyncio
import logging
import math
import struct
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from adapters.base import QUALITY_BAD, Connection, RawValue
from adapters.errors import AdapterError
from devicemodel.devicetype import PointSpec
from gateway.config import DeviceConfig, GatewayConfig
from gateway.errors import CommandError
from wire import Command, CommandResult, WireError, decode_as, device_topic, encode, parse_topic

log = logging.getLogger("plantproof.gateway.commands")
WRITE_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0
_INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


def _float32(x: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", x))[0])


def to_raw(spec: PointSpec, value: object) -> bool | int | float:
    """The raw value to write for an engineering value, exactly; CommandError says why not."""
    name, dtype = spec.name, spec.dtype
    if isinstance(value, bool):
        return value
    if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
        raise CommandError(f"write_setpoint: value {value!r} is not a finite number or bool")
    if dtype == "bool":
        if value not in (0, 1):
            raise CommandError(f"write_setpoint: {name!r} is a bool point; {value!r} is not 0 or 1")
        return bool(value)
    exact = (Fraction(value) - Fraction(spec.offset)) / Fraction(spec.scale)
    if dtype in _INT_RANGES:
        raw = round(exact)  # exact rational arithmetic: 9007199254740993 stays 9007199254740993
        low, high = _INT_RANGES[dtype]
        if not low <= raw <= high:
            raise CommandError(
                f"write_setpoint: {value!r} gives raw {raw}, out of range for {dtype} [{low}, {high}]"
            )
        return raw
    if dtype not in ("float32", "float64"):
        raise CommandError(f"write_setpoint: {name!r} is a {dtype} point; only numbers and bools are written")
    number = float(exact)
    if dtype == "float32":
        number = _float32(number) if abs(number) <= 3.4028234663852886e38 else math.inf
    if not math.isfinite(number):
        raise CommandError(f"write_setpoint: {value!r} does not fit {dtype}")
    if isinstance(value, int) and Fraction(number) != exact:
        raise CommandError(
            f"write_setpoint: the integer {value} cannot be represented exactly as {dtype} (point {name!r});"
            f" the nearest is {number!r}"
        )
    return number


def to_engineering(spec: PointSpec, raw: RawValue) -> RawValue:
    """The engineering value of a raw one, exact for integers with unit scale and no offset."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return raw
    if isinstance(raw, int) and spec.scale == 1 and spec.offset == 0:
        return raw
    return spec.to_engineering(float(raw))


def _same(written: bool | int | float, read: RawValue, dtype: str) -> bool:
    if isinstance(written, bool) or dtype == "bool":
        return isinstance(read, bool | int) and bool(read) == bool(written)
    if not isinstance(read, int | float) or isinstance(read, bool):
        return False
    if dtype == "float32":  # the device may hold it as float32 and hand it back widened
        return _float32(float(read)) == _float32(float(written))
    return Fraction(read) == Fraction(written)


def describe(device: DeviceConfig) -> dict[str, Any]:
    """The device's configuration as read_config reports it (endpoint settings are left out)."""
    dt = device.device_type
    return {
        "type": dt.type,
        "industry": dt.industry,
        "sector": dt.sector,
        "protocol": device.protocol,
        "area": device.area,
        "line": device.line,
        "simulated": device.simulated,
        "scan_groups": [
            {"name": g.name, "interval": g.interval, "points": g.points} for g in device.scan_groups
        ],
        "points": [
            {
                "name": p.name,
                "kind": p.kind,
                "dtype": p.dtype,
                "unit": p.unit,
                "scale": p.scale,
                "offset": p.offset,
                "writable": p.writable,
            }
            for p in dt.points
        ],
    }


@dataclass(frozen=True, slots=True)
class Answer:
    topic: str
    payload: bytes
    result: CommandResult
    op: str  # "invalid" when the command could not be decoded


class CommandHandler:
    def __init__(self, config: GatewayConfig, connections: dict[str, Connection]) -> None:
        self.config = config
        self.connections = connections

    async def handle(self, topic: str, payload: bytes) -> Answer:
        """The answer to one incoming command message."""
        gw = self.config.gateway_id
        try:
            dev = parse_topic(topic).device or "invalid"
        except WireError:
            dev = "invalid"
        try:
            command = decode_as("cmd", payload)
            assert isinstance(command, Command)
        except WireError as exc:
            log.warning("undecodable command on %s: %s", topic, exc)
            result = CommandResult(
                id="invalid", gw=gw, dev=dev, ok=False, sent=time.time_ns(), error=str(exc)[:1000]
            )
            op = "invalid"
        else:
            result = await self._execute(command, dev)
            op = command.op
        res_topic = device_topic(self.config.site, gw, result.dev, "cmd/res")
        return Answer(res_topic, encode(result), result, op)

    async def write(self, dev: str, point: str, value: object, origin: str) -> CommandResult:
        """write_setpoint (with read-back) for a command of another format (a Sparkplug DCMD)."""
        command = Command(
            id=origin,
            dev=dev,
            op="write_setpoint",
            sent=time.time_ns(),
            args={"point": point, "value": value},
        )
        return await self._execute(command, dev)

    async def _execute(self, command: Command, topic_dev: str) -> CommandResult:
        gw = self.config.gateway_id
        try:
            if command.dev != topic_dev:
                raise CommandError(f"command for {command.dev!r} arrived on the topic of {topic_dev!r}")
            device = self.config.device(command.dev)
            if device is None:
                raise CommandError(f"unknown device {command.dev!r}")
            result = await self._op(command, device)
        except (CommandError, AdapterError, TimeoutError) as exc:
            message = str(exc) or type(exc).__name__
            log.info("command %s %s on %s failed: %s", command.id, command.op, command.dev, message)
            return CommandResult(
                id=command.id, gw=gw, dev=command.dev, ok=False, sent=time.time_ns(), error=message[:1000]
            )
        except Exception as exc:  # one bad command is answered, never the end of the command loop
            log.exception("command %s %s on %s raised", command.id, command.op, command.dev)
            message = f"internal error: {type(exc).__name__}"
            return CommandResult(
                id=command.id, gw=gw, dev=command.dev, ok=False, sent=time.time_ns(), error=message
            )
        return CommandResult(
            id=command.id, gw=gw, dev=command.dev, ok=True, sent=time.time_ns(), result=result
        )

    async def _op(self, command: Command, device: DeviceConfig) -> dict[str, Any]:
        if command.op == "read_config":
            return describe(device)
        connection = self.connections.get(device.id)
        if connection is None:
            raise CommandError(f"device {device.id!r} has no connection")
        if command.op == "ping":
            first = device.instance().scan_groups[0].points[0]
            raw, quality, ts = await self._read(connection, first, "ping")
            return {"pong": True, "read": {"point": first, "raw": raw, "quality": quality, "ts": ts}}
        point = command.args.get("point")
        value = command.args.get("value")
        if not isinstance(point, str) or point not in device.device_type.by_name:
            raise CommandError(f"write_setpoint: unknown point {point!r}")
        spec = device.device_type.point(point)
        if not spec.writable:
            raise CommandError(f"write_setpoint: point {point!r} is not writable")
        raw = to_raw(spec, value)
        await asyncio.wait_for(connection.write(point, raw), WRITE_TIMEOUT_S)
        back, _, _ = await self._read(connection, point, f"read-back after writing {raw!r}")
        if not _same(raw, back, spec.dtype):
            raise CommandError(
                f"write_setpoint: wrote {raw!r} to {point!r} but the device reads back {back!r}"
            )
        return {"point": point, "requested": value, "written": to_engineering(spec, back), "raw": back}

    @staticmethod
    async def _read(connection: Connection, point: str, what: str) -> tuple[RawValue, int, int]:
        """One real read of the device; CommandError when the link is down or the read failed."""
        try:
            readings = await asyncio.wait_for(connection.read_once([point]), READ_TIMEOUT_S)
        except TimeoutError:
            raise CommandError(f"{what}: no answer from the device within {READ_TIMEOUT_S:g} s") from None
        except AdapterError as exc:
            raise CommandError(f"{what}: device read failed: {exc}") from None
        got = next((r for r in readings if r.point == point), None)
        if got is None or got.quality == QUALITY_BAD or got.value is None:
            raise CommandError(f"{what}: device read of {point!r} returned bad quality")
        return got.value, got.quality, got.ts_ns
