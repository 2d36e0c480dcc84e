"""Management commands against a real pymodbus server: ping reads the device, writes are exact and
read back, and a device the gateway cannot reach is never answered for."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters import registry
from adapters.base import Connection
from devicemodel.loader import load_device_type
from gateway.commands import CommandHandler
from gateway.config import GatewayConfig, load_config
from simulators.servers.modbus import SimModbusServer
from tests.gateway.helpers import BIG, SETPOINTS_TYPE, SetpointSource, modbus_device, write_config
from wire import Command, CommandResult, decode, encode


@pytest.fixture()
async def setup(
    tmp_path: Path,
) -> AsyncIterator[tuple[SimModbusServer, GatewayConfig, dict[str, Connection]]]:
    (tmp_path / "generic.yaml").write_text(SETPOINTS_TYPE)
    server = SimModbusServer(SetpointSource(load_device_type(tmp_path / "generic.yaml")), port=0)
    await server.start()
    device = modbus_device("m1", server.port, 1, type="generic.yaml")
    config = load_config(write_config(tmp_path, "mqtt://127.0.0.1:1", [device]))
    connections = {d.id: registry.get(d.protocol).factory(d.instance()) for d in config.devices}
    yield server, config, connections
    for c in connections.values():
        await c.close()
    await server.stop()


async def _ask(handler: CommandHandler, op: str, **args: Any) -> CommandResult:
    cmd = Command(id=f"r{time.monotonic_ns()}", dev="m1", op=op, sent=time.time_ns(), args=args)  # type: ignore[arg-type]
    answer = await handler.handle("pp/v1/site1/gw1/m1/cmd", encode(cmd))
    result = decode(answer.payload)
    assert isinstance(result, CommandResult)
    return result


async def test_ping_reads_the_device_and_fails_when_it_cannot(
    setup: tuple[SimModbusServer, GatewayConfig, dict[str, Connection]],
) -> None:
    server, config, connections = setup
    handler = CommandHandler(config, connections)
    res = await _ask(handler, "ping")
    assert res.ok and res.result is not None
    assert res.result["pong"] is True and res.result["read"]["point"] == "level"
    assert res.result["read"]["raw"] == 21.5 and res.result["read"]["quality"] == 0
    server.silence_unit("m1")  # a link that answers nothing: no pong
    res = await _ask(handler, "ping")
    assert not res.ok and "device read failed" in (res.error or ""), res.error
    server.clear_faults("m1")
    server.fail_range("m1", "holding", 0, 2, code=2)  # the device answers, but refuses the read
    res = await _ask(handler, "ping")
    assert not res.ok and "bad quality" in (res.error or ""), res.error
    server.clear_faults("m1")
    await server.stop()  # the server is gone
    res = await _ask(handler, "ping")
    assert not res.ok and res.error


async def test_writes_are_exact_read_back_and_refused_when_not_representable(
    setup: tuple[SimModbusServer, GatewayConfig, dict[str, Connection]],
) -> None:
    _server, config, connections = setup
    handler = CommandHandler(config, connections)
    res = await _ask(handler, "write_setpoint", point="big_sp", value=BIG)
    assert res.ok, res.error
    assert res.result == {"point": "big_sp", "requested": BIG, "written": BIG, "raw": BIG}
    back = await connections["m1"].read_once(["big_sp"])
    assert back[0].value == BIG  # the registers hold ...993, not ...992

    res = await _ask(handler, "write_setpoint", point="tenths_sp", value=21.5)
    assert res.ok and res.result is not None
    assert res.result["raw"] == 215 and res.result["written"] == pytest.approx(21.5)

    res = await _ask(handler, "write_setpoint", point="f32_sp", value=0.1)
    assert res.ok and res.result is not None and res.result["written"] == pytest.approx(0.1, rel=1e-7)

    refused = [
        ("f_sp", BIG, "cannot be represented exactly as float64"),
        ("f32_sp", 16_777_217, "cannot be represented exactly as float32"),
        ("big_sp", 2**63, "out of range for int64"),
        ("tenths_sp", 7000.0, "out of range for uint16"),
        ("big_sp", "12", "not a finite number"),
    ]
    for point, value, why in refused:
        res = await _ask(handler, "write_setpoint", point=point, value=value)
        assert not res.ok and why in (res.error or ""), (point, value, res.error)
    assert (await connections["m1"].read_once(["big_sp"]))[0].value == BIG  # nothing was written
