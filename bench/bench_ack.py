"""The cost of end-to-end acknowledgement: gateway → Mosquitto → collector → PostgreSQL, end to end.

The same gateway (in this process, fed flat out) and the same collector (its own process) run twice:
with end-to-end acknowledgement (the collector publishes `$stored` after each commit; the gateway
keeps every envelope until the watermark covers it) and without (the gateway deletes on PUBACK, the
collector publishes no watermark). Each run is timed from the first reading fed until PostgreSQL
holds every one; the run without is the ceiling. The runs alternate, `--repeat` times each, and
the best of each counts (the machine's other work only ever slows a run down).

    python -m bench.bench_ack [--points 200000] [--devices 40] [--batch 500] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
import yaml

from adapters.base import RawReading
from bench.report import emit
from collector.migrate import migrate
from gateway.config import load_config
from gateway.runner import Gateway
from tests.processes import Collector, collector_config
from tests.servers import MosquittoServer, PostgresServer

POINTS = ("spindle_speed", "spindle_temp", "energy", "parts_total", "parts_good")


def _stored(dsn: str) -> int:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
    except psycopg.OperationalError:
        return -1
    return int(row[0]) if row else 0


async def run(
    work: Path, broker: MosquittoServer, dsn: str, acknowledge: bool, args: argparse.Namespace, n: int
) -> dict[str, float]:
    name = f"{'ack' if acknowledge else 'puback'}{n}"
    config = collector_config(
        work / f"{name}-collector.yaml", dsn, broker.host, broker.port, acknowledge=acknowledge
    )
    collector = Collector(config, work / f"{name}-collector.log")
    devices = [f"d{i}" for i in range(args.devices)]
    gateway_yaml = work / f"{name}-gateway.yaml"
    device = {"type": "cnc_machine.yaml", "protocol": "modbus", "endpoint": {"host": "127.0.0.1"},
              "edge": {"default": {"max_silence_s": 3600}}}  # fmt: skip
    gateway_yaml.write_text(
        yaml.safe_dump(
            {
                "site": f"bench-{name}",  # each run's devices at a site of their own: one owner each
                "gateway_id": f"gw-{name}",
                "mqtt": {"url": broker.url, "max_inflight": 100},
                "spool": {
                    "path": str(work / f"{name}.db"),
                    "delete_on": "stored" if acknowledge else "puback",
                },
                "batch": {"max_samples": args.batch, "max_age_s": 0.5},
                "devices": [{"id": d, **device} for d in devices],
            }
        )
    )
    collector.start()
    gateway = Gateway(load_config(gateway_yaml), connect_devices=False)
    task = asyncio.create_task(gateway.run())
    try:
        await gateway.started.wait()
        await asyncio.wait_for(gateway.client.connected.wait(), 30)
        await asyncio.sleep(2.0)  # the collector subscribed
        base = await asyncio.to_thread(_stored, dsn)
        fed, i = 0, 0
        started = time.perf_counter()
        while fed < args.points:
            ts = time.time_ns()
            for dev in devices:
                await gateway.ingest(dev, [RawReading(p, ts, i * 7 + k) for k, p in enumerate(POINTS)])
                fed += len(POINTS)
            i += 1
            if i % 20 == 0:
                await asyncio.sleep(0)
        await gateway.flush(everything=True)
        deadline = time.monotonic() + 300
        while await asyncio.to_thread(_stored, dsn) < base + fed:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: not all {fed} readings stored after 300 s")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        depth = gateway.spool.stats().depth
        return {"points_per_s": fed / elapsed, "fed": fed, "seconds": elapsed, "spool_left": depth}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        collector.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    work.chmod(0o755)
    broker = MosquittoServer(work / "mqtt", extra_conf="max_inflight_messages 20000")
    pg = PostgresServer(work / "pg")
    broker.start()
    pg.start()
    try:
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for n in range(args.repeat):
            for acknowledge in (False, True):
                dsn = pg.create_database()
                migrate(dsn)
                r = asyncio.run(run(work, broker, dsn, acknowledge, args, n))
                print(
                    f"run {n + 1}, {'with' if acknowledge else 'without'}: {r['points_per_s']:,.0f} points/s"
                )
                runs[acknowledge].append(r)
        without, with_ack = (max(runs[a], key=lambda r: r["points_per_s"]) for a in (False, True))
        for label, r in (("deleting on PUBACK", without), ("end-to-end acknowledgement", with_ack)):
            print(f"{label:>28}: {r['points_per_s']:>10,.0f} points/s ({r['fed']:,.0f} points in"
                  f" {r['seconds']:.1f} s; {r['spool_left']:.0f} envelopes left in the spool)")  # fmt: skip
        emit("gateway to database, end-to-end acknowledgement", with_ack["points_per_s"], "points/s",
             without["points_per_s"], "same pipeline deleting on PUBACK", target="close to 1")  # fmt: skip
    finally:
        broker.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
