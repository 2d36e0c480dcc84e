"""Management commands on `pp/v1/{site}/{gw}/{dev}/cmd`, answered on `.../cmd/res`.

ping → {"pong": true}; read_config → the device's type and point list (no secrets);
write_setpoint {"point", "value"} (engineering units) → {"written": value}. A command that cannot
be decoded is still answered (id "invalid") so no request disappears without a trace.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from adapters.base import Connection
from adapters.errors import AdapterError
from gateway.config import DeviceConfig, GatewayConfig
from gateway.errors import CommandError
from wire import Command, CommandResult, WireError, decode_as, device_topic, encode, parse_topic

log = logging.getLogger("plantproof.gateway.commands")
WRITE_TIMEOUT_S = 10.0


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
        if command.op == "ping":
            return {"pong": True}
        if command.op == "read_config":
            return describe(device)
        point = command.args.get("point")
        value = command.args.get("value")
        if not isinstance(point, str) or point not in device.device_type.by_name:
            raise CommandError(f"write_setpoint: unknown point {point!r}")
        spec = device.device_type.point(point)
        if not spec.writable:
            raise CommandError(f"write_setpoint: point {point!r} is not writable")
        if isinstance(value, bool):
            raw: bool | int | float = value
        elif isinstance(value, int | float):
            raw = spec.to_raw(float(value))
            if spec.dtype not in ("float32", "float64"):
                raw = round(raw)
        else:
            raise CommandError(f"write_setpoint: value {value!r} is not a number or bool")
        connection = self.connections.get(device.id)
        if connection is None:
            raise CommandError(f"device {device.id!r} has no connection")
        await asyncio.wait_for(connection.write(point, raw), WRITE_TIMEOUT_S)
        return {"written": value}
