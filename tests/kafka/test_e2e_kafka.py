"""End to end over Kafka with real processes: a plant's history published by four gateways to
Mosquitto → the bridge → Tansu (4 partitions) → collectors in one consumer group → PostgreSQL.

One run, faults as it goes: collector A is killed (-9) once some of the history is stored, then the
bridge (and started again), then collector C joins. Stored = published, nothing twice, no dead
letters, figures and claim estimates equal the plant's ground truth, and every gateway's `$stored`
watermark reaches its last envelope: the end-to-end acknowledgement works on this path.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml

import wire
from collector.migrate import migrate
from plantproof.embedded import MosquittoServer
from plantproof.embedded_kafka import TansuServer
from tests.collector.mqttutil import wait_until
from tests.kafka.kafkautil import create_topic, unique
from tests.kafka.plantpub import Published, gateways_on_distinct_partitions, plant, publish
from tests.plant_truth import check_claims, check_figures, count
from tests.processes import Collector, Process, collector_config

PARTITIONS = 4
ASSIGNED = re.compile(r"Kafka partitions assigned: (\d[\d,]*)")
# Group changes on Tansu take up to ~20 s (docs/kafka.md): generous timeouts, never sleeps.
GROUP_S = 60.0


class Bridge(Process):
    def __init__(self, config: Path, log: Path) -> None:
        super().__init__(["-m", "bridge.cli", "run", "-c", str(config)], log)


def _bridge_config(path: Path, broker: MosquittoServer, tansu: TansuServer, topic: str) -> Path:
    data = {
        "metrics_port": None,
        "mqtt": {"url": broker.url, "client_id": "e2e-bridge"},
        "kafka": {"bootstrap_servers": [tansu.bootstrap], "topic": topic},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def _collector(tmp: Path, name: str, dsn: str, broker: MosquittoServer, kafka: dict[str, Any]) -> Collector:
    config = collector_config(
        tmp / f"{name}.yaml", dsn, broker.host, broker.port, source="kafka",
        kafka={**kafka, "client_id": f"collector-{name}"},
    )  # fmt: skip
    return Collector(config, tmp / f"{name}.log")


def _holds_partitions(process: Process) -> bool:
    return bool(ASSIGNED.findall(process.output()))


class Watermarks:
    """The retained `$stored` watermarks the collectors publish, per gateway."""

    def __init__(self, broker: MosquittoServer) -> None:
        self.seen: dict[str, int] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("marks"))
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(wire.gateway_filter("$stored"), qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        stored = wire.decode_stored(msg.payload)
        self.seen[stored.gw] = max(self.seen.get(stored.gw, -1), stored.seq)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.slow
def test_kills_and_a_joining_collector_lose_nothing_and_store_nothing_twice(
    mosquitto_factory: Callable[..., MosquittoServer], tansu: TansuServer, pg_server: Any, tmp_path: Path
) -> None:
    broker = mosquitto_factory()
    dsn = pg_server.create_database()
    migrate(dsn)
    topic, group = unique("e2e"), unique("collectors")
    asyncio.run(create_topic(tansu.bootstrap, topic, PARTITIONS))
    kafka = {"bootstrap_servers": [tansu.bootstrap], "topic": topic, "group_id": group}
    bridge_config = _bridge_config(tmp_path / "bridge.yaml", broker, tansu, topic)
    bridge = Bridge(bridge_config, tmp_path / "bridge.log")
    a, b, c = (_collector(tmp_path, n, dsn, broker, kafka) for n in ("a", "b", "c"))
    processes: list[Process] = [bridge, a, b]
    marks = Watermarks(broker)
    try:
        for p in processes:
            p.start()
        wait_until(lambda: _holds_partitions(a) and _holds_partitions(b), GROUP_S, "a and b in the group")
        wait_until(lambda: "MQTT connected" in bridge.output(), 30, "the bridge subscribed")
        model, shape = plant()
        out = Published()
        gateways = gateways_on_distinct_partitions(4, PARTITIONS)
        sender = threading.Thread(target=publish, args=(model, shape, broker.url, gateways, out, 0.25, 40))
        sender.start()
        expected = 1920  # envelopes of the plant at this shape (checked against the publisher below)

        def stored_at_least(fraction: float) -> Callable[[], bool]:
            return lambda: count(dsn, "SELECT count(*) FROM envelopes") >= fraction * expected

        wait_until(stored_at_least(0.15), 120, "15 % stored")
        a.kill()
        wait_until(stored_at_least(0.35), 120, "35 % stored after collector a was killed")
        bridge.kill()
        bridge = Bridge(bridge_config, tmp_path / "bridge.log")
        processes.append(bridge)
        bridge.start()
        wait_until(stored_at_least(0.55), 120, "55 % stored after the bridge was killed")
        before = len(ASSIGNED.findall(b.output()))
        processes.append(c)
        c.start()
        wait_until(lambda: _holds_partitions(c), GROUP_S, "c took partitions")
        sender.join(120)
        assert out.done.is_set() and out.envelopes == expected
        wait_until(stored_at_least(1.0), 180, "everything stored")
        assert len(ASSIGNED.findall(b.output())) > before, "b was not rebalanced when c joined"

        assert count(dsn, "SELECT count(*) FROM envelopes") == out.envelopes
        rows = count(dsn, "SELECT count(*) FROM readings") + count(dsn, "SELECT count(*) FROM readings_text")
        assert (
            rows == count(dsn, "SELECT coalesce(sum(n), 0) FROM envelopes WHERE kind = 'data'") == out.samples
        )
        assert count(dsn, "SELECT count(*) FROM dead_letters") == 0
        check_figures(dsn, model, True)
        check_claims(dsn, model, tmp_path)
        wait_until(lambda: marks.seen == out.last_seq, 60, f"watermarks {out.last_seq} (seen {marks.seen})")
        assert all(p.alive() for p in (bridge, b, c))
    finally:
        marks.close()
        for p in processes:
            if p.alive():
                p.stop()
