"""Nothing invisible: a device that never connects publishes its state and a metric; unmapped state
codes are named; against a real broker, a real asyncua and a real pymodbus server."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import pytest
import yaml

from gateway.config import load_config
from gateway.runner import Gateway
from tests.adapters.devices import CNC, ModbusTestServer, OpcUaTestServer, device_type
from tests.gateway.helpers import Subscriber, modbus_device, write_config
from tests.servers import MosquittoServer, free_port
from wire import Birth, Data, Death

CNC_DT = device_type(CNC)


async def test_devices_that_never_connect_publish_their_state(
    tmp_path: Path, mqtt_broker: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    srv = OpcUaTestServer([("opc-1", CNC_DT)])
    await srv.start()
    wrong = yaml.safe_load(CNC.read_text())
    for point in wrong["points"]:
        point["opcua"]["node"] = point["opcua"]["node"].replace("urn:plantproof:sim", "urn:nowhere")
    (tmp_path / "wrong_ns.yaml").write_text(yaml.safe_dump(wrong))
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    devices = [
        {
            "id": "opc-1",
            "type": "wrong_ns.yaml",
            "protocol": "opcua",
            "endpoint": {"url": srv.url, "backoff_initial": 0.1, "backoff_max": 0.5},
        },
        modbus_device("mb-1", port=free_port()),  # nothing listens there
    ]
    path = write_config(tmp_path, mqtt_broker.url, devices, gateway_id=gw, link_lost_after_s=1.0)
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"pp/v1/site1/{gw}/#").start()
    gateway = Gateway(load_config(path))
    task = asyncio.create_task(gateway.run())
    try:

        def both_dead(_m: object) -> bool:
            return {e.dev for e in sub.envelopes("death")} == {"opc-1", "mb-1"}

        await asyncio.to_thread(sub.wait_for, both_dead, 60)
        births = {e.dev for e in sub.envelopes("birth") if isinstance(e, Birth)}
        assert births == {"opc-1", "mb-1"}  # announced, so the registry shows them offline
        deaths = {e.dev: e.reason for e in sub.envelopes("death") if isinstance(e, Death)}
        assert "no namespace 'urn:nowhere'" in deaths["opc-1"]
        assert "cannot connect" in deaths["mb-1"]
        assert not [e for e in sub.envelopes("data") if isinstance(e, Data)]
        reg = gateway.metrics.registry
        assert (
            reg.get_sample_value(
                "plantproof_gateway_link_down_reason", {"device": "opc-1", "reason": "namespace"}
            )
            == 1
        )
        assert (
            reg.get_sample_value(
                "plantproof_gateway_link_down_reason", {"device": "mb-1", "reason": "unreachable"}
            )
            == 1
        )
        assert (reg.get_sample_value("plantproof_gateway_link_down_seconds", {"device": "mb-1"}) or 0) >= 1
        await asyncio.sleep(1.5)
        assert len(sub.envelopes("death")) == 2  # once, not once per monitor tick
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sub.stop()
        await srv.stop()


async def test_unmapped_state_codes_are_named_once(
    tmp_path: Path, mqtt_broker: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plantproof")
    srv = ModbusTestServer({1: CNC_DT})
    await srv.start()
    await srv.set_raw(1, "state", 99)  # not in the cnc states map
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    path = write_config(
        tmp_path, mqtt_broker.url, [modbus_device("cnc-1", port=srv.port, interval=0.05)], gateway_id=gw
    )
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"pp/v1/site1/{gw}/#").start()
    gateway = Gateway(load_config(path))
    task = asyncio.create_task(gateway.run())
    try:

        def state_sample(_m: object) -> bool:
            return any(
                s[0] == "state" for e in sub.envelopes("data") if isinstance(e, Data) for s in e.samples
            )

        await asyncio.to_thread(sub.wait_for, state_sample, 60)
        await asyncio.sleep(1.0)  # 20 more reads of code 99
        sample = next(
            s for e in sub.envelopes("data") if isinstance(e, Data) for s in e.samples if s[0] == "state"
        )
        assert sample[2] == "unknown_stop" and sample[3] == 1
        lines = [r.getMessage() for r in caplog.records if "state code 99" in r.getMessage()]
        assert len(lines) == 1 and "cnc-1" in lines[0], lines
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sub.stop()
        await srv.stop()


async def test_an_outage_costs_a_few_lines_of_log(tmp_path: Path, mqtt_broker: MosquittoServer) -> None:
    """Two OPC UA and two Modbus devices at default log settings; one of each loses its server and
    gets it back: a handful of one-line events, not kilobytes per retry (the short version of
    `python -m bench.log_volume`)."""
    import io

    from gateway import logs

    opc = [OpcUaTestServer([(f"opc-{i}", CNC_DT)]) for i in (1, 2)]
    mb = [ModbusTestServer({1: CNC_DT}) for _ in (1, 2)]
    for server in (*opc, *mb):
        await server.start()
    devices = [
        {
            "id": f"opc-{i}",
            "type": "cnc_machine.yaml",
            "protocol": "opcua",
            "endpoint": {"url": s.url, "backoff_max": 1},
        }
        for i, s in ((1, opc[0]), (2, opc[1]))
    ] + [modbus_device(f"mb-{i}", port=s.port, interval=1.0) for i, s in ((1, mb[0]), (2, mb[1]))]
    for d in devices[2:]:
        d["endpoint"] = {"host": "127.0.0.1", "port": d["endpoint"]["port"], "unit_id": 1, "backoff_max": 1}
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    path = write_config(tmp_path, mqtt_broker.url, devices, gateway_id=gw, link_lost_after_s=2.0)
    out = io.StringIO()
    logs.configure("INFO", "text", stream=out)
    gateway = Gateway(load_config(path))
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.sleep(3)
        await opc[1].stop()
        await mb[1].stop()
        await asyncio.sleep(4)  # many retries, past link_lost_after_s: deaths published
        await opc[1].start()
        await mb[1].start()
        for _ in range(300):
            if "opc-2 back after" in out.getvalue() and "mb-2 back after" in out.getvalue():
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for handler in list(logging.getLogger().handlers):
            if handler.get_name() == "plantproof":
                logging.getLogger().removeHandler(handler)
        for server in (*opc, *mb):
            await server.stop()
    text = out.getvalue()
    lines = text.splitlines()
    assert "opc-2 back after" in text and "mb-2 back after" in text and "opc-2 lost for" in text, text
    assert not any(" INFO asyncua" in line or " DEBUG " in line for line in lines), text
    assert max(len(line) for line in lines) < 700, text
    assert len(text.encode()) < 8000, text  # the outage of two devices, start and stop included
    print(f"{len(lines)} lines, {len(text.encode())} bytes for an outage of two devices")
