"""Webhook delivery to a real HTTP listener: retries with backoff, giving up, the bounded queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from api.alarm_config import Webhook
from api.alarm_metrics import AlarmMetrics
from api.webhooks import EventQueue, WebhookSender, backoff_s
from tests.api.receiver import Receiver, receiving


def _hook(url: str, **kw: object) -> Webhook:
    fields: dict[str, object] = {"name": "ops", "url": url, "backoff_initial_s": 0.05, "backoff_max_s": 0.2}
    return Webhook.model_validate({**fields, **kw})


def _value(metrics: AlarmMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(f"plantproof_alarm_webhook_{name}", {"webhook": "ops"})
    return value or 0.0


@asynccontextmanager
async def running(sender: WebhookSender) -> AsyncIterator[None]:
    task = asyncio.create_task(sender.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _event(n: int, pad: int = 0) -> dict[str, object]:
    return {"event": "raised", "alarm": {"id": n, "message": "x" * pad}}


async def _until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _wait(receiver: Receiver, count: int) -> list[dict[str, object]]:
    return await asyncio.to_thread(receiver.wait_for, count, 20.0)


async def test_refused_posts_are_retried_and_the_events_arrive_in_order() -> None:
    metrics = AlarmMetrics()
    with receiving(refuse=3) as receiver:
        sender = WebhookSender(_hook(receiver.url), metrics)
        async with running(sender):
            for n in range(1, 4):
                sender.submit(_event(n))
            got = await _wait(receiver, 3)
            # The receiver has the third event before the sender has read its answer and counted it.
            await _until(lambda: _value(metrics, "delivered_total") == 3)
    assert [e["alarm"] for e in got] == [
        {"id": 1, "message": ""},
        {"id": 2, "message": ""},
        {"id": 3, "message": ""},
    ]
    assert receiver.refused == 3
    assert _value(metrics, "failed_attempts_total") == 3 and _value(metrics, "delivered_total") == 3
    assert _value(metrics, "given_up_total") == 0 and _value(metrics, "queue_events") == 0


async def test_an_event_is_given_up_after_max_attempts_and_the_next_one_goes_on() -> None:
    metrics = AlarmMetrics()
    with receiving(refuse=2) as receiver:
        sender = WebhookSender(_hook(receiver.url, max_attempts=2), metrics)
        async with running(sender):
            sender.submit(_event(1))
            sender.submit(_event(2))
            got = await _wait(receiver, 1)
    assert [e["alarm"]["id"] for e in got] == [2]  # type: ignore[index]
    assert _value(metrics, "given_up_total") == 1 and _value(metrics, "failed_attempts_total") == 2


async def test_an_unreachable_receiver_is_a_failed_attempt() -> None:
    metrics = AlarmMetrics()
    with receiving() as receiver:
        url = receiver.url
    sender = WebhookSender(_hook(url, max_attempts=3, timeout_s=1), metrics)  # nothing listens there now
    async with running(sender):
        sender.submit(_event(1))
        for _ in range(200):
            if _value(metrics, "given_up_total"):
                break
            await asyncio.sleep(0.05)
    assert _value(metrics, "given_up_total") == 1 and _value(metrics, "failed_attempts_total") == 3


def test_backoff_doubles_up_to_its_ceiling() -> None:
    hook = _hook("http://127.0.0.1:1/", backoff_initial_s=0.5, backoff_max_s=3)
    assert [backoff_s(hook, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_the_queue_drops_the_oldest_past_its_count_and_the_newest_arrive() -> None:
    metrics = AlarmMetrics()
    with receiving() as receiver:
        sender = WebhookSender(_hook(receiver.url, queue_events=3), metrics)
        for n in range(1, 11):  # the receiver is not being sent to yet
            sender.submit(_event(n))
        assert _value(metrics, "dropped_total") == 7 and _value(metrics, "queue_events") == 3
        async with running(sender):
            got = await _wait(receiver, 3)
    assert [e["alarm"]["id"] for e in got] == [8, 9, 10]  # type: ignore[index]


async def test_the_queue_is_bounded_in_bytes_too() -> None:
    metrics = AlarmMetrics()
    with receiving() as receiver:
        sender = WebhookSender(_hook(receiver.url, queue_bytes=1024), metrics)
        for n in range(1, 6):
            sender.submit(_event(n, pad=400))  # about 440 bytes each: two fit
        sender.submit(_event(6, pad=2000))  # larger than the whole queue: dropped itself
        assert _value(metrics, "dropped_total") == 4 and _value(metrics, "queue_bytes") <= 1024
        async with running(sender):
            got = await _wait(receiver, 2)
    assert [e["alarm"]["id"] for e in got] == [4, 5]  # type: ignore[index]


@pytest.mark.parametrize(("events", "size"), [(1, 1), (5, 100)])
def test_queue_bounds_hold_for_any_sequence(events: int, size: int) -> None:
    queue = EventQueue(max_events=events, max_bytes=size * 3)
    dropped = sum(queue.put(b"x" * (1 + i % size)) for i in range(200))
    assert len(queue) <= events and queue.bytes <= size * 3
    assert dropped + len(queue) == 200
