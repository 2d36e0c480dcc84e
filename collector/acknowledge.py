"""End-to-end acknowledgement: after a commit, each gateway's `$stored` watermark (DESIGN §3).

The watermark of a gateway is the highest seq up to which every one of its envelopes is committed:
in the ledger, in dead letters, or declared dropped by the gateway's spool (`$dropped`). It is
computed in the database (`ack_advance`, so several collectors agree) after the batches that may
move it have committed, and published retained at QoS 1 to `pp/v1/{site}/{gw}/$stored`. The gateway
deletes its spooled envelopes up to it. Published when it moves, at most once a second again while
the gateway keeps resending what is already stored (its retained copy may have died with a broker),
and for every known gateway after each (re)connection to the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

import wire
from collector.metrics import Metrics
from infra.mqtt.subscriber import ManualAckSubscriber

log = logging.getLogger(__name__)
REPEAT_AFTER_S = 1.0
RETRY_AFTER_S = 1.0


@dataclass(slots=True)
class _Mark:
    site: str
    seq: int = wire.NOTHING_STORED
    published: float = float("-inf")  # monotonic time of the last publication of `seq`
    sent: bool = False  # `seq` reached the broker since the last (re)connect


class Acknowledger:
    def __init__(self, dsn: str, source: ManualAckSubscriber, metrics: Metrics) -> None:
        self.dsn = dsn
        self.source = source
        self.metrics = metrics
        self._marks: dict[str, _Mark] = {}
        self._dirty: dict[str, str] = {}  # gw -> site: its watermark may have moved
        self._wake = asyncio.Event()
        self._conn: psycopg.Connection | None = None
        self._generation = -1

    def committed(self, gateways: set[tuple[str, str]]) -> None:
        """Gateways whose envelopes a batch just committed (called after the commit)."""
        for site, gw in gateways:
            self._dirty[gw] = site
        if gateways:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        known = False
        try:
            while not stop.is_set():
                if not known:  # every gateway the database knows, once: recompute and republish
                    known = await self._try(self._load_known)
                if self._dirty and not await self._try(self._advance):
                    await _sleep(stop, RETRY_AFTER_S)
                self._publish()
                self.metrics.watermark_lag.set(
                    len(self._dirty) + sum(not m.sent for m in self._marks.values())
                )
                self._wake.clear()
                wait = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({wait, asyncio.ensure_future(stop.wait())}, timeout=RETRY_AFTER_S,
                                       return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                finally:
                    wait.cancel()
        finally:
            if self._conn is not None:
                await asyncio.to_thread(self._conn.close)

    async def _try(self, step: Callable[[], None]) -> bool:
        try:
            await asyncio.to_thread(step)
            return True
        except psycopg.Error as exc:
            if self._conn is not None:
                await asyncio.to_thread(self._conn.close)
            self._conn = None
            log.warning("watermarks not computed (retrying): %s", str(exc).strip().splitlines()[0])
            return False

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        return self._conn

    def _load_known(self) -> None:
        rows = self._connection().execute("SELECT gw, site FROM ack_watermarks").fetchall()
        for gw, site in rows:
            self._dirty.setdefault(str(gw), str(site))

    def _advance(self) -> None:
        dirty = dict(self._dirty)
        gws = sorted(dirty)
        rows = (
            self._connection()
            .execute(
                "SELECT u.gw, ack_advance(u.gw, u.site) FROM unnest(%s::text[], %s::text[]) AS u(gw, site)",
                (gws, [dirty[g] for g in gws]),
            )
            .fetchall()
        )
        now = time.monotonic()
        for gw, seq in rows:
            mark = self._marks.setdefault(str(gw), _Mark(dirty[gw]))
            mark.site = dirty[gw]
            if int(seq) != mark.seq or now - mark.published >= REPEAT_AFTER_S:
                mark.seq, mark.sent = int(seq), False
        for gw in gws:
            if self._dirty.get(gw) == dirty[gw]:
                del self._dirty[gw]

    def _publish(self) -> None:
        if self.source.generation != self._generation and self.source.connected.is_set():
            self._generation = self.source.generation  # a new connection: every watermark again
            for mark in self._marks.values():
                mark.sent = False
        now = time.monotonic()
        for gw, mark in self._marks.items():
            if mark.sent:
                continue
            payload = wire.encode_ack(wire.Stored(gw, mark.seq, time.time_ns()))
            if not self.source.publish(wire.gateway_topic(mark.site, gw, "$stored"), payload):
                return  # not connected: all of them after the reconnect
            mark.sent, mark.published = True, now
            self.metrics.watermarks_published.inc()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
