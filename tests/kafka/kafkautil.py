"""aiokafka helpers for the broker tests: topics, producing, draining, waiting on a condition."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

Headers = Sequence[tuple[str, bytes]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)]
        )
        errors = [(t, code, msg) for t, code, msg in response.topic_errors if code != 0]
        assert not errors, f"create_topics({name}) failed: {errors}"
    finally:
        await admin.close()


async def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes, Headers | None]],
    **producer: Any,
) -> list[Any]:
    """Send every record (key, value, headers) with acks=all unless told otherwise; their metadata."""
    producer.setdefault("acks", "all")
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer)
    await p.start()
    try:
        futures = [
            await p.send(topic, value=value, key=key, headers=list(headers) if headers else None)
            for key, value, headers in records
        ]
        return list(await asyncio.gather(*futures))
    finally:
        await p.stop()


async def drain(consumer: AIOKafkaConsumer, count: int, within: float) -> list[Any]:
    """Records from `consumer` until `count` arrived (then a short look for extras) or `within` s."""
    got: list[Any] = []
    deadline = time.monotonic() + within
    while len(got) < count and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            got.extend(records)
    extra = await consumer.getmany(timeout_ms=300)
    for records in extra.values():
        got.extend(records)
    return got


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], within: float, what: str, every: float = 0.1
) -> float:
    """Seconds until `condition` held; AssertionError naming `what` if not within `within` s."""
    started = time.monotonic()
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(every)
