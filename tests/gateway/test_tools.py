"""The plant engineer's tools against real servers: browse (and its device-type skeleton, used
unchanged), read once, probe a register range in every order."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from adapters import registry
from adapters.modbus import codec
from devicemodel.loader import load_device_type
from gateway.cli import app
from gateway.config import load_config
from tests.adapters.devices import ALL_DTYPES, ModbusTestServer, OpcUaTestServer, device_type, same
from tests.gateway.helpers import write_config

ALL_DT = device_type(ALL_DTYPES)


async def invoke(*args: str) -> Any:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return result


async def test_browse_skeleton_used_unchanged_reads_the_browsed_values(tmp_path: Path) -> None:
    srv = OpcUaTestServer([("dev-2", ALL_DT), ("other", ALL_DT)], pad=2)
    await srv.start()
    try:
        truth = await srv.fill_random("dev-2", ALL_DT, random.Random(21))
        skeleton = tmp_path / "machine.yaml"
        result = await invoke("browse", srv.url, "--match", "dev-2.*", "--emit-device-type", str(skeleton))
        assert result.exit_code == 0, result.output
        assert "dev-2.f64_abcd  nsu=urn:plantproof:test;s=dev-2.f64_abcd  Double  r" in result.output
        assert "dev-2.u16  nsu=urn:plantproof:test;s=dev-2.u16  UInt16  rw" in result.output
        assert "other." not in result.stdout
        dt = load_device_type(skeleton)  # valid as written
        assert {p.name for p in dt.points} == set(truth)
        # The skeleton, unchanged, in a gateway config: one read gives what the server holds.
        device = {"id": "machine-1", "type": skeleton.name, "protocol": "opcua", "endpoint": {"url": srv.url}}
        config = write_config(tmp_path, "mqtt://127.0.0.1:1883", [device])
        assert (await invoke("check", "-c", str(config))).exit_code == 0
        cfg = load_config(config)
        connection = registry.get("opcua").factory(cfg.devices[0].instance())
        readings = {r.point: r for r in await connection.read_once([p.name for p in dt.points])}
        await connection.close()
        for name, value in truth.items():
            assert readings[name].quality == 0 and same(readings[name].value, value), (name, readings[name])
        shown = await invoke("read", "-c", str(config), "machine-1", "u16", "label")
        assert shown.exit_code == 0, shown.output
        assert f"u16  {truth['u16']!r}  good" in shown.output
        assert f"label  {truth['label']!r}  good" in shown.output
    finally:
        await srv.stop()


async def test_read_shows_quality_and_status(tmp_path: Path) -> None:
    srv = OpcUaTestServer([("dev-2", ALL_DT)])
    await srv.start()
    try:
        await srv.set_raw("dev-2", "i16", 5, status=0x808C0000)  # BadSensorFailure
        data = yaml.safe_load(ALL_DTYPES.read_text())
        data["points"][1]["opcua"]["node"] = "nsu=urn:nowhere;s={device}.u16"
        (tmp_path / "t.yaml").write_text(yaml.safe_dump(data))
        device = {"id": "dev-2", "type": "t.yaml", "protocol": "opcua", "endpoint": {"url": srv.url}}
        config = write_config(tmp_path, "mqtt://127.0.0.1:1883", [device])
        shown = await invoke("read", "-c", str(config), "dev-2", "i16", "u16", "i32_cdab")
        assert shown.exit_code == 0, shown.output
        assert "i16  None  bad  BadSensorFailure" in shown.output
        assert "u16  None  bad  BadNodeIdUnknown" in shown.output
        assert "i32_cdab  0  good" in shown.output
        assert (await invoke("read", "-c", str(config), "nope")).exit_code == 2
    finally:
        await srv.stop()


@pytest.mark.parametrize(
    ("byte_order", "word_order", "order"), [("big", "little", "CDAB"), ("little", "big", "BADC")]
)
async def test_probe_shows_which_order_gives_the_value(byte_order: str, word_order: str, order: str) -> None:
    srv = ModbusTestServer({1: ALL_DT})
    await srv.start()
    try:
        await srv.context.async_setValues(1, 16, 4, codec.encode(21.5, "float32", byte_order, word_order))
        result = await invoke(
            "probe", f"modbus://127.0.0.1:{srv.port}", "--unit", "1", "--address", "4", "--count", "2"
        )
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        hits = [
            line for line in lines if line.strip().startswith("float32") and line.rstrip().endswith(" 21.5")
        ]
        assert len(hits) == 1 and f" {order} " in hits[0], lines
        assert sum(1 for line in lines if line.strip().startswith(("int32", "uint32", "float32"))) == 12
        assert sum(1 for line in lines if line.strip().startswith(("int16", "uint16"))) == 4
        refused = await invoke("probe", f"modbus://127.0.0.1:{srv.port}", "--address", "2000", "--count", "2")
        assert refused.exit_code == 1 and "exception 2 (illegal data address)" in refused.output
    finally:
        await srv.stop()
