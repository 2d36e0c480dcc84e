"""Batches samples per device into envelopes by size and by age (pure: the caller supplies the clock).

Bounded by construction: a batch that reaches `max_samples` is handed out at once, and the caller
writes it to the spool before it reads on, so a device never holds more than one partial batch.
"""

from dataclasses import dataclass, field

from gateway.edge import Sample


@dataclass(slots=True)
class _Pending:
    started: float
    samples: list[Sample] = field(default_factory=list)


class Batcher:
    def __init__(self, max_samples: int, max_age_s: float) -> None:
        self.max_samples = max_samples
        self.max_age_s = max_age_s
        self._pending: dict[str, _Pending] = {}

    def add(self, dev: str, samples: list[Sample], now: float) -> list[tuple[str, list[Sample]]]:
        """Queue samples; returns the batches that became full."""
        if not samples:
            return []
        pending = self._pending.get(dev)
        if pending is None:
            pending = self._pending[dev] = _Pending(now)
        pending.samples.extend(samples)
        full: list[tuple[str, list[Sample]]] = []
        while len(pending.samples) >= self.max_samples:
            full.append((dev, pending.samples[: self.max_samples]))
            del pending.samples[: self.max_samples]
            pending.started = now
        if not pending.samples:
            del self._pending[dev]
        return full

    def due(self, now: float) -> list[tuple[str, list[Sample]]]:
        """Batches older than `max_age_s`."""
        ready = [dev for dev, p in self._pending.items() if now - p.started >= self.max_age_s]
        return [(dev, self._pending.pop(dev).samples) for dev in ready]

    def drain_device(self, dev: str) -> list[tuple[str, list[Sample]]]:
        pending = self._pending.pop(dev, None)
        return [(dev, pending.samples)] if pending else []

    def drain(self) -> list[tuple[str, list[Sample]]]:
        out = [(dev, p.samples) for dev, p in self._pending.items()]
        self._pending.clear()
        return out

    @property
    def pending(self) -> int:
        return sum(len(p.samples) for p in self._pending.values())
