"""An in-process bridge and collectors on the test servers, for the Kafka path tests."""

from __future__ import annotations

from typing import Any

from bridge.forward import Bridge
from bridge.settings import load_settings as bridge_settings
from collector.ingest import Pipeline
from collector.settings import load_settings as collector_settings
from plantproof.embedded import MosquittoServer
from plantproof.embedded_kafka import TansuServer
from tests.kafka.kafkautil import unique

PARTITIONS = 4


def bridge_for(
    broker: MosquittoServer, tansu: TansuServer, topic: str, limits: dict[str, int] | None = None, **mqtt: Any
) -> Bridge:
    settings = bridge_settings(
        None,
        metrics_port=None,
        mqtt={"url": broker.url, "client_id": unique("bridge"), **mqtt},
        kafka={"bootstrap_servers": [tansu.bootstrap], "topic": topic},
        limits=limits or {},
    )
    return Bridge(settings)


def collector_for(
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
