"""The Kafka source: records the bridge produced, as a member of a consumer group.

It offers what the MQTT subscriber offers the pipeline (`take`, `ack`, `depth`), so both feed the
same decode, dead-letter and store path. Offsets are committed only for records the pipeline
acknowledged, that is after their batch's database commit; a commit a rebalance overtook fails, and
the partition's new owner reads those records again: the ledger stores nothing twice. Before giving
partitions up in a rebalance, the source waits (bounded) for the batches in flight to commit, so
that the new owner starts after them.

Memory is bounded like the MQTT source's: records held (queued or in a batch not yet acknowledged)
stay within the budget's counts and bytes; beyond it the source stops fetching and Kafka keeps the
backlog. Lag per partition comes from the high watermark (`collector.kafka_lag`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from collector.kafka_lag import member_lag
from collector.metrics import Metrics
from collector.settings import KafkaSourceSettings
from infra.kafka import SIZE_HEADER, TOPIC_HEADER, header
from infra.mqtt.subscriber import Budget

log = logging.getLogger(__name__)
RETRY_S = 1.0


@dataclass(frozen=True, slots=True)
class Record:
    topic: str  # the MQTT topic it was published on (header), or where it is in Kafka when absent
    payload: bytes
    partition: int
    offset: int
    generation: int  # assignment it came with: an offset means nothing to commit after a rebalance
    size: int | None = None  # size on the wire when `payload` keeps only the beginning (oversized)


def record_of(record: Any, generation: int, budget: Budget) -> Record:
    """A pipeline record from an aiokafka ConsumerRecord."""
    topic = header(record.headers, TOPIC_HEADER)
    value = bytes(record.value or b"")
    size_header = header(record.headers, SIZE_HEADER)
    size = int(size_header) if size_header and size_header.isdigit() else None
    if len(value) > budget.max_payload:
        size, value = len(value), value[: budget.keep_oversized]
    where = f"kafka:{record.topic}/{record.partition}@{record.offset} (no {TOPIC_HEADER} header)"
    name = topic.decode("utf-8", "replace") if topic is not None else where
    return Record(name, value, record.partition, record.offset, generation, size)


class KafkaSource:
    def __init__(self, settings: KafkaSourceSettings, metrics: Metrics, budget: Budget) -> None:
        self.settings = settings
        self.metrics = metrics
        self.budget = budget
        self.generation = 0
        self.consumer: Any = None
        self.assigned: set[int] = set()
        self._closing: set[int] = set()  # being revoked: no more fetched records of them are kept
        self._buffer: deque[Record] = deque()
        self._ready = asyncio.Event()  # the buffer holds records
        self._room = asyncio.Event()  # below the budget: fetch more
        self._acked = asyncio.Event()
        self._commit_wanted = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._held = 0  # records queued or taken and not yet acknowledged
        self._held_bytes = 0
        self._out: Counter[int] = Counter()  # records taken and not yet acknowledged, per partition
        self._pending: dict[int, int] = {}  # partition -> next offset to commit
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        s = self.settings
        self.consumer = AIOKafkaConsumer(
            group_id=s.group_id,
            client_id=s.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=s.session_timeout_ms,
            # the revocation waits for batches in flight: the group waits for it as long
            rebalance_timeout_ms=s.session_timeout_ms + int(s.revoke_wait_s * 1000),
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            max_partition_fetch_bytes=s.max_partition_fetch_bytes,
            fetch_max_bytes=s.fetch_max_bytes,
            **s.client_options(),
        )
        self.consumer.subscribe([s.topic], listener=_Listener(self))
        await self.consumer.start()
        self._room.set()
        self.metrics.queue_limit_bytes.set(self.budget.bytes)
        self._tasks = [
            asyncio.create_task(self._fetch()),
            asyncio.create_task(self._commit_loop()),
            asyncio.create_task(self._lag_loop()),
        ]
        log.info("Kafka source started: topic %s, group %s on %s", s.topic, s.group_id, s.bootstrap)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.consumer is not None:
            await self._commit()
            await self.consumer.stop()  # leaves the group: its partitions move at once

    # -- the pipeline's side -------------------------------------------------------------------
    def depth(self) -> int:
        return len(self._buffer)

    async def take(self, limit: int, wait_s: float) -> list[Record]:
        """Up to `limit` records, waiting at most `wait_s` for the first."""
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), wait_s)
            except TimeoutError:
                return []
        n = min(limit, len(self._buffer))
        out = [self._buffer.popleft() for _ in range(n)]
        if not self._buffer:
            self._ready.clear()
        for r in out:
            self._out[r.partition] += 1
        self.metrics.received.inc(n)
        return out

    def ack(self, records: Sequence[Record]) -> int:
        """Records whose batch is committed: their offsets are committed next (of this assignment)."""
        acked = 0
        for r in records:
            self._release(r)
            self._out[r.partition] -= 1
            if r.generation == self.generation and r.partition in self.assigned:
                self._pending[r.partition] = max(self._pending.get(r.partition, 0), r.offset + 1)
                acked += 1
        self._acked.set()
        if acked:
            self._commit_wanted.set()
        return acked

    def _release(self, r: Record) -> None:
        self._held -= 1
        self._held_bytes -= len(r.payload)
        self.metrics.queue_bytes.set(max(self._held_bytes, 0))
        if self._held < self.budget.messages and self._held_bytes < self.budget.bytes:
            self._room.set()

    # -- tasks ---------------------------------------------------------------------------------
    async def _fetch(self) -> None:
        while True:
            await self._room.wait()
            room = self.budget.messages - self._held
            try:
                batch = await self.consumer.getmany(timeout_ms=500, max_records=max(1, room))
            except Exception as exc:  # the consumer retries by itself; say so once per attempt
                self.metrics.kafka_errors.labels("fetch").inc()
                log.warning("Kafka fetch failed (retrying): %s", exc)
                await asyncio.sleep(RETRY_S)
                continue
            generation = self.generation
            for tp, records in batch.items():
                if tp.partition not in self.assigned or tp.partition in self._closing:
                    continue  # revoked while the fetch was under way
                for raw in records:
                    record = record_of(raw, generation, self.budget)
                    self._buffer.append(record)
                    self._held += 1
                    self._held_bytes += len(record.payload)
            if self._buffer:
                self._ready.set()
            self.metrics.queue_bytes.set(self._held_bytes)
            if self._held >= self.budget.messages or self._held_bytes >= self.budget.bytes:
                self._room.clear()

    async def _commit_loop(self) -> None:
        while True:
            await self._commit_wanted.wait()
            self._commit_wanted.clear()
            if not await self._commit():
                await asyncio.sleep(RETRY_S)
                self._commit_wanted.set()

    async def _commit(self) -> bool:
        """Commit the pending offsets; False when worth retrying (they stay pending)."""
        async with self._commit_lock:
            offsets, generation = self._pending, self.generation
            self._pending = {}
            if not offsets:
                return True
            topic = self.settings.topic
            try:
                await self.consumer.commit({TopicPartition(topic, p): o for p, o in offsets.items()})
            except (CommitFailedError, IllegalStateError) as exc:
                # A rebalance overtook the commit: the partitions' new owner reads those records again.
                self.metrics.kafka_errors.labels("commit_overtaken").inc()
                log.warning("Kafka commit overtaken by a rebalance (records read again): %s", exc)
                return True
            except KafkaError as exc:
                self.metrics.kafka_errors.labels("commit").inc()
                log.warning("Kafka commit failed (retrying): %s", exc)
                if generation == self.generation:
                    for p, o in offsets.items():
                        self._pending[p] = max(self._pending.get(p, 0), o)
                return False
            self.metrics.kafka_commits.inc()
            return True

    async def _lag_loop(self) -> None:
        topic = self.settings.topic
        shown: set[int] = set()
        while True:
            await asyncio.sleep(self.settings.lag_interval_s)
            try:
                lags = await member_lag(self.consumer)
            except Exception as exc:  # a rebalance under way: next time
                log.debug("Kafka lag not read: %s", exc)
                continue
            for tp, lag in lags.items():
                if lag.lag is not None:
                    self.metrics.kafka_lag.labels(topic, str(tp.partition)).set(lag.lag)
                    shown.add(tp.partition)
            for gone in shown - {tp.partition for tp in lags}:
                with contextlib.suppress(KeyError):
                    self.metrics.kafka_lag.remove(topic, str(gone))
                shown.discard(gone)

    # -- rebalances ----------------------------------------------------------------------------
    async def revoked(self, partitions: set[int]) -> None:
        self._closing |= partitions
        kept = deque(r for r in self._buffer if r.partition not in partitions)
        for r in self._buffer:
            if r.partition in partitions:
                self._release(r)
        self._buffer = kept
        if not kept:
            self._ready.clear()
        deadline = time.monotonic() + self.settings.revoke_wait_s
        while any(self._out[p] > 0 for p in partitions) and time.monotonic() < deadline:
            self._acked.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acked.wait(), max(0.0, deadline - time.monotonic()))
        await self._commit()
        self.generation += 1  # what is still in flight is the new owner's to read again
        self.assigned -= partitions
        self._closing -= partitions
        self._pending = {p: o for p, o in self._pending.items() if p not in partitions}
        self.metrics.kafka_partitions.set(len(self.assigned))
        log.info("Kafka partitions revoked: %s", ",".join(map(str, sorted(partitions))) or "none")

    def assigned_now(self, partitions: set[int]) -> None:
        self.assigned = set(partitions)
        self.metrics.kafka_rebalances.inc()
        self.metrics.kafka_partitions.set(len(self.assigned))
        log.info("Kafka partitions assigned: %s", ",".join(map(str, sorted(partitions))) or "none")


class _Listener(ConsumerRebalanceListener):
    def __init__(self, source: KafkaSource) -> None:
        self.source = source

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.source.revoked({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.source.assigned_now({tp.partition for tp in assigned})
