"""End to end over OPC UA: a real asyncua server, the gateway, a real Mosquitto."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from gateway.config import load_config
from gateway.runner import Gateway
from simulators.servers.opcua import SimOpcUaServer
from tests.gateway.helpers import RampSource, Subscriber, write_config
from tests.gateway.test_e2e import _ask, _latest
from tests.servers import MosquittoServer
from wire import Birth, Command, Data


async def test_opcua_device_to_mqtt_and_setpoint(tmp_path: Path, mqtt_broker: MosquittoServer) -> None:
    sim = SimOpcUaServer(RampSource({"opc-1": 1}), port=0)
    await sim.start()
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    device = {
        "id": "opc-1",
        "type": "cnc_machine.yaml",
        "protocol": "opcua",
        "endpoint": {"url": sim.endpoint, "cert_dir": str(tmp_path / "pki"), "backoff_max": 1.0},
        "scan_groups": [{"name": "all", "interval": 0.2, "points": "all"}],
    }
    cfg = load_config(write_config(tmp_path, mqtt_broker.url, [device], gateway_id=gw))
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"pp/v1/site1/{gw}/#").start()
    gateway = Gateway(cfg)
    task = asyncio.create_task(gateway.run())
    try:

        def reporting(_m: object) -> bool:
            return {"state", "feed_override", "parts_total"} <= set(_latest(sub, "opc-1"))

        await asyncio.to_thread(sub.wait_for, reporting, 90)
        births = [e for e in sub.envelopes("birth") if isinstance(e, Birth)]
        assert births[0].device.protocol == "opcua" and not births[0].device.simulated
        latest = _latest(sub, "opc-1")
        expected = sim.expected("opc-1")
        for point in ("state", "spindle_speed", "spindle_temp", "door_open", "feed_override"):
            assert latest[point] == expected[point], point
        args = {"point": "feed_override", "value": 55}
        command = Command(id="w1", dev="opc-1", op="write_setpoint", sent=time.time_ns(), args=args)
        results = await asyncio.to_thread(_ask, mqtt_broker, gw, [command], b"[]")
        assert results["w1"].ok, results["w1"].error
        await asyncio.to_thread(sub.wait_for, lambda _m: _latest(sub, "opc-1").get("feed_override") == 55, 60)
        # source timestamps: within the run, not zero
        stamps = [s[1] for e in sub.envelopes("data") if isinstance(e, Data) for s in e.samples]
        assert all(abs(ts - time.time_ns()) < 600 * 10**9 for ts in stamps)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sub.stop()
        await sim.stop()
