"""A Sparkplug B host application made with the PyPI `aiospb` (its `Host`, built by
`aiospb.bootstrap.new_host`), run in its own Python >= 3.12 venv (it imports nothing of ours):

    .venv/bin/python host.py MQTT_HOST MQTT_PORT HOST_ID GROUP

It publishes its STATE, subscribes to spBv1.0/GROUP/#, and on an out-of-sequence seq sends its own
Node Control/Rebirth NCMD, all as aiospb does by itself. It prints one JSON object a line:
    {"event": "ready", "aiospb": version}                        the session is established
    {"event": "sent", "topic", "qos", "retain", "state"|"metrics"} what aiospb published (STATE, NCMD)
    {"event": "arrived", "topic", "seq", "bdSeq", "metrics"}      each edge-node message, as decoded
    {"event": "accepted", "type", "key", "metrics"}               what aiospb handed the application
    {"event": "log", "level", "message"}                          aiospb's warnings (what it dropped)
A metric is {"name", "alias", "datatype", "value", "historical"}. Closing stdin ends the session
(STATE offline).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from importlib.metadata import version
from typing import Any

from aiospb.bootstrap import new_host
from aiospb.infra.encoding import ProtobufPayloadEncoder
from aiospb.infra.paho import MQTTConfig, PahoMQTTClient
from aiospb.messages import HostMessageSession, Message, MQTTMessage
from aiospb.shared import HostOptions, Metric


def emit(**fields: Any) -> None:
    print(json.dumps(fields, default=str), flush=True)


def metric(m: Metric) -> dict[str, Any]:
    value = m.value if isinstance(m.value, (bool, int, float, str)) or m.value is None else str(m.value)
    return {
        "name": m.name or None,
        "alias": m.alias or None,
        "datatype": m.data_type.name,
        "value": value,
        "historical": m.is_historical,
    }


class _Warnings(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        emit(event="log", level=record.levelname, message=record.getMessage())


def _watch_publish() -> None:
    """Report every MQTT publish aiospb makes, as it makes it."""
    publish = PahoMQTTClient.publish

    async def watched(self: PahoMQTTClient, message: MQTTMessage) -> None:
        await publish(self, message)
        out: dict[str, Any] = {"topic": message.topic, "qos": message.qos, "retain": message.retain}
        if message.topic.startswith("spBv1.0/STATE/"):
            out["state"] = json.loads(message.payload)
        else:
            out["metrics"] = [metric(m) for m in ProtobufPayloadEncoder().decode(message.payload).metrics]
        emit(event="sent", **out)

    PahoMQTTClient.publish = watched  # type: ignore[method-assign]


def _watch_arrivals() -> None:
    """Report each edge-node message with its seq and bdSeq before aiospb's sequence check."""
    process = HostMessageSession._process_pack

    def watched(self: HostMessageSession, msg: Message, seq: int | None, bd_metric: Metric | None) -> None:
        metrics = [metric(m) for m in msg.metrics]
        bd_seq = bd_metric.value if bd_metric else None
        emit(event="arrived", topic=msg.get_topic(), seq=seq, bdSeq=bd_seq, metrics=metrics)
        process(self, msg, seq, bd_metric)

    HostMessageSession._process_pack = watched  # type: ignore[method-assign]


async def main() -> int:
    mqtt_host, port, host_id, group = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    logging.getLogger("aiospb").addHandler(_Warnings(logging.WARNING))
    _watch_publish()
    _watch_arrivals()
    # reorder_time: how long aiospb waits for a missing seq before it asks for a rebirth (default 2 s)
    host = new_host(host_id, MQTTConfig(mqtt_host, port), HostOptions(group=group, reorder_time=1.0))

    async def accepted(msg: Message) -> None:
        emit(event="accepted", type=msg.event.as_message_type() if msg.event.value < 100 else msg.event.name,
             key=msg.key.path, metrics=[metric(m) for m in msg.metrics])  # fmt: skip

    host.add_observer("report", accepted)
    await host.establish_session()
    emit(event="ready", aiospb=version("aiospb"))
    await asyncio.to_thread(sys.stdin.read)  # until the test closes stdin
    await host.terminate_session()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
