"""Exponential backoff with jitter, shared by every adapter's supervised connection loop."""

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays `initial * factor**n`, capped at `maximum`, each spread by ±`jitter` (a fraction).

    Jitter keeps many gateways (or many devices of one gateway) from reconnecting in lockstep after
    a shared outage.
    """

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("backoff needs 0 < initial <= maximum, factor >= 1, 0 <= jitter < 1")

    def next_delay(self) -> float:
        """The delay before the next attempt; grows with every call until `reset`."""
        base = min(self.maximum, self.initial * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        spread = base * self.jitter
        return max(0.0, min(self.maximum, base + self.rng.uniform(-spread, spread)))

    def reset(self) -> None:
        self.attempts = 0
