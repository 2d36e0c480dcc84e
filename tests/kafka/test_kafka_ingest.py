"""The bridge and the collector's Kafka source in one process, against real Mosquitto, Tansu and
PostgreSQL: one pipeline with two sources."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

import wire
from collector.ingest import Pipeline
from collector.migrate import migrate
from infra.kafka import SIZE_HEADER, TOPIC_HEADER
from plantproof.embedded import MosquittoServer
from plantproof.embedded_kafka import MotoS3Server, TansuServer
from tests.kafka.ingestutil import PARTITIONS, bridge_for, collector_for
from tests.kafka.kafkautil import create_topic, unique, wait_until
from tests.kafka.plantpub import Published, gateways_on_distinct_partitions, plant, publish
from tests.plant_truth import check_figures, count


async def test_two_collectors_in_one_group_store_the_plant_once(
    mosquitto_factory: Callable[..., MosquittoServer], tansu: TansuServer, pg_dsn: str
) -> None:
    broker = mosquitto_factory()
    migrate(pg_dsn)
    topic, group = unique("plant"), unique("collectors")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    stop = asyncio.Event()
    bridge = bridge_for(broker, tansu, topic)
    collectors = [collector_for(pg_dsn, broker, tansu, topic, group) for _ in range(2)]
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
    bridge = bridge_for(broker, kafka, topic)
    collectors = [collector_for(pg_dsn, broker, kafka, topic, group) for _ in range(2)]
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
    collector = collector_for(pg_dsn, broker, tansu, topic, group)
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
    bridge = bridge_for(broker, tansu, topic, sparkplug_group_filter="#")
    collector = collector_for(pg_dsn, broker, tansu, topic, group, sources=["pp_v1", "sparkplug"])
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
    bridge = bridge_for(broker, tansu, topic)
    a, b = (collector_for(pg_dsn, broker, tansu, topic, group) for _ in range(2))
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
