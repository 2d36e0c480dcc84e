"""The bridge and the collector's Kafka source in one process, against real Mosquitto, Tansu and
PostgreSQL: one pipeline with two sources."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from bridge.forward import Bridge
from bridge.settings import load_settings as bridge_settings
from collector.ingest import Pipeline
from collector.migrate import migrate
from collector.settings import load_settings as collector_settings
from plantproof.embedded import MosquittoServer
from plantproof.embedded_kafka import TansuServer
from tests.kafka.kafkautil import create_topic, unique, wait_until
from tests.kafka.plantpub import Published, gateways_on_distinct_partitions, plant, publish
from tests.plant_truth import check_figures, count

PARTITIONS = 4


def _bridge(broker: MosquittoServer, tansu: TansuServer, topic: str, **extra: Any) -> Bridge:
    settings = bridge_settings(
        None,
        metrics_port=None,
        mqtt={"url": broker.url, "client_id": unique("bridge")},
        kafka={"bootstrap_servers": [tansu.bootstrap], "topic": topic},
        **extra,
    )
    return Bridge(settings)


def _collector(dsn: str, broker: MosquittoServer, tansu: TansuServer, topic: str, group: str) -> Pipeline:
    settings = collector_settings(
        None,
        dsn=dsn,
        metrics_port=None,
        source="kafka",
        mqtt={"url": broker.url, "client_id": unique("collector")},
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
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
