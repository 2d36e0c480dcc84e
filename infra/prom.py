"""What every program's Prometheus registry carries: process_* metrics and plantproof_build_info.

Each program (and each gateway of a process that runs several) exports on a registry of its own, so
the process collector is registered on each rather than relying on the global default registry.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


def version() -> str:
    try:
        return importlib.metadata.version("plantproof")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def program_registry() -> CollectorRegistry:
    """A registry with process_* (CPU seconds, RSS, open fds, start time; on Linux) and build info."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    info = Gauge(
        "plantproof_build_info",
        "Always 1: the plantproof version and the Python version of this process",
        ["version", "python"],
        registry=registry,
    )
    info.labels(version(), platform.python_version()).set(1)
    return registry


class FunctionCounter(Collector):
    """A counter whose value is read from a running total kept elsewhere (it must never go down)."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self.name, self.documentation, self.read = name, documentation, read

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, value=self.read())

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation)


class Deltas:
    """Advances counters from running ints kept by others (clients, adapters): by what was added since
    the last observation. A total that went down means its source started again: all of it is new."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, tuple[str, ...]], float] = {}

    def advance(self, counter: Counter, value: float, *labels: str) -> None:
        key = (id(counter), labels)
        last = self._seen.get(key, 0.0)
        added = value - last if value >= last else value
        self._seen[key] = value
        if added > 0:
            (counter.labels(*labels) if labels else counter).inc(added)
