"""Alarm events POSTed as JSON to webhooks, in order, retried with exponential backoff.

Each webhook has its own queue, bounded in events and in bytes: when an event would overflow it,
the oldest waiting events are dropped (`plantproof_alarm_webhook_dropped_total`). The event being
sent is outside the queue; after `max_attempts` failed POSTs it is given up (counted too), so one
dead receiver never holds the others. A webhook's URL may carry a secret: logs name the webhook.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

import httpx

from api.alarm_config import Webhook
from api.alarm_metrics import AlarmMetrics
from infra.prom import version

log = logging.getLogger("plantproof.api.webhooks")


class EventQueue:
    """Encoded events waiting, at most `max_events` and `max_bytes`; the oldest go first."""

    def __init__(self, max_events: int, max_bytes: int) -> None:
        self.max_events, self.max_bytes = max_events, max_bytes
        self._items: deque[bytes] = deque()
        self.bytes = 0
        self._ready = asyncio.Event()

    def put(self, body: bytes) -> int:
        """Queue `body`; returns how many events were dropped to make room (it, if it alone is too big)."""
        if len(body) > self.max_bytes:
            return 1
        self._items.append(body)
        self.bytes += len(body)
        dropped = 0
        while len(self._items) > self.max_events or self.bytes > self.max_bytes:
            self.bytes -= len(self._items.popleft())
            dropped += 1
        self._ready.set()
        return dropped

    async def get(self) -> bytes:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        body = self._items.popleft()
        self.bytes -= len(body)
        return body

    def __len__(self) -> int:
        return len(self._items)


def backoff_s(hook: Webhook, failures: int) -> float:
    """Seconds to wait after the `failures`-th failed POST of an event."""
    return float(min(hook.backoff_max_s, hook.backoff_initial_s * 2 ** (failures - 1)))


class WebhookSender:
    def __init__(self, hook: Webhook, metrics: AlarmMetrics) -> None:
        self.hook, self.metrics = hook, metrics
        self.queue = EventQueue(hook.queue_events, hook.queue_bytes)
        self._dropping = False

    def _gauges(self) -> None:
        self.metrics.queue_events.labels(self.hook.name).set(len(self.queue))
        self.metrics.queue_bytes.labels(self.hook.name).set(self.queue.bytes)

    def submit(self, event: dict[str, Any]) -> None:
        dropped = self.queue.put(json.dumps(event, separators=(",", ":")).encode())
        if dropped:
            self.metrics.dropped.labels(self.hook.name).inc(dropped)
            if not self._dropping:  # one line per overflow episode, not per event
                log.warning("webhook %s: queue full, dropping the oldest events", self.hook.name)
            self._dropping = True
        self._gauges()

    async def _post(self, client: httpx.AsyncClient, body: bytes) -> str | None:
        """None when the receiver accepted the event, else why not."""
        try:
            res = await client.post(self.hook.url, content=body, timeout=self.hook.timeout_s)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return None if res.is_success else f"HTTP {res.status_code}"

    async def _deliver(self, client: httpx.AsyncClient, body: bytes) -> None:
        for attempt in range(1, self.hook.max_attempts + 1):
            why = await self._post(client, body)
            if why is None:
                self.metrics.delivered.labels(self.hook.name).inc()
                self._dropping = False
                return
            self.metrics.attempts_failed.labels(self.hook.name).inc()
            if attempt == self.hook.max_attempts:
                break
            delay = backoff_s(self.hook, attempt)
            log.info("webhook %s: %s, attempt %d, again in %.1f s", self.hook.name, why, attempt, delay)
            await asyncio.sleep(delay)
        self.metrics.given_up.labels(self.hook.name).inc()
        log.error("webhook %s: event given up after %d attempts", self.hook.name, self.hook.max_attempts)

    async def run(self) -> None:
        """Deliver events until cancelled."""
        headers = {"Content-Type": "application/json", "User-Agent": f"plantproof/{version()}"}
        async with httpx.AsyncClient(headers=headers, follow_redirects=False) as client:
            while True:
                body = await self.queue.get()
                self._gauges()
                await self._deliver(client, body)
