"""A simulated plant's history sent by the gateway's own Sparkplug edge node (`gateway.sparkplug`).

The history is the backfill's (simulators.backfill: births, then data envelopes v1 with the model's
timestamps), handed one by one to `SparkplugNode.frame` as the gateway's publisher hands it spooled
envelopes, after the NBIRTH and DBIRTHs of the session (`births`), over one MQTT session with the
node's NDEATH as its Will. Only the sampling is the backfill's: a live gateway could not cover two
weeks of plant time in seconds, and ground truth needs the samples at the model's own instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import wire
from gateway.config import load_config
from gateway.sparkplug import SparkplugNode
from gateway.spool import SpoolEntry
from infra.mqtt import endpoint_for
from infra.mqtt.blocking import BlockingMqttClient
from simulators.backfill import Shape, envelopes
from simulators.plant import PlantModel
from tests.gateway.helpers import write_config


@dataclass
class Sent:
    messages: int = 0  # Sparkplug messages (NBIRTH, DBIRTH, DDATA; the NDEATH is not counted)
    envelopes: int = 0  # backfill envelopes framed
    samples: int = 0  # distinct samples in them


def edge_node(tmp: Path, model: PlantModel, broker_url: str, group: str, edge: str) -> SparkplugNode:
    """The edge node of a gateway whose devices are the plant's (their endpoints are never read)."""
    devices = [
        {"id": d.id, "type": f"{d.device_type.type}.yaml", "protocol": "modbus", "simulated": True,
         "endpoint": {"host": "127.0.0.1", "port": 1, "unit_id": i + 1}, "area": d.area, "line": d.line}
        for i, d in enumerate(model.plant.devices)
    ]  # fmt: skip
    config = write_config(
        tmp, broker_url, devices, gateway_id=edge, mqtt={"format": "sparkplug"}, sparkplug={"group_id": group}
    )
    return SparkplugNode(load_config(config))


def replay(node: SparkplugNode, model: PlantModel, start: int, end: int, url: str, shape: Shape) -> Sent:
    """Publish the history with QoS 1 as the edge node; returns once the broker acknowledged it all."""
    sent = Sent()
    client = BlockingMqttClient(
        endpoint_for(url), f"edge-{node.edge_node}", window=500, timeout_s=60, will=node.will_for_connect()
    )
    client.connect()
    try:
        outgoing = node.births()
        for i, (topic, envelope) in enumerate(envelopes(model, start, end, shape, node.edge_node)):
            n = len(envelope.samples) if isinstance(envelope, wire.Data) else 0
            entry = SpoolEntry(i, topic, wire.encode(envelope), False, envelope.dev, n)
            outgoing += node.frame(entry)
            sent.envelopes += 1
            sent.samples += n
            for message in outgoing:
                client.publish(*message)
            sent.messages += len(outgoing)
            outgoing = []
        client.publish(*node.ndeath())  # an orderly stop, as the gateway's
        client.flush()
    finally:
        client.close()
    return sent
