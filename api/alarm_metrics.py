"""Prometheus metrics of the platform service's monitoring, served at `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from api.alarm_rules import Rules
from infra.prom import program_registry

SEVERITIES = ("critical", "warning", "info")


class AlarmMetrics:
    def __init__(self) -> None:
        r = self.registry = program_registry()
        p = "plantproof_alarm"
        self.active = Gauge(
            "plantproof_alarms_active", "Alarms raised and not yet cleared", ["rule", "severity"], registry=r
        )
        for rule in Rules.model_fields:  # every rule is exported, at 0 while it holds no alarm
            for severity in SEVERITIES:
                self.active.labels(rule, severity)
        self.raised = Counter(f"{p}s_raised", "Alarms raised", ["rule", "severity"], registry=r)
        self.cleared = Counter(f"{p}s_cleared", "Alarms cleared", ["rule", "severity"], registry=r)
        self.evaluations = Counter(f"{p}_evaluations", "Rule evaluations completed", registry=r)
        self.evaluation_errors = Counter(
            f"{p}_evaluation_errors", "Rule evaluations that failed (logged; the next one runs)", registry=r
        )
        self.evaluation_seconds = Histogram(
            f"{p}_evaluation_seconds",
            "Time to read every source and apply one evaluation",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.source_failures = Counter(
            f"{p}_source_failures", "Sources that could not be read, by kind", ["kind"], registry=r
        )
        w = f"{p}_webhook_"
        self.delivered = Counter(f"{w}delivered", "Events a webhook accepted (2xx)", ["webhook"], registry=r)
        self.attempts_failed = Counter(
            f"{w}failed_attempts",
            "POSTs refused or unanswered (retried with backoff)",
            ["webhook"],
            registry=r,
        )
        self.given_up = Counter(
            f"{w}given_up", "Events dropped after max_attempts failed POSTs", ["webhook"], registry=r
        )
        self.dropped = Counter(
            f"{w}dropped", "Events dropped, oldest first, because the queue was full", ["webhook"], registry=r
        )
        self.queue_events = Gauge(f"{w}queue_events", "Events waiting", ["webhook"], registry=r)
        self.queue_bytes = Gauge(f"{w}queue_bytes", "Bytes of the events waiting", ["webhook"], registry=r)
