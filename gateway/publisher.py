"""Sends the spool to the broker in seq order with a bounded in-flight window.

With end-to-end acknowledgement (`confirm`, the default) a PUBACK only frees a slot of the window:
an envelope leaves the spool when a collector's `$stored` watermark covers it, so a broker that
crashes with acknowledged messages not yet on its disk loses nothing. The publisher sends again
what lies beyond the watermark on every new connection (paho itself re-sends its in-flight
window), and when a collector has answered since the last sending — a `$stored` arrived — but its
watermark then stays below what the broker acknowledged for `resend_after_s`: what a crashed broker
lost, or passed on before the collector's session existed (again). A collector that is down answers
nothing, so it causes one resend at most. The collector's ledger makes copies harmless.
Without end-to-end acknowledgement an envelope leaves on its PUBACK.

An outage of any length (within the spool's byte bound) loses nothing either way.
"""

import asyncio
import logging
import time
from typing import Any

from gateway.metrics import GatewayMetrics
from gateway.spool import AsyncSpool
from infra.mqtt.aio import AsyncMqttClient
from wire import NOTHING_STORED

log = logging.getLogger("plantproof.gateway.publisher")


class Publisher:
    def __init__(
        self,
        spool: AsyncSpool,
        client: AsyncMqttClient,
        window: int,
        metrics: GatewayMetrics | None = None,
        *,
        confirm: bool = True,
        resend_after_s: float = 10.0,
    ) -> None:
        self.spool = spool
        self.client = client
        self.window = window
        self.metrics = metrics
        self.confirm = confirm
        self.resend_after_s = resend_after_s
        self.published = 0  # envelopes acknowledged by the broker
        self.failed = 0
        self.resends = 0
        self.stored = NOTHING_STORED  # the collectors' watermark: every seq up to it is committed
        self._acked_through = NOTHING_STORED  # highest seq the broker acknowledged
        self._moved_at = time.monotonic()  # the watermark last moved (or the last resend began)
        self._heard = False  # a collector answered since the last (re)sending began
        self._confirmed = asyncio.Event()

    def confirmed(self, seq: int) -> None:
        """A `$stored` watermark arrived (it never moves back)."""
        if not self.confirm:
            return
        self._heard = True
        if seq > self.stored:
            self.stored = seq
            self._moved_at = time.monotonic()
            if self.metrics is not None:
                self.metrics.stored_seq.set(seq)
        self._confirmed.set()

    def _resend_in(self, now: float) -> float | None:
        """Seconds until what lies beyond a stuck watermark is sent again (None: nothing to resend)."""
        if not (self.confirm and self._heard and self._acked_through > self.stored):
            return None
        return max(0.0, self._moved_at + self.resend_after_s - now)

    async def run(self) -> None:
        cursor = -1  # highest seq handed to paho on this connection
        connection = self.client.connects
        deleted_through = NOTHING_STORED
        inflight: dict[asyncio.Future[Any], tuple[int, str, int, float]] = {}
        while True:
            connected = self.client.connected.is_set()
            resend_in = self._resend_in(time.monotonic())
            if connected and resend_in == 0:
                log.warning(
                    "the collectors' watermark stays at %d although the broker acknowledged up to %d:"
                    " sending again what lies beyond it",
                    self.stored,
                    self._acked_through,
                )
            if connected and (self.client.connects != connection or resend_in == 0):
                connection = self.client.connects
                if self.confirm:  # a broker may have lost what it acknowledged: resend it
                    cursor = self.stored
                    self._moved_at = time.monotonic()
                    self._heard = False
                    self.resends += 1
            if self.stored > deleted_through:
                self._confirmed.clear()
                deleted = await self.spool.delete_through(self.stored)
                deleted_through = self.stored
                if self.metrics is not None:
                    self.metrics.envelopes_confirmed.inc(deleted)
            room = self.window - len(inflight)
            if connected and room > 0:
                self.spool.appended.clear()
                sending = {seq for seq, *_ in inflight.values()}
                for entry in await self.spool.read(max(cursor, self.stored), room + len(sending)):
                    cursor = entry.seq
                    if entry.seq in sending:
                        continue  # still in flight: paho re-sends it itself
                    if room == 0:
                        cursor = entry.seq - 1
                        break
                    future = self.client.publish(entry.topic, entry.payload, entry.retain)
                    inflight[future] = (entry.seq, entry.dev, entry.n, time.perf_counter())
                    room -= 1
            wake: set[asyncio.Future[Any]] = set()
            if not connected:
                wake.add(asyncio.ensure_future(self.client.connected.wait()))
            elif room > 0:
                wake.add(asyncio.ensure_future(self.spool.appended.wait()))
            if self.confirm:
                wake.add(asyncio.ensure_future(self._confirmed.wait()))
            resend_in = self._resend_in(time.monotonic())
            timeout = 5.0 if resend_in is None else min(5.0, resend_in + 0.01)
            try:
                done, _ = await asyncio.wait(
                    set(inflight) | wake, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter in wake:
                    waiter.cancel()
            acked: list[int] = []
            retry_from: int | None = None
            now = time.perf_counter()
            for future in done:
                if future not in inflight:
                    continue
                seq, dev, n, started = inflight.pop(future)
                exc = future.exception()
                if exc is not None:
                    self.failed += 1
                    log.warning("publish of seq %d failed: %s; will re-send", seq, exc)
                    retry_from = seq - 1 if retry_from is None else min(retry_from, seq - 1)
                    continue
                acked.append(seq)
                self._acked_through = max(self._acked_through, seq)
                if self.metrics is not None:
                    self.metrics.publish_latency.observe(now - started)
                    if n:
                        self.metrics.points_published.labels(dev).inc(n)
            if acked:
                if not self.confirm:
                    await self.spool.delete(acked)
                self.published += len(acked)
                if self.metrics is not None:
                    self.metrics.envelopes_published.inc(len(acked))
            if retry_from is not None:
                cursor = min(cursor, retry_from)
                await asyncio.sleep(0.5)  # a refused publish (not a lost connection): do not spin
