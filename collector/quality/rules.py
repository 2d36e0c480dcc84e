"""What a point's readings are judged by: its device type's declared rules and the assessment's settings.

The rules are declared per point in the device-type YAML (`range`, `max_rate_per_s`,
`stuck_after_s`); a rule not declared is not checked. Counters and energy registers are judged by
the counter rules of `collector.kpi.counters` (the device's ideal rate), the one place that decides
what a step of a register means.
"""

# layering: pure

from __future__ import annotations

import math
from dataclasses import dataclass

from devicemodel.devicetype import DeviceType

NS_PER_S = 1_000_000_000
# A point may be silent this long before the silence counts as missing data: twice the slowest
# shipped heartbeat, the same default as a claim's `heartbeat_timeout_s`.
DEFAULT_HEARTBEAT_TIMEOUT_S = 600.0
# Changes over less than this are judged as if over this span, so noise between fast scans is not
# read as a rate of change.
MIN_RATE_SPAN_S = 1.0
# A reading stored this long after a newer reading of its point arrived late; less is the jitter of
# batches committing side by side, not an arrival out of order.
DEFAULT_LATE_AFTER_S = 5.0
MAX_LISTED = 20  # named gaps, stuck runs and discontinuities per point (the counts are complete)


@dataclass(frozen=True, slots=True)
class Settings:
    heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S
    max_latency_s: float | None = None  # None: only arrival order is judged (history imports are late)
    late_after_s: float = DEFAULT_LATE_AFTER_S

    def __post_init__(self) -> None:
        if not self.heartbeat_timeout_s > 0:
            raise ValueError("the heartbeat timeout must be positive")
        if self.max_latency_s is not None and not self.max_latency_s > 0:
            raise ValueError("the latency limit must be positive")
        if not self.late_after_s >= 0:
            raise ValueError("the late-arrival tolerance must not be negative")

    def to_json(self) -> dict[str, float | None]:
        return {
            "heartbeat_timeout_s": self.heartbeat_timeout_s,
            "max_latency_s": self.max_latency_s,
            "late_after_s": self.late_after_s,
        }


@dataclass(frozen=True, slots=True)
class PointRules:
    kind: str
    numeric: bool  # False: text, boolean-as-text and state names are judged by quality only
    low: float = -math.inf
    high: float = math.inf
    max_rate_per_s: float | None = None
    stuck_after_s: float | None = None
    wrap: float | None = None  # counters and energy registers
    ideal_rate_per_hour: float | None = None  # production counters of the device

    @property
    def has_range(self) -> bool:
        return math.isfinite(self.low) or math.isfinite(self.high)

    def to_json(self) -> dict[str, object]:
        return {
            "range": [self.low, self.high] if self.has_range else None,
            "max_rate_per_s": self.max_rate_per_s,
            "stuck_after_s": self.stuck_after_s,
        }


def rules_for(
    kind: str, numeric: bool, name: str, device_type: DeviceType | None, wrap: float | None,
    ideal_rate_per_hour: float | None,
) -> PointRules:  # fmt: skip
    """The rules of one stored point; `device_type` None: its type is not known here (no rules)."""
    spec = device_type.by_name.get(name) if device_type is not None else None
    counter_rate = ideal_rate_per_hour if kind == "counter" and ideal_rate_per_hour else None
    if spec is None:
        return PointRules(kind, numeric, wrap=wrap, ideal_rate_per_hour=counter_rate)
    low, high = spec.range if spec.range is not None else (-math.inf, math.inf)
    return PointRules(kind, numeric, low, high, spec.max_rate_per_s, spec.stuck_after_s, wrap, counter_rate)
