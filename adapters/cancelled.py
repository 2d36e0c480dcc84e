"""A stop that a protocol library swallowed still stops the loop.

On Python 3.11 `asyncio.wait_for` (used inside pymodbus and asyncua) can swallow a cancellation
that arrives as its inner call completes: the call returns normally, but the task still counts the
request (`Task.cancelling()`). A polling loop that checks that count each cycle ends as asked
instead of polling on until cancelled again.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError if the current task was asked to stop and the request was swallowed."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
