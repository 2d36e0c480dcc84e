"""Alarm rules and their evaluation: what the sources show now → the alarms that hold (pure).

`evaluate(rules, snapshot, counters)` turns one `Snapshot` (registry rows, database figures,
scraped Prometheus samples, the broker's `$SYS` values, disk usage) into the `Finding`s that fire
now, and says which rules and subjects it could not see (`blind`): an alarm whose source is
unreadable is neither raised nor cleared on that account. `changes` compares findings with the
active alarms; `Counters` keeps running totals seen over time so a rule can ask for an increase
within a window (a total that goes down means its process started again).
"""

# layering: pure

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["critical", "warning", "info"]
Key = tuple[str, str]  # (rule, subject): at most one active alarm each

DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
CPU_SECONDS = "process_cpu_seconds_total"
RESIDENT_BYTES = "process_resident_memory_bytes"
SPOOL_DEPTH = "plantproof_gateway_spool_depth"


class _Rule(BaseModel, frozen=True, extra="forbid"):
    enabled: bool = True
    severity: Severity = "warning"


class GatewayOffline(_Rule, frozen=True):
    severity: Severity = "critical"
    # No birth, `$status`, heartbeat or data for this long; a `$status offline` raises at once.
    delay_s: float = Field(default=120.0, gt=0)


class DeviceOffline(_Rule, frozen=True):
    # No data for this long, whether its gateway reported it lost or not: a death while the gateway
    # restarts is followed at once by a birth, and is no alarm.
    delay_s: float = Field(default=300.0, gt=0)


class DeviceFlapping(_Rule, frozen=True):
    window_s: float = Field(default=3600.0, gt=0)
    deaths: int = Field(default=5, ge=1)  # deaths within the window that make a device flapping


class IngestLag(_Rule, frozen=True):
    window_s: float = Field(default=300.0, gt=0)
    above_s: float = Field(default=60.0, gt=0)  # 95th percentile of commit minus sent time


class DeadLetterRate(_Rule, frozen=True):
    window_s: float = Field(default=300.0, gt=0)
    above_per_min: float = Field(default=10.0, ge=0)


class SpoolDepth(_Rule, frozen=True):
    above: int = Field(default=10_000, ge=0)  # envelopes held by a gateway's spool


class BrokerDropped(_Rule, frozen=True):
    window_s: float = Field(default=300.0, gt=0)
    above: int = Field(default=0, ge=0)  # messages the broker dropped within the window


class DatabaseSize(_Rule, frozen=True):
    above_bytes: int = Field(default=50 * 1024**3, gt=0)


class DiskFree(_Rule, frozen=True):
    severity: Severity = "critical"
    below_ratio: float = Field(default=0.1, gt=0, lt=1)


class CollectorCpu(_Rule, frozen=True):
    window_s: float = Field(default=300.0, gt=0)
    above_ratio: float = Field(default=0.9, gt=0)  # CPU seconds per second (1.0: one core busy)


class CollectorMemory(_Rule, frozen=True):
    above_bytes: int = Field(default=2 * 1024**3, gt=0)


class SourceDown(_Rule, frozen=True):
    pass  # a metrics endpoint, the broker or a disk path that cannot be read


class Rules(BaseModel, frozen=True, extra="forbid"):
    gateway_offline: GatewayOffline = GatewayOffline()
    device_offline: DeviceOffline = DeviceOffline()
    device_flapping: DeviceFlapping = DeviceFlapping()
    ingest_lag: IngestLag = IngestLag()
    dead_letter_rate: DeadLetterRate = DeadLetterRate()
    spool_depth: SpoolDepth = SpoolDepth()
    broker_dropped: BrokerDropped = BrokerDropped()
    database_size: DatabaseSize = DatabaseSize()
    disk_free: DiskFree = DiskFree()
    collector_cpu: CollectorCpu = CollectorCpu()
    collector_memory: CollectorMemory = CollectorMemory()
    source_down: SourceDown = SourceDown()


@dataclass(frozen=True, slots=True)
class GatewayRow:
    site: str
    gw: str
    status: str  # online | offline | unknown, from `$status` (offline: clean stop or the Will)
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class DeviceRow:
    site: str
    dev: str
    gw: str
    online: bool
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class Database:
    gateways: tuple[GatewayRow, ...]
    devices: tuple[DeviceRow, ...]
    deaths: Mapping[tuple[str, str], int]  # (site, dev) -> deaths within device_flapping.window_s
    ingest_lag_s: float | None  # None: no data envelope within the window
    dead_letters: int  # within dead_letter_rate.window_s
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Scrape:
    subject: str  # the target's name (a URL may carry credentials)
    kind: Literal["collector", "gateway"]
    site: str | None
    samples: Mapping[str, float] | None  # None: the scrape failed


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: datetime
    database: Database | None  # None: unreadable
    scrapes: tuple[Scrape, ...] = ()
    broker: Mapping[str, str] | None = None  # the `$SYS` values seen; None: not connected
    broker_configured: bool = False
    disks: Mapping[str, tuple[int, int] | None] = field(default_factory=dict)  # path -> (free, total)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    subject: str
    site: str | None  # None: the platform's own (broker, database, collector)
    severity: Severity
    value: float | None
    message: str

    @property
    def key(self) -> Key:
        return (self.rule, self.subject)


@dataclass(frozen=True, slots=True)
class Evaluation:
    findings: tuple[Finding, ...]
    blind_rules: frozenset[str]  # rules whose source could not be read at all
    blind: frozenset[Key]  # single alarms that could not be judged

    def judged(self, key: Key) -> bool:
        return key[0] not in self.blind_rules and key not in self.blind


@dataclass(frozen=True, slots=True)
class Changes:
    raised: tuple[Finding, ...]
    cleared: tuple[Key, ...]


def changes(active: Collection[Key], evaluation: Evaluation) -> Changes:
    """New findings are raised; active alarms no longer found, and judged, are cleared."""
    found = {f.key for f in evaluation.findings}
    raised = tuple(f for f in evaluation.findings if f.key not in active)
    cleared = tuple(k for k in sorted(active) if k not in found and evaluation.judged(k))
    return Changes(raised, cleared)


class Counters:
    """Running totals per key with the time they were seen, `keep` samples each at most."""

    def __init__(self, keep: int = 512) -> None:
        self._seen: dict[str, deque[tuple[float, float]]] = {}
        self._keep = keep

    def observe(self, key: str, at_s: float, value: float) -> None:
        self._seen.setdefault(key, deque(maxlen=self._keep)).append((at_s, value))

    def increase(self, key: str, window_s: float, now_s: float) -> tuple[float, float] | None:
        """(increase, seconds it spans) over the window; None before two samples are in it."""
        samples = self._seen.get(key)
        if not samples:
            return None
        while len(samples) > 2 and samples[1][0] <= now_s - window_s:
            samples.popleft()  # keep one sample at or before the window's start
        if len(samples) < 2:
            return None
        added, previous = 0.0, samples[0][1]
        for _, value in list(samples)[1:]:
            added += value - previous if value >= previous else value
            previous = value
        return added, samples[-1][0] - samples[0][0]


def _age_s(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds()


def _registry(rules: Rules, db: Database, now: datetime, blind: set[Key]) -> Iterable[Finding]:
    g, d, f = rules.gateway_offline, rules.device_offline, rules.device_flapping
    down: set[str] = set()
    for gw in db.gateways:
        subject, age = f"{gw.site}/{gw.gw}", _age_s(now, gw.last_seen)
        if gw.status == "offline":
            message = f"gateway {subject} went offline (its $status)"
        elif age > g.delay_s:
            message = f"gateway {subject}: no birth, heartbeat or data for {age:.0f} s"
        else:
            continue
        down.add(gw.gw)
        if g.enabled:
            yield Finding("gateway_offline", subject, gw.site, g.severity, age, message)
    for dev in db.devices:
        subject, age = f"{dev.site}/{dev.dev}", _age_s(now, dev.last_seen)
        if dev.gw in down:  # the gateway's alarm says it; its devices' alarms stay as they are
            blind.add(("device_offline", subject))
        elif d.enabled and age > d.delay_s:
            why = (
                f"lost (its gateway said so) {age:.0f} s ago"
                if not dev.online
                else f"no data for {age:.0f} s"
            )
            yield Finding("device_offline", subject, dev.site, d.severity, age, f"device {subject}: {why}")
        deaths = db.deaths.get((dev.site, dev.dev), 0)
        if f.enabled and deaths >= f.deaths:
            message = f"device {subject} was lost {deaths} times within {f.window_s:.0f} s"
            yield Finding("device_flapping", subject, dev.site, f.severity, deaths, message)


def _database(rules: Rules, db: Database) -> Iterable[Finding]:
    lag, dead, size = rules.ingest_lag, rules.dead_letter_rate, rules.database_size
    if lag.enabled and db.ingest_lag_s is not None and db.ingest_lag_s > lag.above_s:
        message = f"95th percentile ingest lag {db.ingest_lag_s:.1f} s over the last {lag.window_s:.0f} s"
        yield Finding("ingest_lag", "collector", None, lag.severity, db.ingest_lag_s, message)
    per_min = db.dead_letters / (dead.window_s / 60)
    if dead.enabled and per_min > dead.above_per_min:
        message = f"{db.dead_letters} dead letters in the last {dead.window_s:.0f} s ({per_min:.1f}/min)"
        yield Finding("dead_letter_rate", "collector", None, dead.severity, per_min, message)
    if size.enabled and db.size_bytes > size.above_bytes:
        message = f"database holds {db.size_bytes} bytes (limit {size.above_bytes})"
        yield Finding("database_size", "database", None, size.severity, db.size_bytes, message)


def _scrape(rules: Rules, s: Scrape, now_s: float, counters: Counters) -> Iterable[Finding]:
    samples = s.samples or {}
    if s.kind == "gateway":
        spool, depth = rules.spool_depth, samples.get(SPOOL_DEPTH)
        if spool.enabled and depth is not None and depth > spool.above:
            message = f"gateway {s.subject} holds {depth:.0f} envelopes in its spool"
            yield Finding("spool_depth", s.subject, s.site, spool.severity, depth, message)
        return
    cpu, memory = rules.collector_cpu, rules.collector_memory
    if CPU_SECONDS in samples:
        counters.observe(f"{s.subject} cpu", now_s, samples[CPU_SECONDS])
    used = counters.increase(f"{s.subject} cpu", cpu.window_s, now_s)
    if cpu.enabled and used is not None and used[1] > 0 and used[0] / used[1] > cpu.above_ratio:
        ratio = used[0] / used[1]
        message = f"collector {s.subject} used {ratio:.2f} CPU seconds per second over {used[1]:.0f} s"
        yield Finding("collector_cpu", s.subject, s.site, cpu.severity, ratio, message)
    rss = samples.get(RESIDENT_BYTES)
    if memory.enabled and rss is not None and rss > memory.above_bytes:
        message = f"collector {s.subject} resident memory {rss:.0f} bytes (limit {memory.above_bytes})"
        yield Finding("collector_memory", s.subject, s.site, memory.severity, rss, message)


def _broker(rules: Rules, values: Mapping[str, str], now_s: float, counters: Counters) -> Iterable[Finding]:
    rule = rules.broker_dropped
    raw = values.get(DROPPED_TOPIC, "")  # absent until the broker's first sys_interval
    if raw.strip().isdigit():
        counters.observe("broker dropped", now_s, float(raw))
    dropped = counters.increase("broker dropped", rule.window_s, now_s)
    if rule.enabled and dropped is not None and dropped[0] > rule.above:
        message = f"the broker dropped {dropped[0]:.0f} messages in the last {dropped[1]:.0f} s"
        yield Finding("broker_dropped", "broker", None, rule.severity, dropped[0], message)


def _down(rules: Rules, subject: str, site: str | None, what: str) -> Finding:
    return Finding("source_down", subject, site, rules.source_down.severity, None, f"{what} cannot be read")


def evaluate(rules: Rules, snapshot: Snapshot, counters: Counters) -> Evaluation:
    findings: list[Finding] = []
    blind_rules: set[str] = set()
    blind: set[Key] = set()
    now_s = snapshot.now.timestamp()
    db = snapshot.database
    if db is None:
        blind_rules |= {"gateway_offline", "device_offline", "device_flapping"}
        blind_rules |= {"ingest_lag", "dead_letter_rate", "database_size"}
        # no finding: with the database away it could not be stored (the caller counts the outage)
    else:
        findings += _registry(rules, db, snapshot.now, blind)
        findings += _database(rules, db)
    for s in snapshot.scrapes:
        if s.samples is None:
            blind |= {(r, s.subject) for r in ("spool_depth", "collector_cpu", "collector_memory")}
            findings.append(_down(rules, s.subject, s.site, f"the metrics of {s.subject}"))
        else:
            findings += _scrape(rules, s, now_s, counters)
    if snapshot.broker is not None:
        findings += _broker(rules, snapshot.broker, now_s, counters)
    elif snapshot.broker_configured:
        blind_rules.add("broker_dropped")
        findings.append(_down(rules, "broker", None, "the broker's $SYS topics"))
    disk = rules.disk_free
    for path, usage in sorted(snapshot.disks.items()):
        if usage is None:
            blind.add(("disk_free", path))
            findings.append(_down(rules, path, None, f"disk usage of {path}"))
        elif disk.enabled and usage[1] > 0 and usage[0] / usage[1] < disk.below_ratio:
            ratio = usage[0] / usage[1]
            message = f"{path}: {ratio:.1%} free ({usage[0]} of {usage[1]} bytes)"
            findings.append(Finding("disk_free", path, None, disk.severity, ratio, message))
    if not rules.source_down.enabled:
        findings = [f for f in findings if f.rule != "source_down"]
    return Evaluation(tuple(findings), frozenset(blind_rules), frozenset(blind))
