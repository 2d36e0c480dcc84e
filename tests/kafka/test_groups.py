"""Consumer groups on Tansu with aiokafka: members share partitions, commits survive a kill -9.

Join and rebalance take seconds on Tansu (a 3 s pause for followers, then the join round): waits
are sized with `wait_until` (up to a minute) and the measured durations are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError

from collector.kafka_lag import probe_lag
from plantproof.embedded_kafka import TansuServer
from tests.kafka.kafkautil import create_topic, produce, unique, wait_until

PARTITIONS = 4
ROOT = Path(__file__).resolve().parents[2]
# Shorter than aiokafka's defaults (10 s / 3 s): a dead member is noticed in 6 s, a rebalance in 0.5 s.
GROUP_TIMING: dict[str, Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500}
WAIT = 60.0


@dataclass
class Member:
    """An in-process group member that processes each batch, then commits it."""

    name: str
    assigned: set[int] = field(default_factory=set)
    processed: list[tuple[int, int]] = field(default_factory=list)
    uncommitted: set[tuple[int, int]] = field(default_factory=set)  # processed, commit failed
    rebalances: int = 0

    async def run(self, bootstrap: str, topic: str, group: str, stop: asyncio.Event) -> None:
        member = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                member.assigned = set()

            async def on_partitions_assigned(self, assigned: Any) -> None:
                member.assigned = {tp.partition for tp in assigned}
                member.rebalances += 1

        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **GROUP_TIMING,
        )
        consumer.subscribe([topic], listener=Listener())
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=50)
                done = [(r.partition, r.offset) for records in batch.values() for r in records]
                self.processed.extend(done)
                if not batch:
                    continue
                offsets = {TopicPartition(topic, tp.partition): rs[-1].offset + 1 for tp, rs in batch.items()}
                try:
                    await consumer.commit(offsets)
                except CommitFailedError:
                    self.uncommitted.update(done)
        finally:
            await consumer.stop()


def split_is_complete(members: list[Member]) -> bool:
    """Every member holds partitions, none twice, all of them covered."""
    owned = [m.assigned for m in members]
    return all(owned) and sum(map(len, owned)) == PARTITIONS and set().union(*owned) == set(range(PARTITIONS))


async def test_two_then_three_members_share_the_partitions_and_lose_nothing(tansu: TansuServer) -> None:
    topic, group = unique("share"), unique("share-group")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    stop = asyncio.Event()
    members: list[Member] = []
    tasks: list[asyncio.Task[None]] = []
    sent: set[tuple[int, int]] = set()

    async def join(name: str) -> float:
        members.append(Member(name))
        tasks.append(asyncio.create_task(members[-1].run(tansu.bootstrap, topic, group, stop)))
        took = await wait_until(lambda: split_is_complete(members), WAIT, f"{name} joining {len(members)}")
        split = [sorted(m.assigned) for m in members]
        print(f"{len(members)} member(s): partitions split {split} in {took:.1f} s")
        return took

    async def produce_some(tag: str) -> None:
        records = [(f"gw{i % 13}".encode(), f"{tag}-{i}".encode(), None) for i in range(150)]
        sent.update((m.partition, m.offset) for m in await produce(tansu.bootstrap, topic, records))

    try:
        await join("a")
        await produce_some("one")
        await join("b")
        await produce_some("two")
        await join("c")
        assert sorted(len(m.assigned) for m in members) == [1, 1, 2]
        await produce_some("three")
        await wait_until(
            lambda: {r for m in members for r in m.processed} >= sent, WAIT, "every record processed"
        )
    finally:
        stop.set()
        await asyncio.gather(*tasks)

    processed = [r for m in members for r in m.processed]
    assert set(processed) == sent
    duplicates = {r for r in processed if processed.count(r) > 1}
    # A record is read twice only where a rebalance took its partition before the commit.
    assert duplicates <= {r for m in members for r in m.uncommitted}
    print(f"{len(sent)} records, {len(duplicates)} read twice after a failed commit")


@dataclass
class MemberProcess:
    """What a `tests.kafka.group_member` process said on stdout."""

    proc: asyncio.subprocess.Process
    assigned: set[int] = field(default_factory=set)
    processed: list[tuple[int, int]] = field(default_factory=list)
    committed: dict[int, int] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, bootstrap: str, topic: str, group: str, *args: str) -> MemberProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.kafka.group_member", bootstrap, topic, group, *args,
            cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        member = cls(proc)
        member.reader = asyncio.create_task(member._read())
        return member

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            word, _, rest = raw.decode().strip().partition(" ")
            if word == "assigned":
                self.assigned = {int(p) for p in rest.split(",") if p}
            elif word == "revoked":
                self.assigned = set()
            elif word == "record":
                p, o = rest.split()
                self.processed.append((int(p), int(o)))
            elif word == "committed":
                p, o = rest.split()
                self.committed[int(p)] = int(o)

    async def end(self, kill: bool) -> None:
        if self.proc.returncode is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
        await asyncio.wait_for(self.proc.wait(), 30)
        if self.reader is not None:
            await self.reader


async def test_a_killed_member_s_partitions_resume_from_its_last_commit(tansu: TansuServer) -> None:
    topic, group = unique("kill"), unique("kill-group")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    records = [(f"gw{i % 11}".encode(), f"r{i}".encode(), None) for i in range(400)]
    sent = {(m.partition, m.offset) for m in await produce(tansu.bootstrap, topic, records)}
    slow = ("--batch-delay", "0.2", "--max-records", "10")  # about 50 records/s per member
    victim = await MemberProcess.start(tansu.bootstrap, topic, group, *slow)
    survivor: MemberProcess | None = None
    try:
        await wait_until(lambda: len(victim.assigned) == PARTITIONS, WAIT, "first member assigned")
        survivor = await MemberProcess.start(tansu.bootstrap, topic, group, *slow)
        pair = (victim, survivor)
        await wait_until(
            lambda: all(m.assigned for m in pair) and victim.assigned.isdisjoint(survivor.assigned),
            WAIT,
            "two members sharing",
        )
        await wait_until(lambda: len(victim.processed) >= 60, WAIT, "victim processing")
        await victim.end(kill=True)
        killed = time.monotonic()
        took = await wait_until(lambda: len(survivor.assigned) == PARTITIONS, WAIT, "survivor takes over")
        print(f"partitions of the killed member reassigned after {took:.1f} s (session timeout 6 s)")
        await wait_until(
            lambda: {r for m in pair for r in m.processed} >= sent, WAIT, "every record processed"
        )

        async def all_committed() -> bool:
            lag = await probe_lag(tansu.bootstrap, group, topic)
            return all(p.lag == 0 for p in lag.values())

        await wait_until(all_committed, WAIT, "survivor committed everything", every=0.5)
        print(
            f"kill -9 to all {len(sent)} records processed and committed: {time.monotonic() - killed:.1f} s"
        )
    finally:
        await victim.end(kill=True)
        if survivor is not None:
            await survivor.end(kill=False)

    assert survivor is not None
    processed = victim.processed + survivor.processed
    assert set(processed) == sent, "a record was lost"
    again = set(victim.processed) & set(survivor.processed)
    past_commit = {(p, o) for p, o in victim.processed if o >= victim.committed.get(p, 0)}
    # The survivor resumed at the victim's commits: it re-read what the victim processed past its
    # last commit, and nothing before it.
    assert again == past_commit
    print(f"read twice after the kill: {len(again)} records (processed, not yet committed)")
