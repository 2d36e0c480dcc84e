"""The gateway's stop cancels again a task that swallowed its cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from gateway import stopping


async def _swallows_once(ended: list[str]) -> None:
    with contextlib.suppress(asyncio.CancelledError):  # what a 3.11 wait_for race does: the loop goes on
        await asyncio.sleep(3600)
    try:
        await asyncio.sleep(3600)
    finally:
        ended.append("second cancel")


async def test_a_task_that_swallows_cancel_is_cancelled_again(caplog: pytest.LogCaptureFixture) -> None:
    ended: list[str] = []
    stubborn = asyncio.create_task(_swallows_once(ended), name="device k1")
    polite = asyncio.create_task(asyncio.sleep(3600), name="flusher")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, "plantproof.gateway"):
        await stopping.cancel_all([stubborn, polite])
    assert stubborn.cancelled() and polite.cancelled() and ended == ["second cancel"]
    assert [r.getMessage() for r in caplog.records] == [
        "stop: task 'device k1' still running after cancel (round 1); cancelling again"
    ]


async def test_a_task_that_never_stops_is_left_behind(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(stopping, "RECANCEL_AFTER_S", 0.01)
    monkeypatch.setattr(stopping, "MAX_ROUNDS", 3)

    released = asyncio.Event()

    async def never() -> None:
        while not released.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    task = asyncio.create_task(never(), name="stuck")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, "plantproof.gateway"):
        await stopping.cancel_all([task])
    assert not task.done()
    assert caplog.records[-1].getMessage() == "stop: task 'stuck' did not stop; going on without it"
    assert len(caplog.records) == 4  # three rounds, then the error
    released.set()
    task.cancel()
    await task  # it ends once released: nothing is left running
