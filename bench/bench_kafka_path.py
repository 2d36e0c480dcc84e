"""The Kafka ingest path against the MQTT one, and the bridge against a bare producer, in one run.

    python -m bench.bench_kafka_path [--points 200000] [--per-envelope 100] [--partitions 4]

Servers (Mosquitto, PostgreSQL, the embedded Tansu broker on memory storage) start on free ports.
  - collector points/s: the MQTT path as bench_ingest measures it (publisher → Mosquitto → one
    collector, live), the MQTT path draining a backlog (the envelopes queued in the collector's
    session while it was stopped), and the Kafka path: the same envelopes already in a Kafka topic
    (with the bridge's key and topic header), read by one collector with `source: kafka` until
    every row is stored. Ratio Kafka backlog / MQTT backlog (target >= 0.8).
  - bridge messages/s: the same envelopes queued in the bridge's MQTT session while it is stopped,
    then forwarded by a new bridge run until Kafka acknowledged all of them (the publisher is not
    part of the time), against a bare aiokafka producer (acks=all, the bridge's linger and batch
    size) sending the same records.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.bench_ingest import DEVICES, _births, _envelopes, _pipeline, _publish_births, _start_publisher
from bench.report import emit
from bridge.forward import Bridge
from bridge.keys import partition_key
from bridge.settings import load_settings as bridge_settings
from collector.ingest import Pipeline
from collector.migrate import migrate
from collector.settings import load_settings as collector_settings
from infra.kafka import TOPIC_HEADER
from plantproof.embedded_kafka import TansuServer
from tests.kafka.kafkautil import create_topic
from tests.servers import MosquittoServer, PostgresServer

Items = list[tuple[str, bytes]]


async def bare_produce(bootstrap: str, topic: str, items: Items) -> float:
    """messages/s of a bare producer sending `items` as the bridge would (key, header, acks=all)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
    )  # fmt: skip
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=p, key=partition_key(t), headers=[(TOPIC_HEADER, t.encode())])
            for t, p in items
        ]
        await asyncio.gather(*futures)
        return len(items) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def kafka_collector(
    bootstrap: str, topic: str, dsn: str, broker: MosquittoServer, points: int
) -> float:
    """points/s of one collector reading a topic that already holds the births and `points` samples."""
    settings = collector_settings(
        None, dsn=dsn, metrics_port=None, source="kafka",
        mqtt={"url": broker.url, "client_id": f"bench-k-{uuid.uuid4().hex[:6]}"},
        kafka={"bootstrap_servers": [bootstrap], "topic": topic, "group_id": f"g-{uuid.uuid4().hex[:6]}"},
    )  # fmt: skip
    pipeline = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while pipeline.metrics.stored_envelopes._value.get() < len(DEVICES):  # noqa: ASYNC110 - births in
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    while pipeline.metrics.stored_rows._value.get() < points:  # noqa: ASYNC110 - polls a metric
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return points / elapsed


async def mqtt_backlog_collector(broker: MosquittoServer, dsn: str, points: int, per: int) -> float:
    """points/s of one collector draining its MQTT session, which holds `points` samples queued while
    it was stopped: the MQTT counterpart of a Kafka topic that already holds them."""
    client_id = f"bench-q-{uuid.uuid4().hex[:6]}"
    settings = collector_settings(
        None, dsn=dsn, metrics_port=None, mqtt={"url": broker.url, "client_id": client_id}
    )
    first = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    while first.metrics.stored_envelopes._value.get() < len(DEVICES):  # noqa: ASYNC110 - retained births in
        await asyncio.sleep(0.01)
    stop.set()
    await task
    proc, go = await asyncio.to_thread(_start_publisher, broker, points, per)
    go.set()
    await asyncio.to_thread(proc.join)
    second = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(second.run(stop))
    while second.source is None or not second.source.connected.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    started = time.perf_counter()
    while second.metrics.stored_rows._value.get() < points:  # noqa: ASYNC110 - polls a metric
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return points / elapsed


async def bridge_rate(bootstrap: str, topic: str, broker: MosquittoServer, points: int, per: int) -> float:
    """messages/s through the bridge alone: its session is made, the envelopes are queued in it while
    it is stopped, then a new run forwards them until Kafka acknowledged them all."""
    client_id = f"bench-b-{uuid.uuid4().hex[:6]}"
    settings = bridge_settings(
        None, metrics_port=None, mqtt={"url": broker.url, "client_id": client_id},
        kafka={"bootstrap_servers": [bootstrap], "topic": topic},
    )  # fmt: skip
    await _bridge_until(Bridge(settings), lambda b: True)  # subscribed: the session now queues for it
    proc, go = await asyncio.to_thread(_start_publisher, broker, points, per)
    go.set()
    await asyncio.to_thread(proc.join)
    messages = points // per + len(DEVICES)  # and the retained births
    return messages / await _bridge_until(
        Bridge(settings), lambda b: b.metrics.produced._value.get() >= messages
    )


async def _bridge_until(bridge: Bridge, done: Callable[[Bridge], bool]) -> float:
    """Run `bridge` until `done`; seconds from its MQTT connection to `done`."""
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    while bridge.source is None or not bridge.source.connected.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    connected = time.perf_counter()
    while not done(bridge):  # noqa: ASYNC110 - polls a metric
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - connected
    await asyncio.sleep(0.3)  # SUBACK
    stop.set()
    await task
    return elapsed


async def run(
    args: argparse.Namespace, broker: MosquittoServer, pg: PostgresServer, tansu: TansuServer
) -> None:
    points, per = args.points, args.per_envelope
    mqtt_dsn, backlog_dsn, kafka_dsn = pg.create_database(), pg.create_database(), pg.create_database()
    for dsn in (mqtt_dsn, backlog_dsn, kafka_dsn):
        migrate(dsn)
    _publish_births(broker)
    mqtt_rate = await _pipeline(broker, mqtt_dsn, points, per)
    backlog_rate = await mqtt_backlog_collector(broker, backlog_dsn, points, per)
    items: Items = _births() + _envelopes(points, per, time.time_ns() - 3_600 * 10**9)
    filled, bridged, bare = "filled", "bridged", "bare"
    for name in (filled, bridged, bare):
        await create_topic(tansu.bootstrap, name, args.partitions)
    await bare_produce(tansu.bootstrap, filled, items)
    kafka_rate = await kafka_collector(tansu.bootstrap, filled, kafka_dsn, broker, points)
    bare_rate = await bare_produce(tansu.bootstrap, bare, items[len(DEVICES) :])
    bridge_msgs = await bridge_rate(tansu.bootstrap, bridged, broker, points, per)
    print(f"points: {points:,} in {per}-sample envelopes; {args.partitions} partitions, memory storage")
    print(f"collector, MQTT live:     {mqtt_rate:>12,.0f} points/s  (publisher running)")
    print(f"collector, MQTT backlog:  {backlog_rate:>12,.0f} points/s  (its session held them)")
    print(f"collector, Kafka backlog: {kafka_rate:>12,.0f} points/s  ratio {kafka_rate / backlog_rate:.2f}")
    print(f"bare aiokafka producer:   {bare_rate:>12,.0f} msgs/s")
    print(f"bridge MQTT -> Kafka:     {bridge_msgs:>12,.0f} msgs/s  ratio {bridge_msgs / bare_rate:.2f}")
    emit("collector points/s from Kafka", kafka_rate, "points/s", backlog_rate,
         "collector draining its MQTT session, same run", target=">= 0.8 of the MQTT path")  # fmt: skip
    emit("bridge msgs/s", bridge_msgs, "msgs/s", bare_rate, "bare aiokafka producer, same payloads")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--per-envelope", type=int, default=100)
    ap.add_argument("--partitions", type=int, default=4)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plantproof-bench-"))
    work.chmod(0o755)
    broker = MosquittoServer(work / "mqtt", extra_conf="max_inflight_messages 20000")
    pg = PostgresServer(work / "pg", timescaledb=False)
    tansu = TansuServer(work / "tansu")
    for server in (broker, pg, tansu):
        server.start()
    try:
        asyncio.run(run(args, broker, pg, tansu))
    finally:
        for server in (tansu, broker, pg):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
