"""aiokafka against the embedded Tansu broker: produce and consume rates, memory and S3 storage.

Run: python -m bench.bench_kafka [--messages N] [--s3-messages M] [--partitions P] [--batch-kb K]
                               [--no-groups]

Builds JSON v1 `data` envelopes of 76–152 samples (4–8 KB each), keyed by (site, gateway) over 40
gateways, then in one process and one run:
  - a ceiling: the same bytes (length-prefixed key and value) written through a loopback TCP socket
    into an asyncio server that discards them, the most this Python process moves over loopback;
  - memory storage: produce with acks=all (pipelined, linger 5 ms, batches up to K KB), then consume
    everything from offset 0 with an assigned consumer; also acks=all with aiokafka's default 16 KB
    batches, sequential send_and_wait latency, and acks=0 with the share of records that arrived
    (Tansu answers acks=0 produces; aiokafka drops the connection on each answer and loses some);
  - consumer groups on memory storage, with aiokafka's default session and heartbeat and with
    shorter ones: seconds until the partitions are split after each of three members joins and
    after one leaves (protocol timers, not throughput: no ceiling);
  - S3 storage (moto's S3 server on loopback): the same produce, consume and latency, with the
    memory-storage figures of this run as their ceilings.
Every consume counts what arrived: fewer records than were acknowledged is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import statistics
import struct
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

import wire
from bench.report import emit
from plantproof.embedded_kafka import MotoS3Server, TansuServer

T0_NS = 1_780_000_000_000_000_000
Record = tuple[bytes, bytes]  # key, value


def build(messages: int, seed: int = 11) -> tuple[list[Record], int]:
    """The keyed envelopes and the number of samples (points) they carry."""
    rng = random.Random(seed)
    points = 0
    gateways = [f"site-{s}/gw-{g:02d}" for s in "abcd" for g in range(10)]
    records = []
    for i in range(messages):
        gw = gateways[i % len(gateways)]
        samples: list[Any] = [
            (
                f"line{j % 4}/press{j % 9}/tag{j}",
                T0_NS + i * 1_000_000_000 + j,
                round(rng.uniform(0, 500), 3),
                0,
            )
            for j in range(rng.randint(76, 152))
        ]
        env = wire.Data(
            gw=gw, dev=f"press-{i % 7:02d}", seq=i, sent=T0_NS + i * 1_000_000_000, samples=samples
        )
        records.append((gw.encode(), wire.encode(env)))
        points += len(samples)
    return records, points


async def raw_tcp_rate(records: Sequence[Record]) -> float:
    """Messages/s of the same bytes through a loopback socket into a discarding server."""
    total = sum(8 + len(k) + len(v) for k, v in records)
    received = 0
    done = asyncio.Event()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        while chunk := await reader.read(1 << 20):
            received += len(chunk)
        done.set()
        writer.close()

    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        for i, (key, value) in enumerate(records):
            writer.write(struct.pack(">II", len(key), len(value)) + key + value)
            if i % 64 == 63:
                await writer.drain()
        await writer.drain()
        writer.close()
        await asyncio.wait_for(done.wait(), 60)
        elapsed = time.perf_counter() - start
    finally:
        server.close()
        await server.wait_closed()
    assert received == total, f"raw TCP sink got {received} of {total} bytes"
    return len(records) / elapsed


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def produce_rate(bootstrap: str, topic: str, records: Sequence[Record], **producer: Any) -> float:
    """Messages/s from the first send to the last acknowledgement (all sends pipelined)."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer)
    await p.start()
    try:
        start = time.perf_counter()
        futures = [await p.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - start)
    finally:
        await p.stop()


async def consume(bootstrap: str, topic: str, partitions: int, expected: int) -> tuple[float, int]:
    """(messages/s, records read) from offset 0 of every partition (assigned, no group), reading
    until `expected` records arrived or nothing came for 3 s."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await c.start()
    try:
        c.assign([TopicPartition(topic, p) for p in range(partitions)])
        got, idle, start = 0, 0, time.perf_counter()
        last = start
        while got < expected and idle < 3:
            batch = await c.getmany(timeout_ms=1000, max_records=10_000)
            n = sum(len(rs) for rs in batch.values())
            got, idle = got + n, 0 if n else idle + 1
            last = time.perf_counter() if n else last
    finally:
        await c.stop()
    return got / max(last - start, 1e-9), got


async def consume_rate(bootstrap: str, topic: str, partitions: int, expected: int) -> float:
    rate, got = await consume(bootstrap, topic, partitions, expected)
    if got != expected:
        raise RuntimeError(f"consumed {got} records of {topic}, expected {expected} (all acknowledged)")
    return rate


async def send_latency(bootstrap: str, topic: str, records: Sequence[Record]) -> tuple[float, float]:
    """Median and 99th percentile of one acks=all send_and_wait at a time, in milliseconds."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await p.start()
    try:
        took = []
        for key, value in records:
            start = time.perf_counter()
            await p.send_and_wait(topic, value=value, key=key)
            took.append((time.perf_counter() - start) * 1000)
    finally:
        await p.stop()
    cuts = statistics.quantiles(took, n=100)
    return statistics.median(took), cuts[98]


@contextmanager
def servers(s3: bool) -> Iterator[TansuServer]:
    workdir = Path(tempfile.mkdtemp(prefix="plantproof-bench-kafka-"))
    moto = MotoS3Server(workdir / "s3") if s3 else None
    broker: TansuServer | None = None
    try:
        if moto is not None:
            moto.start()
        broker = TansuServer(workdir / "tansu", s3=moto)
        broker.start()
        yield broker
    finally:
        if broker is not None:
            broker.stop()
        if moto is not None:
            moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)


GROUP_TIMINGS = {
    "aiokafka defaults (session 10 s, heartbeat 3 s)": {
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3000,
    },
    "session 6 s, heartbeat 0.5 s": {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500},
}


async def group_timings(bootstrap: str, partitions: int, timing: dict[str, int]) -> dict[str, float]:
    """Seconds until the partitions are split among all members: one member joining an empty
    group, a second and a third joining, then one leaving (a clean stop, which sends LeaveGroup)."""
    topic = group = f"timing-{timing['session_timeout_ms']}-{timing['heartbeat_interval_ms']}"
    await create_topic(bootstrap, topic, partitions)
    owned: list[set[int]] = []
    stops: list[asyncio.Event] = []
    tasks: list[asyncio.Task[None]] = []

    async def member(index: int) -> None:
        mine = owned[index]

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: Any) -> None:
                mine.clear()

            async def on_partitions_assigned(self, assigned: Any) -> None:
                mine.update(tp.partition for tp in assigned)

        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **timing)
        c.subscribe([topic], listener=Listener())
        await c.start()
        try:
            while not stops[index].is_set():
                await c.getmany(timeout_ms=100)
        finally:
            await c.stop()

    async def settled(live: list[int]) -> float:
        start = time.perf_counter()
        while time.perf_counter() - start < 120:
            sets = [owned[i] for i in live]
            if all(sets) and sum(map(len, sets)) == partitions == len(set().union(*sets)):
                return time.perf_counter() - start
            await asyncio.sleep(0.05)
        raise TimeoutError(f"partitions of {topic} not split among members {live} within 120 s")

    out: dict[str, float] = {}
    try:
        for index, label in enumerate(("first member", "second member joins", "third member joins")):
            owned.append(set())
            stops.append(asyncio.Event())
            tasks.append(asyncio.create_task(member(index)))
            out[label] = await settled(list(range(index + 1)))
        stops[1].set()
        await tasks[1]
        out["a member leaves"] = await settled([0, 2])
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks)
    return out


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0 where /proc cannot say)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """CPU seconds spent by this process, the broker and its S3 server over a phase."""

    def __init__(self, broker: TansuServer) -> None:
        self.pids = {
            "tansu": broker.proc.pid if broker.proc else None,
            "moto": broker.s3.proc.pid if broker.s3 and broker.s3.proc else None,
        }

    def __enter__(self) -> CpuShare:
        self.wall, self.client = time.perf_counter(), time.process_time()
        self.start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.wall
        parts = [f"client {time.process_time() - self.client:.1f}"]
        parts += [
            f"{name} {cpu_seconds(pid) - self.start[name]:.1f}" for name, pid in self.pids.items() if pid
        ]
        self.summary = f"CPU s over {wall:.1f} s wall: " + ", ".join(parts)


async def storage_run(
    broker: TansuServer, records: Sequence[Record], partitions: int, batch_bytes: int, label: str
) -> dict[str, float]:
    out: dict[str, float] = {}
    tuned = {"acks": "all", "linger_ms": 5, "max_batch_size": batch_bytes}
    await create_topic(broker.bootstrap, "all", partitions)
    with CpuShare(broker) as produce_cpu:
        out["produce"] = await produce_rate(broker.bootstrap, "all", records, **tuned)
    with CpuShare(broker) as consume_cpu:
        out["consume"] = await consume_rate(broker.bootstrap, "all", partitions, len(records))
    p50, p99 = await send_latency(broker.bootstrap, "all", records[:200])
    out["p50"], out["p99"] = p50, p99
    print(
        f"  {label}: produce {out['produce']:,.0f} msgs/s, consume {out['consume']:,.0f} msgs/s, "
        f"send_and_wait p50 {p50:.2f} ms p99 {p99:.2f} ms",
        flush=True,
    )
    print(f"    produce {produce_cpu.summary}; consume {consume_cpu.summary}", flush=True)
    return out


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


async def run(args: argparse.Namespace) -> None:
    print(f"  load average before: {load_average()} (2 cores shared: figures move with it)", flush=True)
    records, points = build(args.messages)
    mb = sum(len(v) for _, v in records) / 1e6
    print(
        f"  {len(records)} envelopes, {mb:.1f} MB, {mb * 1e6 / len(records) / 1000:.1f} KB and "
        f"{points / len(records):.0f} points mean; {args.partitions} partitions; batches up to "
        f"{args.batch_kb} KB",
        flush=True,
    )
    tcp = await raw_tcp_rate(records)
    print(f"  raw TCP loopback: {tcp:,.0f} msgs/s ({tcp * mb / len(records):,.0f} MB/s)", flush=True)
    batch_bytes = args.batch_kb * 1024
    with servers(s3=False) as broker:
        mem = await storage_run(broker, records, args.partitions, batch_bytes, "memory")
        await create_topic(broker.bootstrap, "default-batches", args.partitions)
        default_batches = await produce_rate(broker.bootstrap, "default-batches", records, acks="all")
        await create_topic(broker.bootstrap, "acks0", args.partitions)
        # Tansu answers acks=0 produces; aiokafka logs each unexpected answer and reconnects.
        aiokafka_log = logging.getLogger("aiokafka")
        level = aiokafka_log.level
        aiokafka_log.setLevel(logging.CRITICAL)
        try:
            acks0 = await produce_rate(
                broker.bootstrap, "acks0", records, acks=0, linger_ms=5, max_batch_size=batch_bytes
            )
        finally:
            aiokafka_log.setLevel(level)
        _, acks0_arrived = await consume(broker.bootstrap, "acks0", args.partitions, len(records))
        print(f"  acks=0: {acks0_arrived} of {len(records)} records arrived", flush=True)
        groups = (
            {
                label: await group_timings(broker.bootstrap, args.partitions, timing)
                for label, timing in GROUP_TIMINGS.items()
            }
            if args.groups
            else {}
        )
        for label, took in groups.items():
            print(f"  group, {label}: " + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()), flush=True)
    s3_records = records[: args.s3_messages]
    with servers(s3=True) as broker:
        s3 = await storage_run(broker, s3_records, args.partitions, batch_bytes, "S3 (moto)")

    print(f"  load average after: {load_average()}", flush=True)
    per_message = points / len(records)
    print(
        f"  acks=all produce in points/s: memory {mem['produce'] * per_message:,.0f}, "
        f"S3 {s3['produce'] * per_message:,.0f}",
        flush=True,
    )
    emit("produce acks=all, memory", mem["produce"], "msgs/s", tcp, "raw TCP loopback")
    emit(
        "produce acks=all, 16 KB batches, memory", default_batches, "msgs/s", mem["produce"], "tuned batches"
    )
    emit("produce acks=0, memory", acks0, "msgs/s", tcp, "raw TCP loopback")
    emit("acks=0 records that arrived, memory", acks0_arrived, "records", len(records), "records sent")
    emit("consume, memory", mem["consume"], "msgs/s", tcp, "raw TCP loopback")
    emit("produce acks=all, S3 (moto)", s3["produce"], "msgs/s", mem["produce"], "memory storage")
    emit("consume, S3 (moto)", s3["consume"], "msgs/s", mem["consume"], "memory storage")
    for label, took in groups.items():
        for event, seconds in took.items():
            emit(f"group {event}, {label}", seconds, "s", None, "")
    emit("send_and_wait p50, memory", mem["p50"], "ms", None, "")
    emit("send_and_wait p50, S3 (moto)", s3["p50"], "ms", None, "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--s3-messages", type=int, default=5_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch-kb", type=int, default=256)
    parser.add_argument(
        "--no-groups",
        dest="groups",
        action="store_false",
        help="skip the consumer-group timings (about 1 min)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
