"""The bridge and the collector's Kafka source in one process, against real Mosquitto, Tansu and
PostgreSQL: one pipeline with two sources."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

import wire
from bridge.forward import Bridge
from bridge.keys import forwarded
from bridge.settings import load_settings as bridge_settings
from collector.ingest import Pipeline
from collector.migrate import migrate
from collector.settings import load_settings as collector_settings
from infra.kafka import SIZE_HEADER, TOPIC_HEADER, header
from infra.mqtt.subscriber import ManualAckSubscriber
from plantproof.embedded import MosquittoServer
from plantproof.embedded_kafka import MotoS3Server, TansuServer
from tests.collector.mqttutil import Publisher
from tests.kafka.kafkautil import create_topic, unique, wait_until
from tests.kafka.plantpub import Published, gateways_on_distinct_partitions, plant, publish
from tests.plant_truth import check_figures, count

PARTITIONS = 4


def _bridge(broker: MosquittoServer, tansu: TansuServer, topic: str, **mqtt: Any) -> Bridge:
    settings = bridge_settings(
        None,
        metrics_port=None,
        mqtt={"url": broker.url, "client_id": unique("bridge"), **mqtt},
        kafka={"bootstrap_servers": [tansu.bootstrap], "topic": topic},
    )
    return Bridge(settings)


def _collector(
    dsn: str, broker: MosquittoServer, tansu: TansuServer, topic: str, group: str, **mqtt: Any
) -> Pipeline:
    settings = collector_settings(
        None,
        dsn=dsn,
        metrics_port=None,
        source="kafka",
        mqtt={"url": broker.url, "client_id": unique("collector"), **mqtt},
        kafka={"bootstrap_servers": [tansu.bootstrap], "topic": topic, "group_id": group,
               "client_id": unique("c"), "lag_interval_s": 0.5},
        batch={"max_age_ms": 50},
    )  # fmt: skip
    return Pipeline(settings)


async def test_two_collectors_in_one_group_store_the_plant_once(
    mosquitto_factory: Callable[..., MosquittoServer], tansu: TansuServer, pg_dsn: str
) -> None:
    broker = mosquitto_factory()
    migrate(pg_dsn)
    topic, group = unique("plant"), unique("collectors")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    stop = asyncio.Event()
    bridge = _bridge(broker, tansu, topic)
    collectors = [_collector(pg_dsn, broker, tansu, topic, group) for _ in range(2)]
    tasks = [asyncio.create_task(x.run(stop)) for x in (bridge, *collectors)]
    try:
        await wait_until(
            lambda: bridge.source is not None and bridge.source.connected.is_set(), 30, "bridge up"
        )
        await wait_until(lambda: _all_hold_partitions(collectors), 60, "both collectors hold partitions")
        model, shape = plant()
        out = Published()
        gateways = gateways_on_distinct_partitions(4, PARTITIONS)
        sender = threading.Thread(target=publish, args=(model, shape, broker.url, gateways, out))
        sender.start()
        await asyncio.to_thread(sender.join)
        await wait_until(
            lambda: count(pg_dsn, "SELECT count(*) FROM envelopes") >= out.envelopes, 120, "all stored", 0.5
        )
        stored = count(pg_dsn, "SELECT count(*) FROM readings") + count(
            pg_dsn, "SELECT count(*) FROM readings_text"
        )
        assert stored == out.samples
        assert count(pg_dsn, "SELECT count(*) FROM dead_letters") == 0
        assert bridge.metrics.produced._value.get() >= out.envelopes
        check_figures(pg_dsn, model, True)
        # every partition held by one of them, its lag (high watermark - committed) down to 0
        await wait_until(lambda: _lags(collectors) == dict.fromkeys(range(PARTITIONS), 0), 30, "lag 0")
        assert all(c.metrics.kafka_commits._value.get() > 0 for c in collectors)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def _all_hold_partitions(collectors: list[Pipeline]) -> bool:
    return all(getattr(c.inbox, "assigned", None) for c in collectors)


def _lags(collectors: list[Pipeline]) -> dict[int, float]:
    """Partition -> lag as the collectors export it (plantproof_collector_kafka_lag_records)."""
    out: dict[int, float] = {}
    for c in collectors:
        for metric in c.metrics.kafka_lag.collect():
            for sample in metric.samples:
                out[int(sample.labels["partition"])] = sample.value
    return out


async def test_a_broker_killed_mid_run_on_s3_storage_loses_nothing(
    mosquitto_factory: Callable[..., MosquittoServer],
    moto_s3_factory: Callable[..., MotoS3Server],
    tansu_factory: Callable[..., TansuServer],
    pg_dsn: str,
) -> None:
    broker = mosquitto_factory()
    kafka = tansu_factory(s3=moto_s3_factory())
    migrate(pg_dsn)
    topic, group = unique("s3"), unique("collectors")
    await create_topic(kafka.bootstrap, topic, PARTITIONS)
    stop = asyncio.Event()
    bridge = _bridge(broker, kafka, topic)
    collectors = [_collector(pg_dsn, broker, kafka, topic, group) for _ in range(2)]
    tasks = [asyncio.create_task(x.run(stop)) for x in (bridge, *collectors)]
    try:
        await wait_until(
            lambda: bridge.source is not None and bridge.source.connected.is_set(), 30, "bridge up"
        )
        await wait_until(lambda: _all_hold_partitions(collectors), 60, "both collectors hold partitions")
        model, shape = plant()
        out = Published()
        gateways = gateways_on_distinct_partitions(4, PARTITIONS)
        sender = threading.Thread(target=publish, args=(model, shape, broker.url, gateways, out, 0.2, 40))
        sender.start()
        await wait_until(
            lambda: count(pg_dsn, "SELECT count(*) FROM envelopes") >= 400, 120, "400 stored", 0.2
        )
        assert sender.is_alive(), "the broker kill must land mid-run"
        await asyncio.to_thread(kafka.kill)
        await asyncio.to_thread(kafka.start)
        await asyncio.to_thread(sender.join)
        await wait_until(
            lambda: count(pg_dsn, "SELECT count(*) FROM envelopes") >= out.envelopes, 180, "all stored", 0.5
        )
        assert count(pg_dsn, "SELECT count(*) FROM envelopes") == out.envelopes
        rows = count(pg_dsn, "SELECT count(*) FROM readings") + count(
            pg_dsn, "SELECT count(*) FROM readings_text"
        )
        assert rows == out.samples
        assert count(pg_dsn, "SELECT count(*) FROM dead_letters") == 0
        check_figures(pg_dsn, model, True)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


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
    bridge = _bridge(broker, tansu, topic, topics=["pp/v1/#"])  # wider than the default: skips apply
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
    bridge = _bridge(broker, tansu, topic)
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


async def test_kafka_records_the_collector_cannot_read_become_dead_letters(
    mosquitto_factory: Callable[..., MosquittoServer], tansu: TansuServer, pg_dsn: str
) -> None:
    from tests.kafka.kafkautil import produce

    broker = mosquitto_factory()
    migrate(pg_dsn)
    topic, group = unique("bad"), unique("collectors")
    await create_topic(tansu.bootstrap, topic, 1)
    big = b"x" * (2 * 1024 * 1024)
    good_topic = wire.device_topic("site-t", "gw-a", "dev-1", "data").encode()
    await produce(tansu.bootstrap, topic, [
        (b"k", b"{not json", [(TOPIC_HEADER, good_topic)]),
        (b"k", b"{}", None),  # no topic header
        (b"k", big, [(TOPIC_HEADER, good_topic)]),  # larger than limits.max_payload_bytes
        (b"k", b"x" * 100, [(TOPIC_HEADER, good_topic), (SIZE_HEADER, b"5000000")]),  # cut by the bridge
    ], max_request_size=4 * 1024 * 1024)  # fmt: skip
    stop = asyncio.Event()
    collector = _collector(pg_dsn, broker, tansu, topic, group)
    task = asyncio.create_task(collector.run(stop))
    try:
        await wait_until(lambda: count(pg_dsn, "SELECT count(*) FROM dead_letters") >= 4, 60, "dead letters")
        with psycopg.connect(pg_dsn) as conn:
            letters = conn.execute(
                "SELECT topic, error, length(payload) FROM dead_letters ORDER BY id"
            ).fetchall()
        assert len(letters) == 4
        assert "malformed JSON" in letters[0][1]
        assert letters[1][0].startswith(f"kafka:{topic}/0@1") and "not under pp/v1" in letters[1][1]
        assert str(len(big)) in letters[2][1] and letters[2][2] <= 65_536
        assert "5000000" in letters[3][1]
        await wait_until(lambda: collector.metrics.kafka_commits._value.get() >= 1, 30, "offsets committed")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_sparkplug_through_the_bridge_is_stored_once(
    mosquitto_factory: Callable[..., MosquittoServer], tansu: TansuServer, pg_dsn: str, tmp_path: Path
) -> None:
    """A gateway's Sparkplug B edge node → Mosquitto → bridge → Kafka → collector as host application:
    one edge node's messages in one partition, in order, so the host follows its seq."""
    from simulators.backfill import Shape
    from simulators.plant import PlantModel
    from simulators.plantfile import load_plant
    from simulators.scenario import to_ns
    from tests.sparkplug_replay import edge_node, replay

    broker = mosquitto_factory()
    migrate(pg_dsn)
    topic, group = unique("sp"), unique("collectors")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    stop = asyncio.Event()
    bridge = _bridge(broker, tansu, topic, sparkplug_group_filter="#")
    collector = _collector(pg_dsn, broker, tansu, topic, group, sources=["pp_v1", "sparkplug"])
    tasks = [asyncio.create_task(x.run(stop)) for x in (bridge, collector)]
    try:
        await wait_until(
            lambda: bridge.source is not None and bridge.source.connected.is_set(), 30, "bridge up"
        )
        plant_ = load_plant("test-small")
        start, end = to_ns(plant_.start), to_ns(plant_.end)
        model = PlantModel(plant_, start, end)
        node = edge_node(tmp_path, model, broker.url, "plant-k", "edge-1")
        sent = await asyncio.to_thread(
            replay, node, model, start, end, broker.url, Shape(interval_s=600, batch=200)
        )
        await wait_until(
            lambda: count(pg_dsn, "SELECT count(*) FROM sparkplug_messages") >= sent.messages + 1, 120,
            "every Sparkplug message in the ledger", 0.5,
        )  # fmt: skip
        stored = count(pg_dsn, "SELECT count(*) FROM readings") + count(
            pg_dsn, "SELECT count(*) FROM readings_text"
        )
        assert stored == sent.samples > 0
        assert count(pg_dsn, "SELECT count(*) FROM sparkplug_messages") == sent.messages + 1
        assert count(pg_dsn, "SELECT count(*) FROM dead_letters") == 0
        check_figures(pg_dsn, model, True)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_rebalance_mid_batch_hands_partitions_over_after_the_commit(
    mosquitto_factory: Callable[..., MosquittoServer], tansu: TansuServer, pg_dsn: str
) -> None:
    """Collector A's batches are slow (injected); B joins while one is in flight. A gives its
    partitions up only after that batch committed and its offsets with it: B starts after them,
    so nothing is read twice and nothing is lost."""
    broker = mosquitto_factory()
    migrate(pg_dsn)
    topic, group = unique("handover"), unique("collectors")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    stop = asyncio.Event()
    bridge = _bridge(broker, tansu, topic)
    a, b = (_collector(pg_dsn, broker, tansu, topic, group) for _ in range(2))
    write = a._write

    def slow_write(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.4)  # fault injection: a slow database, so a batch is in flight at the rebalance
        return write(*args, **kwargs)

    a._write = slow_write  # type: ignore[method-assign]
    tasks = [asyncio.create_task(x.run(stop)) for x in (bridge, a)]
    try:
        await wait_until(lambda: _all_hold_partitions([a]), 60, "a holds partitions")
        model, shape = plant()
        out = Published()
        gateways = gateways_on_distinct_partitions(4, PARTITIONS)
        sender = threading.Thread(target=publish, args=(model, shape, broker.url, gateways, out, 0.2, 40))
        sender.start()
        await wait_until(
            lambda: count(pg_dsn, "SELECT count(*) FROM envelopes") >= 300, 120, "300 stored", 0.2
        )
        tasks.append(asyncio.create_task(b.run(stop)))
        await wait_until(lambda: _all_hold_partitions([a, b]), 60, "a and b share the partitions")
        await asyncio.to_thread(sender.join)
        await wait_until(
            lambda: count(pg_dsn, "SELECT count(*) FROM envelopes") >= out.envelopes, 120, "all stored", 0.5
        )
        assert count(pg_dsn, "SELECT count(*) FROM envelopes") == out.envelopes
        rows = count(pg_dsn, "SELECT count(*) FROM readings") + count(
            pg_dsn, "SELECT count(*) FROM readings_text"
        )
        assert rows == out.samples
        assert count(pg_dsn, "SELECT count(*) FROM dead_letters") == 0
        assert a.metrics.kafka_rebalances._value.get() >= 2  # its first assignment, then the one with b
        overtaken = [c.metrics.kafka_errors.labels("commit_overtaken")._value.get() for c in (a, b)]
        duplicates = [c.metrics.duplicates._value.get() for c in (a, b)]
        assert overtaken == [0, 0] and duplicates == [0, 0], (overtaken, duplicates)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
