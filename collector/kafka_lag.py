"""Consumer lag per Kafka partition, from the high watermark of fetch responses.

Lag is what a group has not yet committed: high watermark − committed offset. The high watermark is
read from fetch responses (aiokafka's `consumer.highwater(tp)`), never from `end_offsets()`: on
Tansu a ListOffsets(latest) answers the base offset of the newest stored batch + 1, which falls
short whenever that batch holds more than one record (docs/kafka.md).

`partition_lag` is the pure arithmetic; `member_lag` reads a running group member; `probe_lag`
measures a group from outside (one throwaway consumer that fetches once per partition).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class PartitionLag:
    high_watermark: int | None  # next offset the partition will assign; None: not fetched yet
    committed: int | None  # next offset the group will read; None: the group never committed

    @property
    def lag(self) -> int | None:
        """Records not yet committed; None while the high watermark is unknown. A group without a
        commit counts from offset 0 (where it starts with auto_offset_reset=earliest)."""
        if self.high_watermark is None:
            return None
        return max(0, self.high_watermark - (self.committed or 0))


def partition_lag(
    high_watermarks: Mapping[K, int | None], committed: Mapping[K, int | None]
) -> dict[K, PartitionLag]:
    """Lag for every partition named in `high_watermarks` (missing commits count as none)."""
    return {key: PartitionLag(high, committed.get(key)) for key, high in high_watermarks.items()}


async def member_lag(consumer: Any, partitions: Iterable[Any] | None = None) -> dict[Any, PartitionLag]:
    """Lag of the partitions an aiokafka group member holds (or `partitions`, a subset of them):
    high watermarks from its latest fetches, committed offsets from the group coordinator."""
    tps = list(partitions) if partitions is not None else sorted(consumer.assignment())
    highs = {tp: consumer.highwater(tp) for tp in tps}
    commits = {tp: await consumer.committed(tp) for tp in tps}
    return partition_lag(highs, commits)


async def probe_lag(
    bootstrap_servers: str, group_id: str, topic: str, timeout_s: float = 15.0, **client: Any
) -> dict[int, PartitionLag]:
    """Lag of `group_id` on every partition of `topic`, measured without joining the group: a
    consumer assigns itself each partition at the group's committed offset (or 0), fetches once to
    learn the high watermark, and commits nothing. Raises TimeoutError naming the partitions whose
    high watermark did not arrive within `timeout_s`."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        max_partition_fetch_bytes=1,  # one batch per partition is enough to carry the watermark
        **client,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        partitions = consumer.partitions_for_topic(topic)
        while not partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic!r} has no partitions on {bootstrap_servers}")
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
            await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        commits = {tp: await consumer.committed(tp) for tp in tps}
        for tp in tps:
            consumer.seek(tp, commits[tp] or 0)
        while missing := [tp for tp in tps if consumer.highwater(tp) is None]:
            left = deadline - time.monotonic()
            if left <= 0:
                names = ", ".join(str(tp.partition) for tp in missing)
                raise TimeoutError(f"no high watermark for {topic} partitions {names} in {timeout_s} s")
            await consumer.getmany(*missing, timeout_ms=int(min(left, 1.0) * 1000))
        return {tp.partition: PartitionLag(consumer.highwater(tp), commits[tp]) for tp in tps}
    finally:
        await consumer.stop()
