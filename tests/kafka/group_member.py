"""A consumer-group member in its own process, so that a test can kill -9 it.

    python -m tests.kafka.group_member BOOTSTRAP TOPIC GROUP [--batch-delay S] [--session-timeout-ms N]

It processes each batch (prints one `record P O` line per record), then commits the batch's next
offsets manually and prints `committed P O` (or `commit-failed P:O …` when a rebalance took the
partitions meanwhile); `assigned P,…` on each rebalance. Every line is flushed
before the next step, so the parent knows exactly what was processed and what was committed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Announce(ConsumerRebalanceListener):  # type: ignore[misc]
    async def on_partitions_revoked(self, revoked: Any) -> None:
        say("revoked " + ",".join(str(tp.partition) for tp in sorted(revoked)))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        say("assigned " + ",".join(str(tp.partition) for tp in sorted(assigned)))


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=args.heartbeat_interval_ms,
        max_poll_records=args.max_records,
    )
    consumer.subscribe([args.topic], listener=Announce())
    await consumer.start()
    say("started")
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                continue
            for records in batch.values():
                for r in records:
                    say(f"record {r.partition} {r.offset}")
            await asyncio.sleep(args.batch_delay)  # "processing": the window a kill lands in
            offsets = {
                TopicPartition(args.topic, tp.partition): rs[-1].offset + 1 for tp, rs in batch.items()
            }
            try:
                await consumer.commit(offsets)
            except CommitFailedError:  # a rebalance took the partitions: their new owner re-reads
                say("commit-failed " + " ".join(f"{tp.partition}:{o}" for tp, o in sorted(offsets.items())))
                continue
            for tp, offset in sorted(offsets.items()):
                say(f"committed {tp.partition} {offset}")
    finally:
        await consumer.stop()
        say("stopped")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("topic")
    parser.add_argument("group")
    parser.add_argument("--batch-delay", type=float, default=0.0)
    parser.add_argument("--max-records", type=int, default=20)
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    parser.add_argument("--heartbeat-interval-ms", type=int, default=500)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
