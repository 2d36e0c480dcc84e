"""The bridge against real Mosquitto and Tansu: keys, order, the topic header, what is not forwarded,
and produce failures retried before anything after them is acknowledged to MQTT."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import wire
from bridge.forward import Bridge
from bridge.keys import forwarded
from infra.kafka import SIZE_HEADER, TOPIC_HEADER, header
from infra.mqtt.subscriber import ManualAckSubscriber
from plantproof.embedded import MosquittoServer
from plantproof.embedded_kafka import TansuServer
from tests.collector.mqttutil import Publisher
from tests.kafka.ingestutil import PARTITIONS, bridge_for
from tests.kafka.kafkautil import create_topic, unique, wait_until


async def _consume_all(tansu: TansuServer, topic: str, count_: int) -> list[Any]:
    from aiokafka import AIOKafkaConsumer

    from tests.kafka.kafkautil import drain

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=tansu.bootstrap, auto_offset_reset="earliest",
                                group_id=unique("reader"), enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        return await drain(consumer, count_, 30)
    finally:
        await consumer.stop()


def _messages(gateways: list[str], n: int) -> list[tuple[str, bytes]]:
    """n messages per gateway on its data topic, plus what the bridge must not forward."""
    out = []
    for i in range(n):
        for gw in gateways:
            out.append((wire.device_topic("site-t", gw, "dev-1", "data"), f"{gw}:{i}".encode()))
    for gw in gateways:
        out.append((wire.gateway_topic("site-t", gw, "$stored"), b"{}"))
        out.append((wire.device_topic("site-t", gw, "dev-1", "cmd"), b"{}"))
        out.append((wire.device_topic("site-t", gw, "dev-1", "cmd/res"), f"{gw}:res".encode()))
    return out


async def _run_bridge(
    bridge: Bridge, broker: MosquittoServer, items: list[tuple[str, bytes]]
) -> asyncio.Event:
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    await wait_until(lambda: bridge.source is not None and bridge.source.connected.is_set(), 30, "bridge up")
    await asyncio.sleep(0.3)  # SUBACK: a QoS 1 message sent before it would not reach the bridge
    pub = Publisher(broker.host, broker.port)
    await asyncio.to_thread(pub.publish, items)
    pub.close()
    await wait_until(lambda: bridge.metrics.produced._value.get() >= sum(forwarded(t) for t, _ in items),
                     60, "everything produced")  # fmt: skip
    stop.set()
    await asyncio.wait_for(task, 30)
    return stop


async def test_bridge_keys_by_gateway_keeps_order_and_carries_the_topic(
    mosquitto_factory: Callable[..., MosquittoServer], tansu: TansuServer
) -> None:
    broker = mosquitto_factory()
    topic = unique("keys")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    gateways = ["gw-a", "gw-b", "gw-c"]
    items = _messages(gateways, 30)
    bridge = bridge_for(broker, tansu, topic, topics=["pp/v1/#"])  # wider than the default: skips apply
    await _run_bridge(bridge, broker, items)
    wanted = [(t, p) for t, p in items if forwarded(t)]
    records = await _consume_all(tansu, topic, len(wanted))
    assert sorted((header(r.headers, TOPIC_HEADER).decode(), r.value) for r in records) == sorted(
        (t, p) for t, p in wanted
    )
    assert bridge.metrics.skipped._value.get() == 2 * len(gateways)  # $stored and cmd of each
    for gw in gateways:
        mine = [r for r in records if r.key == f"site-t/{gw}".encode()]
        assert len({r.partition for r in mine}) == 1
        expected = [p for t, p in wanted if f"/{gw}/" in t]
        assert [r.value for r in sorted(mine, key=lambda r: r.offset)] == expected


async def test_a_failed_produce_is_produced_again_before_anything_after_it_is_acknowledged(
    mosquitto_factory: Callable[..., MosquittoServer], tansu: TansuServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiokafka.errors import KafkaTimeoutError, RequestTimedOutError

    broker = mosquitto_factory()
    topic = unique("retry")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    items = _messages(["gw-a"], 20)
    bridge = bridge_for(broker, tansu, topic)
    acked: list[str] = []
    real_ack = ManualAckSubscriber.ack
    failures = {"refused": 2, "unacknowledged": 2}

    def ack(self: ManualAckSubscriber, deliveries: Any) -> int:
        acked.extend(d.topic for d in deliveries)
        return real_ack(self, deliveries)

    async def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Injected faults: refused before sending, then sent and never acknowledged by Kafka.
        if kwargs["value"] == b"gw-a:3" and failures["refused"]:
            failures["refused"] -= 1
            raise KafkaTimeoutError()
        future = await real_send(self, *args, **kwargs)
        if kwargs["value"] == b"gw-a:7" and failures["unacknowledged"]:
            failures["unacknowledged"] -= 1
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(RequestTimedOutError())
            return failed
        return future

    from aiokafka import AIOKafkaProducer

    real_send = AIOKafkaProducer.send
    monkeypatch.setattr(AIOKafkaProducer, "send", send)
    monkeypatch.setattr(ManualAckSubscriber, "ack", ack)
    await _run_bridge(bridge, broker, items)
    records = await _consume_all(tansu, topic, 20 + 2 + 1)
    values = [r.value for r in sorted(records, key=lambda r: r.offset) if r.value != b"gw-a:res"]
    # Refused sends never landed; the two whose acknowledgement was lost did, and were sent again
    # (copies the ledger drops). Nothing is missing, and first arrivals keep the order.
    assert Counter(values) == {f"gw-a:{i}".encode(): 3 if i == 7 else 1 for i in range(20)}
    assert list(dict.fromkeys(values)) == [f"gw-a:{i}".encode() for i in range(20)]
    errors = {s.labels["error"]: s.value for m in bridge.metrics.errors.collect() for s in m.samples
              if s.name.endswith("_total")}  # fmt: skip
    assert errors == {"KafkaTimeoutError": 2, "RequestTimedOutError": 2}
    assert acked == [t for t, _ in items if forwarded(t)]  # all acknowledged to MQTT, in arrival order


async def test_an_oversized_payload_is_forwarded_cut_with_its_size_for_the_dead_letter(
    mosquitto_factory: Callable[..., MosquittoServer], tansu: TansuServer
) -> None:
    broker = mosquitto_factory()
    topic = unique("big")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    bridge = bridge_for(broker, tansu, topic, limits={"max_payload_bytes": 1024, "keep_oversized_bytes": 100})
    data = wire.device_topic("site-t", "gw-a", "dev-1", "data")
    await _run_bridge(bridge, broker, [(data, b"y" * 5000), (data, b"small")])
    records = sorted(await _consume_all(tansu, topic, 2), key=lambda r: r.offset)
    assert [(len(r.value), header(r.headers, SIZE_HEADER)) for r in records] == [(100, b"5000"), (5, None)]
