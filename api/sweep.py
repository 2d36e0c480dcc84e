"""The management sweep: every `interval_s`, one operation to every managed plant device, at most
`per_second` sent each second, so "managed equipment" reflects recurring management done by the
platform (management_ops rows `requested_by` = `api:sweep`), not a one-off.

`batches` is the pure core; `Sweep.run` is the loop the service's lifespan starts and cancels. A
sweep that fails (broker or database down) is logged and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from api.service_metrics import ServiceMetrics
from collector.errors import CollectorError
from collector.management import LIVE_GATEWAY, Target, send

log = logging.getLogger("plantproof.api.sweep")
REQUESTED_BY = "api:sweep"
T = TypeVar("T")


class SweepSettings(BaseModel, frozen=True, extra="forbid"):
    enabled: bool = False
    # ping proves the device was reached (it counts as managed); read_config answers from the gateway
    op: Literal["ping", "read_config"] = "ping"
    interval_s: float = Field(default=21_600.0, ge=1)
    per_second: int = Field(default=5, ge=1, le=1000)  # operations sent per second at most
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    max_devices: int = Field(default=10_000, ge=1)  # devices one sweep reaches at most (oldest first)


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass(slots=True)
class SweepStats:
    sweeps: int = 0
    sent: int = 0
    answered: int = 0
    reached: int = 0
    failed_sweeps: int = 0


_TARGETS = f"""
SELECT d.site, ({LIVE_GATEWAY}) AS gw, d.dev FROM devices d
WHERE d.namespace = 'plant' AND d.managed ORDER BY d.first_seen, d.device_id LIMIT %s
"""


class Sweep:
    def __init__(
        self,
        settings: SweepSettings,
        pool: AsyncConnectionPool,
        mqtt_url: str,
        dsn: str,
        metrics: ServiceMetrics,
    ) -> None:
        self.settings, self.pool, self.mqtt_url, self.dsn = settings, pool, mqtt_url, dsn
        self.stats, self.metrics = SweepStats(), metrics

    async def targets(self) -> list[Target]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(_TARGETS, (self.settings.max_devices,))).fetchall()
        return [Target(site, gw, dev) for site, gw, dev in rows]

    async def once(self) -> None:
        s, started = self.settings, time.monotonic()
        targets = await self.targets()
        sent = answered = reached = 0
        for batch in batches(targets, s.per_second):
            second = time.monotonic()
            outcomes = await asyncio.to_thread(
                send, self.mqtt_url, self.dsn, batch, s.op, timeout=s.timeout_s, requested_by=REQUESTED_BY
            )
            for o in outcomes:
                self.metrics.count(o.op, o.ok, o.reached, "sweep")
            sent += len(batch)
            answered += sum(o.ok is not None for o in outcomes)
            reached += sum(o.reached for o in outcomes)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - second)))
        self.stats.sweeps += 1
        self.metrics.sweeps.inc()
        self.stats.sent += sent
        self.stats.answered += answered
        self.stats.reached += reached
        log.info(
            "management sweep: %s to %d devices, %d answered, %d reached, %.1f s",
            s.op, sent, answered, reached, time.monotonic() - started,
        )  # fmt: skip

    async def run(self) -> None:
        while True:
            try:
                await self.once()
            except (CollectorError, psycopg.Error, OSError) as exc:
                self.stats.failed_sweeps += 1
                self.metrics.sweep_failures.inc()
                log.error("management sweep failed: %s", exc)
            await asyncio.sleep(self.settings.interval_s)
