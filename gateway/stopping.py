"""Stopping the gateway's tasks: cancel, and cancel again a task that swallowed it.

On Python 3.11 `asyncio.wait_for` can swallow a cancellation that arrives as its inner call
completes, so one `cancel()` may leave a polling loop running; the stop must not depend on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

log = logging.getLogger("plantproof.gateway")

RECANCEL_AFTER_S = 1.0
MAX_ROUNDS = 30  # then the stop goes on without the stuck task (asyncio.run cancels it again)


async def cancel_all(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel `tasks` and wait for them, re-cancelling any still running after each second."""
    pending = {t for t in tasks if not t.done()}
    for round_ in range(MAX_ROUNDS):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_AFTER_S)
        for task in pending:
            log.warning("stop: task %r still running after cancel (round %d); cancelling again",
                        task.get_name(), round_ + 1)  # fmt: skip
    for task in pending:
        log.error("stop: task %r did not stop; going on without it", task.get_name())
    for task in tasks:  # their errors were logged where they happened; retrieve them so asyncio is quiet
        if task.done() and not task.cancelled():
            task.exception()
