"""A simulated plant's history published over MQTT by several gateways, one per device, so that the
bridge spreads it over several Kafka partitions (gateway ids chosen to land on distinct ones)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import msgspec
from aiokafka.partitioner import murmur2

import wire
from simulators.backfill import Shape, envelopes
from simulators.mqttpub import publisher
from simulators.plant import PlantModel
from simulators.plantfile import load_plant
from simulators.scenario import to_ns


@dataclass
class Published:
    envelopes: int = 0
    samples: int = 0
    last_seq: dict[str, int] = field(default_factory=dict)  # gateway -> highest seq sent
    done: threading.Event = field(default_factory=threading.Event)


def gateways_on_distinct_partitions(count: int, partitions: int, prefix: str = "kgw") -> list[str]:
    """`count` gateway ids whose key `site/gw` lands on `count` distinct partitions (murmur2, as
    aiokafka's and the Java client's default partitioner)."""
    chosen: dict[int, str] = {}
    n = 0
    while len(chosen) < count:
        gw = f"{prefix}-{n}"
        partition = (murmur2(f"site-t/{gw}".encode()) & 0x7FFFFFFF) % partitions
        chosen.setdefault(partition, gw)
        n += 1
    return list(chosen.values())


def plant(batch: int = 40) -> tuple[PlantModel, Shape]:
    model = load_plant("test-small")
    return PlantModel(model, to_ns(model.start), to_ns(model.end)), Shape(interval_s=600, batch=batch)


def publish(
    model: PlantModel, shape: Shape, url: str, gateways: list[str], out: Published, pace_s: float = 0.0,
    chunk: int = 50,
) -> None:  # fmt: skip
    """Each device's envelopes under its own gateway (renumbered 0, 1, … per gateway), QoS 1, births
    retained; `pace_s` between chunks of `chunk` envelopes spreads the run out."""
    start, end = model.start_ns, model.end_ns
    owner = {d.id: gateways[i % len(gateways)] for i, d in enumerate(model.plant.devices)}
    seqs: Counter[str] = Counter()
    with publisher(url, "kafka-e2e-publisher", window=500) as pub:
        for n, (_topic, env) in enumerate(envelopes(model, start, end, shape)):
            gw = owner[env.dev]
            env = msgspec.structs.replace(env, gw=gw, seq=seqs[gw])
            out.last_seq[gw] = seqs[gw]
            seqs[gw] += 1
            kind = "birth" if isinstance(env, wire.Birth) else "data"
            site = next(d.site for d in model.plant.devices if d.id == env.dev)
            pub.publish(wire.device_topic(site, gw, env.dev, kind), wire.encode(env), retain=kind == "birth")
            out.envelopes += 1
            if isinstance(env, wire.Data):
                out.samples += len(env.samples)
            if pace_s and n % chunk == chunk - 1:
                pub.flush()
                time.sleep(pace_s)  # pacing a publisher thread, not waiting for a condition
    out.done.set()
