"""The Sparkplug edge node over OPC UA: a real asyncua server, the gateway, a real Mosquitto."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from gateway.config import load_config
from gateway.runner import Gateway
from simulators.servers.opcua import SimOpcUaServer
from tests.gateway.helpers import RampSource, Subscriber, write_config
from tests.gateway.sparkplug_helpers import check_seqs, names_by_alias, of
from tests.gateway.test_sparkplug import _publish
from tests.servers import MosquittoServer
from wire import sparkplug as sp
from wire.sparkplug import DataType, MessageType


async def test_opcua_device_as_sparkplug_metrics_and_a_dcmd_write(
    tmp_path: Path, mqtt_broker: MosquittoServer
) -> None:
    sim = SimOpcUaServer(RampSource({"opc-1": 1}), port=0)
    await sim.start()
    edge = f"gw-{uuid.uuid4().hex[:6]}"
    device = {
        "id": "opc-1",
        "type": "cnc_machine.yaml",
        "protocol": "opcua",
        "endpoint": {"url": sim.endpoint, "cert_dir": str(tmp_path / "pki"), "backoff_max": 1.0},
        "scan_groups": [{"name": "all", "interval": 0.2, "points": "all"}],
    }
    config = write_config(
        tmp_path,
        mqtt_broker.url,
        [device],
        gateway_id=edge,
        mqtt={"format": "sparkplug"},
        sparkplug={"group_id": "plant1"},
    )
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"spBv1.0/plant1/+/{edge}/#").start()
    task = asyncio.create_task(Gateway(load_config(config)).run())

    def latest() -> dict[str, object]:
        messages = of(sub, edge)
        aliases = names_by_alias(messages)
        values: dict[str, object] = {}
        for m in messages:
            if m.kind == MessageType.DDATA:
                for metric in m.payload.metrics:
                    values[aliases[metric.alias or 0][1]] = metric.value
        return values

    try:
        await asyncio.to_thread(sub.wait_for, lambda _m: {"state", "feed_override"} <= set(latest()), 90)
        expected = sim.expected("opc-1")
        for point in ("state", "spindle_speed", "spindle_temp", "door_open", "feed_override"):
            assert latest()[point] == expected[point], point
        birth = {m.name: m for m in of(sub, edge, MessageType.DBIRTH)[0].payload.metrics}
        assert birth["feed_override"].datatype == DataType.UINT16
        write = sp.Payload(timestamp=1, metrics=(sp.Metric(DataType.UINT16, 55, name="feed_override"),))
        await asyncio.to_thread(
            _publish, mqtt_broker, f"spBv1.0/plant1/DCMD/{edge}/opc-1", sp.encode_payload(write)
        )
        await asyncio.to_thread(sub.wait_for, lambda _m: latest().get("feed_override") == 55, 60)
        check_seqs(of(sub, edge))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sub.stop()
        await sim.stop()
