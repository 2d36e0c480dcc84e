"""The pipeline on real Mosquitto and PostgreSQL: bad payloads end in dead_letters, the rest is stored."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import msgspec

import wire
from collector.ingest import Pipeline
from collector.settings import load_settings
from tests.collector.conftest import birth, data, temps, topic
from tests.collector.mqttutil import Publisher, scalar, wait_until
from tests.servers import MosquittoServer


def _good(seq: int, n: int = 50) -> tuple[str, bytes]:
    return topic("data"), wire.encode(data("gw1", "m1", seq, temps(n)))


def _raw(gw: str, dev: str, seq: int, samples: list[list[object]]) -> bytes:
    return msgspec.json.encode(
        {
            "schema": "plantproof.data/1",
            "gw": gw,
            "dev": dev,
            "seq": seq,
            "sent": time.time_ns(),
            "samples": samples,
        }
    )


def bad_payloads() -> dict[str, tuple[str, bytes]]:
    now = time.time_ns()
    return {
        "malformed": (topic("data"), b'{"schema": "plantproof.data/1", "gw": '),
        "unknown schema": (topic("data"), b'{"schema": "plantproof.data/9", "gw": "gw1"}'),
        "oversized": (topic("data"), _raw("gw1", "m1", 90, [["temp", now, 1.0, 0]] * 9000)),
        "future timestamp": (topic("data"), _raw("gw1", "m1", 91, [["temp", now + 86_400 * 10**9, 1.0, 0]])),
        "gw mismatch": (topic("data"), _raw("gw2", "m1", 92, [["temp", now, 1.0, 0]])),
        "dev mismatch": (topic("data"), _raw("gw1", "m2", 93, [["temp", now, 1.0, 0]])),
        "point not in birth": (topic("data"), _raw("gw1", "m1", 94, [["spindle", now, 1.0, 0]])),
        "non-numeric": (topic("data"), _raw("gw1", "m1", 95, [["temp", now, "hot", 0]])),
        "no birth": (topic("data", dev="ghost"), _raw("gw1", "ghost", 96, [["temp", now, 1.0, 0]])),
        "unknown kind": ("pp/v1/s1/gw1/m1/telemetry", _raw("gw1", "m1", 97, [["temp", now, 1.0, 0]])),
        "bad state": (topic("data"), _raw("gw1", "m1", 98, [["state", now, "exploded", 0]])),
        "bad status": ("pp/v1/s1/gw1/$status", b"maybe"),
        "null with good quality": (topic("data"), _raw("gw1", "m1", 99, [["temp", now, None, 0]])),
        "wrong schema for topic": (topic("data"), wire.encode(birth(seq=100))),
    }


async def test_bad_payloads_are_dead_lettered_and_good_traffic_is_stored(
    db: str, mqtt_broker: MosquittoServer
) -> None:
    settings = load_settings(
        None,
        dsn=db,
        metrics_port=None,
        mqtt={"url": mqtt_broker.url, "client_id": f"c-{uuid.uuid4().hex[:8]}",
              "group": f"g{uuid.uuid4().hex[:6]}"},
        limits={"max_payload_bytes": 200_000},
        batch={"max_age_ms": 50},
    )  # fmt: skip
    pipeline = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    await asyncio.wait_for(pipeline_connected(pipeline), 30)
    bad = bad_payloads()
    items = [(topic("birth"), wire.encode(birth(seq=0))), _good(1)]
    for i, item in enumerate(bad.values()):
        items += [item, _good(2 + i)]
    pub = Publisher(mqtt_broker.host, mqtt_broker.port)
    await asyncio.to_thread(pub.publish, items)
    pub.close()
    expected_rows = 50 * (1 + len(bad))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = await asyncio.to_thread(scalar, db, "SELECT count(*) FROM readings")
        dead = await asyncio.to_thread(scalar, db, "SELECT count(*) FROM dead_letters")
        if rows >= expected_rows and dead >= len(bad):
            break
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert rows == expected_rows
    assert dead == len(bad), "each bad payload is one dead letter"
    assert await asyncio.to_thread(scalar, db, "SELECT count(*) FROM dead_letters WHERE error = ''") == 0
    m = pipeline.metrics
    assert m.dead_letters._value.get() == len(bad)
    assert m.stored_rows._value.get() == expected_rows


async def pipeline_connected(pipeline: Pipeline) -> None:
    while pipeline.source is None:  # noqa: ASYNC110 - created by the running task
        await asyncio.sleep(0.05)
    await pipeline.source.connected.wait()


async def test_two_collectors_in_one_group_split_the_load(db: str, mqtt_broker: MosquittoServer) -> None:
    group = f"g{uuid.uuid4().hex[:6]}"
    pipelines = [
        Pipeline(
            load_settings(
                None, dsn=db, metrics_port=None, batch={"max_age_ms": 20, "max_messages": 10},
                mqtt={"url": mqtt_broker.url, "group": group,
                      "client_id": f"c-{uuid.uuid4().hex[:8]}"},
            )
        )
        for _ in range(2)
    ]  # fmt: skip
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in pipelines]
    for p in pipelines:
        await asyncio.wait_for(pipeline_connected(p), 30)
    pub = Publisher(mqtt_broker.host, mqtt_broker.port)
    await asyncio.to_thread(pub.publish, [(topic("birth"), wire.encode(birth(seq=0)))], retain=False)
    await poll(lambda: scalar(db, "SELECT count(*) FROM devices") >= 1, 30)
    await asyncio.to_thread(pub.publish, [_good(1 + i, 10) for i in range(400)])
    pub.close()
    await poll(lambda: scalar(db, "SELECT count(*) FROM readings") >= 4000, 60)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert await asyncio.to_thread(scalar, db, "SELECT count(*) FROM readings") == 4000
    shares = [p.metrics.stored_rows._value.get() for p in pipelines]
    assert sum(shares) == 4000 and min(shares) > 0, shares
    assert sum(p.metrics.duplicates._value.get() for p in pipelines) == 0


async def poll(check: Callable[[], bool], seconds: float) -> None:
    """Wait (off the event loop) until `check()` holds; the loop keeps serving the pipelines."""
    await asyncio.to_thread(wait_until, check, seconds, "condition")
