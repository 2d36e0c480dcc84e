"""Sends the spool to the broker in seq order with a bounded in-flight window; deletes on PUBACK.

Nothing leaves the spool before the broker acknowledged it, so an outage of any length (within the
spool's byte bound) loses nothing: paho keeps the in-flight window in its session and re-sends it on
reconnect, and the publisher goes on reading the spool from where it stopped.
"""

import asyncio
import logging
import time
from typing import Any

from gateway.metrics import GatewayMetrics
from gateway.mqtt import MqttClient
from gateway.spool import AsyncSpool

log = logging.getLogger("plantproof.gateway.publisher")


class Publisher:
    def __init__(
        self, spool: AsyncSpool, client: MqttClient, window: int, metrics: GatewayMetrics | None = None
    ) -> None:
        self.spool = spool
        self.client = client
        self.window = window
        self.metrics = metrics
        self.published = 0  # envelopes acknowledged
        self.failed = 0

    async def run(self) -> None:
        cursor = -1  # highest seq handed to paho
        inflight: dict[asyncio.Future[Any], tuple[int, str, int, float]] = {}
        while True:
            connected = self.client.connected.is_set()
            room = self.window - len(inflight)
            if connected and room > 0:
                self.spool.appended.clear()
                for entry in await self.spool.read(cursor, room):
                    future = self.client.publish(entry.topic, entry.payload, entry.retain)
                    inflight[future] = (entry.seq, entry.dev, entry.n, time.perf_counter())
                    cursor = entry.seq
                room = self.window - len(inflight)
            wake: asyncio.Future[Any] | None = None
            if not connected:
                wake = asyncio.ensure_future(self.client.connected.wait())
            elif room > 0:
                wake = asyncio.ensure_future(self.spool.appended.wait())
            waiters: set[asyncio.Future[Any]] = set(inflight)
            if wake is not None:
                waiters.add(wake)
            try:
                done, _ = await asyncio.wait(waiters, timeout=5.0, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if wake is not None:
                    wake.cancel()
            acked: list[int] = []
            retry_from: int | None = None
            now = time.perf_counter()
            for future in done:
                if future is wake or future not in inflight:
                    continue
                seq, dev, n, started = inflight.pop(future)
                exc = future.exception()
                if exc is not None:
                    self.failed += 1
                    log.warning("publish of seq %d failed: %s; will re-send", seq, exc)
                    retry_from = seq - 1 if retry_from is None else min(retry_from, seq - 1)
                    continue
                acked.append(seq)
                if self.metrics is not None:
                    self.metrics.publish_latency.observe(now - started)
                    if n:
                        self.metrics.points_published.labels(dev).inc(n)
            if acked:
                await self.spool.delete(acked)
                self.published += len(acked)
                if self.metrics is not None:
                    self.metrics.envelopes_published.inc(len(acked))
            if retry_from is not None:
                cursor = min(cursor, retry_from)
                await asyncio.sleep(0.5)  # a refused publish (not a lost connection): do not spin
