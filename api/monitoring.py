"""The alarm evaluator: an asyncio task of the platform service that runs the rules every
`interval_s`, stores what is raised and cleared, exports the active alarms and feeds the webhooks.

The rules are pure (`api.alarm_rules`); this module reads the sources (`api.monitor_sources`)
into a snapshot, applies the changes to the `alarms` table and sends an event for each change the
table accepted, so several service replicas raise and clear each alarm once between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import httpx
from psycopg_pool import AsyncConnectionPool

from api import alarm_store
from api.alarm_config import AlarmConfig
from api.alarm_metrics import SEVERITIES, AlarmMetrics
from api.alarm_rules import Changes, Counters, Key, Rules, Snapshot, changes, evaluate
from api.monitor_sources import BrokerSys, disk_usage, read_database, scrape
from api.webhooks import WebhookSender

log = logging.getLogger("plantproof.api.monitoring")
PRUNE_EVERY_S = 3600.0


class Evaluator:
    def __init__(self, config: AlarmConfig, pool: AsyncConnectionPool, metrics: AlarmMetrics) -> None:
        self.config, self.pool, self.metrics = config, pool, metrics
        self.senders = [WebhookSender(hook, metrics) for hook in config.webhooks]
        self.broker = BrokerSys(config.sources.broker) if config.sources.broker else None
        self.counters = Counters()
        self._active: dict[Key, str] | None = None  # read from the table at the first evaluation
        self._tasks: list[asyncio.Task[None]] = []
        self._http: httpx.AsyncClient | None = None  # made in the running loop, closed by stop()
        self._forgot_at = -PRUNE_EVERY_S  # monotonic time of the last pruning of cleared alarms

    async def snapshot(self) -> Snapshot:
        sources = self.config.sources
        timeout = sources.scrape_timeout_s
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        http = self._http
        scrapes = [scrape(http, t, "collector", timeout) for t in sources.collectors]
        scrapes += [scrape(http, t, "gateway", timeout) for t in sources.gateways]
        database, disks, scraped = await asyncio.gather(
            read_database(self.pool, self.config.rules),
            asyncio.gather(*(disk_usage(p) for p in sources.disks)),
            asyncio.gather(*scrapes),
        )
        return Snapshot(
            now=datetime.now(UTC),
            database=database,
            scrapes=tuple(scraped),
            broker=self.broker.values() if self.broker else None,
            broker_configured=self.broker is not None,
            disks=dict(zip(sources.disks, disks, strict=True)),
        )

    def _count_failures(self, snapshot: Snapshot) -> None:
        if snapshot.database is None:
            self.metrics.source_failures.labels("database").inc()
        for s in snapshot.scrapes:
            if s.samples is None:
                self.metrics.source_failures.labels(f"{s.kind}_metrics").inc()
        if snapshot.broker_configured and snapshot.broker is None:
            self.metrics.source_failures.labels("broker").inc()
        for usage in snapshot.disks.values():
            if usage is None:
                self.metrics.source_failures.labels("disk").inc()

    async def evaluate_once(self) -> Changes:
        """Read every source, apply the rules and store, export and send what changed."""
        started = time.monotonic()
        snapshot = await self.snapshot()
        self._count_failures(snapshot)
        if snapshot.database is None:
            # Nothing can be stored: the outage shows in source_failures_total{kind="database"} and
            # the log, and the alarms are judged again once the database answers.
            self._active = None
            self.metrics.evaluations.inc()
            return Changes((), ())
        if self._active is None:
            self._active = await alarm_store.active(self.pool)
        evaluation = evaluate(self.config.rules, snapshot, self.counters)
        found = changes(self._active, evaluation)
        for finding in found.raised:
            alarm = await alarm_store.raise_alarm(self.pool, finding, snapshot.now)
            self._active[finding.key] = finding.severity
            if alarm is not None:
                log.warning("alarm %d raised: %s %s: %s", alarm.id, alarm.rule, alarm.subject, alarm.message)
                self.metrics.raised.labels(alarm.rule, alarm.severity).inc()
                self._send(alarm.event("raised"))
        for key in found.cleared:
            alarm = await alarm_store.clear(self.pool, key, snapshot.now)
            self._active.pop(key, None)
            if alarm is not None:
                log.info("alarm %d cleared: %s %s", alarm.id, alarm.rule, alarm.subject)
                self.metrics.cleared.labels(alarm.rule, alarm.severity).inc()
                self._send(alarm.event("cleared"))
        self._export()
        if started - self._forgot_at >= PRUNE_EVERY_S:
            self._forgot_at = started
            forgotten = await alarm_store.forget_cleared(self.pool, self.config.keep_cleared_days)
            if forgotten:
                log.info(
                    "%d alarms cleared over %.0f days ago deleted", forgotten, self.config.keep_cleared_days
                )
        self.metrics.evaluations.inc()
        self.metrics.evaluation_seconds.observe(time.monotonic() - started)
        return found

    def _send(self, event: dict[str, object]) -> None:
        for sender in self.senders:
            sender.submit(event)

    def _export(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        for (rule, _), severity in (self._active or {}).items():
            counts[rule, severity] = counts.get((rule, severity), 0) + 1
        for rule in Rules.model_fields:
            for severity in SEVERITIES:
                self.metrics.active.labels(rule, severity).set(counts.get((rule, severity), 0))

    async def _loop(self) -> None:
        while True:
            try:
                await self.evaluate_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next evaluation starts afresh from the table
                self.metrics.evaluation_errors.inc()
                self._active = None
                log.error("alarm evaluation failed: %s: %s", type(exc).__name__, " ".join(str(exc).split()))
            await asyncio.sleep(self.config.interval_s)

    def start(self) -> None:
        if self.broker is not None:
            self.broker.start()
        self._tasks = [asyncio.create_task(s.run()) for s in self.senders]
        self._tasks.append(asyncio.create_task(self._loop()))
        log.info("alarm rules every %.0f s, %d webhook(s)", self.config.interval_s, len(self.config.webhooks))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.broker is not None:
            self.broker.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
