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

What goes on the wire is the framer's: `JsonFrames` sends the spooled envelope v1 as it is;
`gateway.sparkplug.SparkplugNode` turns it into Sparkplug B messages numbered as they are sent, and
asks for `fresh_sessions`: on every new session, and on a rebirth request, its births go first,
and what was in flight when the last session ended is sent again after them, renumbered.
"""

import asyncio
import logging
import time
from typing import Any, Protocol

from gateway.metrics import GatewayMetrics
from gateway.spool import AsyncSpool, SpoolEntry
from infra.mqtt.aio import AsyncMqttClient
from wire import NOTHING_STORED

log = logging.getLogger("plantproof.gateway.publisher")
Outgoing = tuple[str, bytes, bool]  # topic, payload, retain


class Framer(Protocol):
    """Turns spooled envelopes into MQTT messages at send time."""

    @property
    def fresh_sessions(self) -> bool: ...  # True: nothing crosses from one MQTT session to the next

    def births(self) -> list[Outgoing]: ...  # first on every session and on a rebirth request

    def frame(self, entry: SpoolEntry) -> list[Outgoing]: ...

    def ready_for(self, session: int) -> bool: ...  # False: hold everything back on this session


class JsonFrames:
    """The envelope v1 goes out as it was spooled."""

    fresh_sessions = False

    def ready_for(self, session: int) -> bool:
        return True

    def births(self) -> list[Outgoing]:
        return []

    def frame(self, entry: SpoolEntry) -> list[Outgoing]:
        return [(entry.topic, entry.payload, entry.retain)]


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # a birth lost with its session is sent again on the next one


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
        framer: Framer | None = None,
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
        self.framer: Framer = framer or JsonFrames()
        self._rebirth = False
        self._wake = asyncio.Event()

    def rebirth(self) -> None:
        """Send the framer's births again (a Sparkplug host asked for them)."""
        self._rebirth = True
        self._wake.set()

    def _send_births(self) -> None:
        self._rebirth = False
        for topic, payload, retain in self.framer.births():
            self.client.publish(topic, payload, retain).add_done_callback(_consume)

    def _send(self, entry: SpoolEntry) -> asyncio.Future[Any]:
        """Publish what one spooled envelope becomes; the future completes when all are acknowledged."""
        futures = [self.client.publish(*message) for message in self.framer.frame(entry)]
        if len(futures) == 1:
            return futures[0]
        if futures:
            return asyncio.gather(*futures)
        nothing: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        nothing.set_result(None)
        return nothing

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
        # the connection the publisher has seen begin; a framer with sessions sees even the first
        # one, which may have come up before this task ran, so that its births go out
        connection = -1 if self.framer.fresh_sessions else self.client.connects
        deleted_through = NOTHING_STORED
        inflight: dict[asyncio.Future[Any], tuple[int, str, int, float]] = {}
        while True:
            up = self.client.connected.is_set()
            connected = up and self.framer.ready_for(self.client.connects)
            resend_in = self._resend_in(time.monotonic())
            if connected and resend_in == 0:
                log.warning(
                    "the collectors' watermark stays at %d although the broker acknowledged up to %d:"
                    " sending again what lies beyond it",
                    self.stored,
                    self._acked_through,
                )
            if connected and (self.client.connects != connection or resend_in == 0):
                if self.client.connects != connection and self.framer.fresh_sessions:
                    # the last session's in-flight messages failed with it: after the births,
                    # send them again from the oldest on, renumbered
                    if inflight:
                        cursor = min(cursor, min(seq for seq, *_ in inflight.values()) - 1)
                        for future in inflight:
                            future.cancel()
                        inflight.clear()
                    self._send_births()
                connection = self.client.connects
                if self.confirm:  # a broker may have lost what it acknowledged: resend it
                    cursor = self.stored
                    self._moved_at = time.monotonic()
                    self._heard = False
                    self.resends += 1
                    if self.metrics is not None:
                        self.metrics.resends.inc()
            if self.stored > deleted_through:
                self._confirmed.clear()
                deleted = await self.spool.delete_through(self.stored)
                deleted_through = self.stored
                if self.metrics is not None:
                    self.metrics.envelopes_confirmed.inc(deleted)
            self._wake.clear()
            if connected and self._rebirth:
                self._send_births()
            room = self.window - len(inflight)
            if connected and room > 0:
                self.spool.appended.clear()
                sending = {seq for seq, *_ in inflight.values()}
                for entry in await self.spool.read(max(cursor, self.stored), room + len(sending)):
                    if self.client.connects != connection or not self.framer.ready_for(connection):
                        break  # a new session began while reading (its births go first), or hold
                    cursor = entry.seq
                    if entry.seq in sending:
                        continue  # still in flight: paho re-sends it itself
                    if room == 0:
                        cursor = entry.seq - 1
                        break
                    future = self._send(entry)
                    inflight[future] = (entry.seq, entry.dev, entry.n, time.perf_counter())
                    room -= 1
            wake: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
            if not up:
                wake.add(asyncio.ensure_future(self.client.connected.wait()))
            elif not connected:
                pass  # held back by the framer (no primary host online): `rebirth()` wakes it
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
            failures: list[tuple[int, BaseException]] = []  # one line for them all (a session's end)
            now = time.perf_counter()
            for future in done:
                if future not in inflight:
                    continue
                seq, dev, n, started = inflight.pop(future)
                exc = future.exception()
                if exc is not None:
                    self.failed += 1
                    if self.metrics is not None:
                        self.metrics.publish_failures.inc()
                    failures.append((seq, exc))
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
            if failures:
                first, exc = min(failures, key=lambda f: f[0])
                log.warning("publish of %d envelope(s) from seq %d failed: %s; will re-send",
                            len(failures), first, exc)  # fmt: skip
            if retry_from is not None:
                cursor = min(cursor, retry_from)
                await asyncio.sleep(0.5)  # a refused publish (not a lost connection): do not spin
