"""Prometheus metrics of the service's management operations, sweep and evidence store, on the
service's registry (served at `/metrics` with the alarm metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        p = "plantproof_api"
        self.operations = Counter(
            f"{p}_management_operations",
            "Management operations sent, by operation, outcome (reached, answered, failed, unanswered)"
            " and sender (api, sweep)",
            ["op", "outcome", "by"],
            registry=registry,
        )
        self.sweeps = Counter(f"{p}_sweeps", "Management sweeps completed", registry=registry)
        self.sweep_failures = Counter(
            f"{p}_sweep_failures",
            "Management sweeps that failed (logged; the next one runs)",
            registry=registry,
        )
        self.bundles_removed = Counter(
            f"{p}_evidence_bundles_removed",
            "Exported bundles removed, oldest first, past limits.max_bundles_per_tenant",
            registry=registry,
        )

    def count(self, op: str, ok: bool | None, reached: bool, by: str) -> None:
        outcome = "unanswered" if ok is None else "reached" if reached else "answered" if ok else "failed"
        self.operations.labels(op, outcome, by).inc()
