"""Collector ingest throughput: publisher → Mosquitto → collector pipeline → PostgreSQL, end to end.

In the same run it measures the ceiling: a bare paho subscriber whose loop decodes the same envelopes
without validation, registry or ledger and COPYs the rows in the same binary format. Prints points/s
of both and their ratio. The publisher is a separate process; servers are started on free ports.

    python -m bench.bench_ingest [--points 1000000] [--per-envelope 100] [--plain]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import paho.mqtt.client as mqtt
import psycopg

import wire
from bench.report import emit
from collector.ingest import Pipeline
from collector.migrate import migrate
from collector.settings import load_settings
from collector.store import copy_payload
from tests.servers import MosquittoServer, PostgresServer

SITE, GW = "bench", "gw1"
DEVICES = [f"m{i}" for i in range(20)]
POINTS = [wire.PointInfo(f"p{i}", "analog", "float64") for i in range(10)]
INFO = wire.DeviceInfo("cnc_machine", "C34", "discrete", simulated=True)


def _envelopes(points: int, per: int, start_ns: int) -> list[tuple[str, bytes]]:
    out = []
    for k in range(points // per):
        dev = DEVICES[k % len(DEVICES)]
        first = start_ns + k * per * 1000
        samples = [(POINTS[i % len(POINTS)].name, first + i * 1000, float(i) * 0.5, 0) for i in range(per)]
        env = wire.Data(GW, dev, k + 1, time.time_ns(), samples)
        out.append((wire.device_topic(SITE, GW, dev, "data"), wire.encode(env)))
    return out


def _publisher(host: str, port: int, points: int, per: int, ready: Any, go: Any) -> None:
    items = _envelopes(points, per, time.time_ns() - 3_600 * 10**9)
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5
    )
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(host, port)
    c.loop_start()
    ready.set()
    go.wait()
    infos = [c.publish(t, p, qos=1) for t, p in items]
    for info in infos:
        info.wait_for_publish()
    c.disconnect()
    c.loop_stop()


def _births() -> list[tuple[str, bytes]]:
    return [
        (
            wire.device_topic(SITE, GW, d, "birth"),
            wire.encode(wire.Birth(GW, d, 10**12 + i, time.time_ns(), INFO, POINTS)),
        )
        for i, d in enumerate(DEVICES)  # seq is per gateway: births after the data
    ]


def _publish_births(broker: MosquittoServer) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect(broker.host, broker.port)
    c.loop_start()
    for t, p in _births():
        c.publish(t, p, qos=1, retain=True).wait_for_publish()
    c.disconnect()
    c.loop_stop()


def _start_publisher(broker: MosquittoServer, points: int, per: int) -> tuple[Any, Any]:
    ctx = mp.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_publisher, args=(broker.host, broker.port, points, per, ready, go))
    proc.start()
    ready.wait(120)
    return proc, go


def bare_loop(broker: MosquittoServer, dsn: str, points: int, per: int) -> float:
    """Ceiling: QoS 1 subscriber (auto ack) + msgspec decode + binary COPY, point ids from a dict."""
    migrate(dsn)  # the same readings table, partitions and indexes the collector writes into
    ids = {p.name: i for i, p in enumerate(POINTS)}
    lock = threading.Condition()
    pending: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bare", protocol=mqtt.MQTTv5)

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with lock:
            pending.append(bytes(msg.payload))
            lock.notify()

    sub.on_message = on_message
    sub.connect(broker.host, broker.port)
    sub.subscribe("pp/v1/bench/+/+/data", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    proc, go = _start_publisher(broker, points, per)
    decoder = msgspec.json.Decoder()
    stored = 0
    started = time.perf_counter()
    go.set()
    with psycopg.connect(dsn) as conn:
        while stored < points:
            with lock:
                while not pending:
                    lock.wait()
                batch, pending[:] = list(pending), []
            t, p, v, q = [], [], [], []
            for payload in batch:
                for name, ts, value, quality in decoder.decode(payload)["samples"]:
                    t.append(ts)
                    p.append(ids[name])
                    v.append(value)
                    q.append(quality)
            data = copy_payload(np.array(t, np.int64), np.array(p, np.int32), np.array(v, np.float64),
                                np.array(q, np.int16), np.zeros(len(t), np.int64))  # fmt: skip
            columns = "time, point_id, value, quality, envelope_id"
            with conn.cursor().copy(f"COPY readings ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)
            conn.commit()
            stored += len(t)
    elapsed = time.perf_counter() - started
    sub.disconnect()
    sub.loop_stop()
    proc.join()
    return points / elapsed


async def _pipeline(broker: MosquittoServer, dsn: str, points: int, per: int) -> float:
    settings = load_settings(
        None,
        dsn=dsn,
        metrics_port=None,
        mqtt={"url": broker.url, "client_id": "bench-c"},
    )
    pipeline = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while pipeline.metrics.stored_envelopes._value.get() < len(DEVICES):  # noqa: ASYNC110 - births in
        await asyncio.sleep(0.05)
    proc, go = await asyncio.to_thread(_start_publisher, broker, points, per)
    started = time.perf_counter()
    go.set()
    while pipeline.metrics.stored_rows._value.get() < points:  # noqa: ASYNC110 - polls a metric
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await asyncio.to_thread(proc.join)
    return points / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--per-envelope", type=int, default=100)
    ap.add_argument(
        "--plain", action="store_true", help="plain PostgreSQL even where TimescaleDB is installed"
    )
    ap.add_argument("--switch-interval", type=float, default=None, help="sys.setswitchinterval for the run")
    args = ap.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    work = Path(tempfile.mkdtemp(prefix="plantproof-bench-"))
    work.chmod(0o755)
    # Acknowledging after commit keeps up to a batch cycle of messages in flight: allow the window.
    broker = MosquittoServer(work / "mqtt", extra_conf="max_inflight_messages 20000")
    pg = PostgresServer(work / "pg", timescaledb=False if args.plain else None)
    broker.start()
    pg.start()
    try:
        bare_dsn, dsn = pg.create_database(), pg.create_database()
        migrate(dsn)
        ceiling = bare_loop(broker, bare_dsn, args.points, args.per_envelope)
        _publish_births(broker)
        rate = asyncio.run(_pipeline(broker, dsn, args.points, args.per_envelope))
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
        assert row is not None and row[0] == args.points, f"stored {row} of {args.points}"
        storage = "TimescaleDB" if pg.timescaledb else "plain PostgreSQL"
        print(f"points: {args.points:,} in {args.per_envelope}-sample envelopes; storage: {storage}")
        print(f"bare paho subscriber + COPY (ceiling): {ceiling:>12,.0f} points/s")
        print(f"collector end to end:                  {rate:>12,.0f} points/s")
        print(f"ratio collector / ceiling:             {rate / ceiling:>12.2f}  (target >= 0.8)")
        print(f"ratio collector / 200,000 points/s:    {rate / 200_000:>12.2f}  (target >= 1.0)")
        emit("collector end to end", rate, "points/s", ceiling, "bare paho subscriber + COPY",
             target=">= 0.8 of ceiling, >= 200,000 points/s")  # fmt: skip
    finally:
        broker.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
