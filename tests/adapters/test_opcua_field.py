"""OPC UA in the field, against a real asyncua server: no leaked sessions, one bad node costs only its
point, data-type mismatches are bad data, every problem is logged once naming the node."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from asyncua import Client, ua

from adapters.base import QUALITY_BAD
from devicemodel.devicetype import DeviceType
from tests.adapters.devices import CNC, OpcUaTestServer, Recorder, device_type, eventually
from tests.adapters.test_opcua import connect, matches, running

CNC_DT = device_type(CNC)
LOGGER = "adapters.opcua.client"


def variant(dt: DeviceType, tmp_path: Path, change: Any, name: str = "variant") -> DeviceType:
    """A copy of a device type with `change(point dict)` applied to every point."""
    data = yaml.safe_load(CNC.read_text())
    for point in data["points"]:
        change(point)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return device_type(path)


def sessions(srv: OpcUaTestServer) -> int:
    # asyncua keeps the activated sessions by authentication token (no public counter)
    return len(srv.server.iserver._external_sessions)


def warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("adapters") and text in r.getMessage()
    ]


async def test_wrong_namespace_leaks_no_session(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Many retry cycles against a server that lacks the namespace: the session count stays at its
    baseline and another client still connects and reads."""
    caplog.set_level(logging.DEBUG, logger="adapters")

    def wrong(point: dict[str, Any]) -> None:
        if "opcua" in point:
            point["opcua"]["node"] = point["opcua"]["node"].replace("urn:plantproof:sim", "urn:nowhere")

    bad = variant(CNC_DT, tmp_path, wrong)
    srv = OpcUaTestServer([("cnc-1", CNC_DT)])
    await srv.start()
    try:
        baseline = sessions(srv)
        conn = connect("cnc-1", srv.url, bad, backoff_initial=0.05, backoff_max=0.1)
        peak = 0
        async with running(conn, Recorder()):
            await eventually(lambda: conn.status.read_errors >= 15, within=60, what="15 retry cycles")
            for _ in range(20):
                peak = max(peak, sessions(srv))
                await asyncio.sleep(0.01)
            assert conn.status.reason == "namespace" and not conn.status.connected
            # another client connects and reads while the gateway keeps retrying
            async with Client(srv.url, timeout=3) as other:
                assert await other.get_node(ua.ObjectIds.Server_ServerStatus_State).read_value() == 0
        await eventually(lambda: sessions(srv) == baseline, within=10, what="sessions back to baseline")
        assert peak <= baseline + 1  # at most the one being tried right now
        logged = warnings(caplog, "no namespace 'urn:nowhere'")
        # once for the nodes (naming one), once for the device failure; retries are not logged again
        assert len(logged) == 2, logged
        assert any("nsu=urn:nowhere;s=cnc-1.state" in m for m in logged)
    finally:
        await srv.stop()


async def test_one_bad_node_costs_only_its_point(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="adapters")

    def break_two(point: dict[str, Any]) -> None:
        if point["name"] == "spindle_temp":  # a namespace the server lacks
            point["opcua"]["node"] = "nsu=urn:nowhere;s={device}.spindle_temp"
        if point["name"] == "spindle_speed":  # a node the server does not have
            point["opcua"]["node"] = "nsu=urn:plantproof:sim;s={device}.no_such_node"

    bad = variant(CNC_DT, tmp_path, break_two)
    srv = OpcUaTestServer([("cnc-1", CNC_DT)])
    await srv.start()
    try:
        for mode in ("subscribe", "poll"):
            caplog.clear()
            rec = Recorder()
            conn = connect("cnc-1", srv.url, bad, mode=mode)
            async with running(conn, rec):
                truth = await srv.fill_random("cnc-1", CNC_DT, __import__("random").Random(3))
                truth.pop("spindle_temp"), truth.pop("spindle_speed")
                await rec.wait_for(lambda r, t=truth: matches(r, t))  # type: ignore[misc]
                await rec.wait_for(lambda r: {"spindle_temp", "spindle_speed"} <= set(r.latest()))
                latest = rec.latest()
                assert conn.status.connected and not conn.status.stale
                for name, code in (
                    ("spindle_temp", "BadNodeIdUnknown"),
                    ("spindle_speed", "BadNodeIdUnknown"),
                ):
                    reading = latest[name]
                    assert reading.quality == QUALITY_BAD and reading.value is None
                    assert reading.status == getattr(ua.StatusCodes, code), (mode, name, reading)
                await asyncio.sleep(0.5)  # more cycles: nothing is logged again
            assert len(warnings(caplog, "urn:nowhere")) == 1, mode
            assert len(warnings(caplog, "cnc-1.no_such_node")) == 1, mode
    finally:
        await srv.stop()


async def test_bool_point_on_a_float_node_is_bad_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters")

    def as_bool(point: dict[str, Any]) -> None:  # spindle_speed is a Float node on the server
        if point["name"] == "spindle_speed":
            point.update(dtype="bool", kind="switch", unit="")
            for numeric_only in ("modbus", "range", "max_rate_per_s", "stuck_after_s"):
                point.pop(numeric_only, None)

    wrong = variant(CNC_DT, tmp_path, as_bool)
    srv = OpcUaTestServer([("cnc-1", CNC_DT)])
    await srv.start()
    try:
        for mode in ("subscribe", "poll"):
            caplog.clear()
            rec = Recorder()
            conn = connect("cnc-1", srv.url, wrong, mode=mode)
            async with running(conn, rec):
                await srv.set_raw("cnc-1", "spindle_speed", 41.5)
                await rec.wait_for(lambda r: "spindle_speed" in r.latest() and "state" in r.latest())
                await srv.set_raw("cnc-1", "spindle_speed", 0.0)
                await asyncio.sleep(0.5)
                readings = [x for _, b in rec.batches for x in b if x.point == "spindle_speed"]
                assert readings and all(x.quality == QUALITY_BAD and x.value is None for x in readings)
                assert all(x.status == ua.StatusCodes.BadTypeMismatch for x in readings)
                assert rec.latest()["state"].quality == 0  # the other points are good
                got = (await conn.read_once(["spindle_speed"]))[0]
                assert got.quality == QUALITY_BAD and got.status == ua.StatusCodes.BadTypeMismatch
            logged = warnings(caplog, "BadTypeMismatch")
            assert len(logged) == 1 and "Float" in logged[0] and "bool" in logged[0], logged
    finally:
        await srv.stop()


async def test_server_status_codes_travel_with_bad_and_uncertain_readings() -> None:
    srv = OpcUaTestServer([("cnc-1", CNC_DT)])
    await srv.start()
    try:
        rec = Recorder()
        conn = connect("cnc-1", srv.url, CNC_DT)
        async with running(conn, rec):
            await srv.set_raw("cnc-1", "spindle_temp", 20, status=ua.StatusCodes.BadSensorFailure)
            await rec.wait_for(
                lambda r: r.latest().get("spindle_temp") and r.latest()["spindle_temp"].quality == 2
            )
            assert rec.latest()["spindle_temp"].status == ua.StatusCodes.BadSensorFailure
            await srv.set_raw("cnc-1", "spindle_temp", 21, status=ua.StatusCodes.UncertainLastUsableValue)
            await rec.wait_for(lambda r: r.latest()["spindle_temp"].quality == 1)
            got = rec.latest()["spindle_temp"]
            assert got.value == 21 and got.status == ua.StatusCodes.UncertainLastUsableValue
            await srv.set_raw("cnc-1", "spindle_temp", 22)
            await rec.wait_for(lambda r: r.latest()["spindle_temp"].quality == 0)
            assert rec.latest()["spindle_temp"].status is None
    finally:
        await srv.stop()


@pytest.mark.parametrize(
    ("dtype", "vtype", "value", "fits"),
    [
        ("bool", ua.VariantType.Double, 1.0, False),
        ("bool", ua.VariantType.Boolean, True, True),
        ("int16", ua.VariantType.Int32, 5, True),
        ("int16", ua.VariantType.Int32, 40000, False),
        ("uint16", ua.VariantType.Int16, -1, False),
        ("int32", ua.VariantType.Double, 2.0, False),
        ("float32", ua.VariantType.Double, 2.5, True),
        ("float64", ua.VariantType.UInt32, 7, True),
        ("string", ua.VariantType.Int32, 7, False),
        ("float64", ua.VariantType.String, "7", False),
    ],
)
def test_type_mismatch_rules(dtype: str, vtype: ua.VariantType, value: Any, fits: bool) -> None:
    from adapters.opcua.nodes import type_mismatch
    from devicemodel.devicetype import PointSpec

    kind = "switch" if dtype == "bool" else "analog"
    point = PointSpec(name="p", kind=kind, dtype=dtype, opcua={"node": "nsu=urn:x;s=p"})  # type: ignore[arg-type]
    assert (type_mismatch(point, vtype, value) is None) is fits
