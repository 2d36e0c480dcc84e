"""Edge processing (pure): scaling, device state codes to canonical states, deadband, report by exception.

A reading is reported when it is the first of its point, when its quality changed, when it moved
beyond every configured deadband since the last reported value, or when the point has been silent
for `max_silence_s` on the gateway's clock (the heartbeat, so consumers can tell "unchanged" from
"no data"; `gateway.heartbeat` has the rule and how repeats are stamped).
"""

import math
import time
from collections.abc import Sequence

from adapters.base import QUALITY_BAD, QUALITY_UNCERTAIN, RawReading
from devicemodel.devicetype import DeviceType, PointSpec
from devicemodel.states import UNMAPPED_STATE, canonical_state
from gateway.config import EdgeConfig, EdgeSettings
from gateway.heartbeat import Heartbeat, Sample, Value

__all__ = ["EdgeProcessor", "Sample", "Value", "to_engineering"]


def to_engineering(spec: PointSpec, raw: Value, quality: int) -> tuple[Value, int]:
    """The wire value of one raw reading and its (possibly lowered) quality."""
    if raw is None:
        return None, QUALITY_BAD
    if spec.kind == "state":
        try:
            code = int(raw)
        except (TypeError, ValueError):
            return UNMAPPED_STATE, max(quality, QUALITY_UNCERTAIN)
        state, mapped = canonical_state(code, spec.states)
        return state, quality if mapped else max(quality, QUALITY_UNCERTAIN)
    if spec.dtype == "bool":
        return bool(raw), quality
    if spec.dtype == "string" or isinstance(raw, str):
        return str(raw), quality
    if isinstance(raw, float) and not math.isfinite(raw):
        return None, QUALITY_BAD
    if isinstance(raw, int) and not isinstance(raw, bool) and spec.scale == 1.0 and spec.offset == 0.0:
        return raw, quality  # keep integers exact (counters)
    return spec.to_engineering(float(raw)), quality


def _beyond_deadband(value: Value, last: Value, settings: EdgeSettings) -> bool:
    if value == last:
        return False
    if not isinstance(value, int | float) or not isinstance(last, int | float) or isinstance(value, bool):
        return True  # states, switches, strings: every change counts
    delta = abs(float(value) - float(last))
    if settings.deadband_abs > 0 and delta <= settings.deadband_abs:
        return False
    return not (settings.deadband_pct > 0 and delta <= abs(float(last)) * settings.deadband_pct / 100.0)


class EdgeProcessor:
    """Per-device edge state. Not thread-safe; one instance per device task."""

    def __init__(self, device_type: DeviceType, edge: EdgeConfig, now_ns: int | None = None) -> None:
        self._specs = device_type.by_name
        self._settings = {name: edge.for_point(name) for name in self._specs}
        silence = {name: int(s.max_silence_s * 1e9) for name, s in self._settings.items()}
        self._beat = Heartbeat(silence, time.time_ns() if now_ns is None else now_ns)
        self.unknown_points = 0  # readings of points the device type does not name (counted, not sent)
        self.suppressed = 0

    def process(self, readings: Sequence[RawReading], now_ns: int | None = None) -> list[Sample]:
        """Samples to publish for readings observed at `now_ns` on the gateway's clock."""
        now = time.time_ns() if now_ns is None else now_ns
        out: list[Sample] = []
        for reading in readings:
            spec = self._specs.get(reading.point)
            if spec is None:
                self.unknown_points += 1
                continue
            value, quality = to_engineering(spec, reading.value, reading.quality)
            last = self._beat.last(reading.point)
            if (
                last is None
                or quality != last.quality
                or self._beat.due(reading.point, now)
                or _beyond_deadband(value, last.value, self._settings[reading.point])
            ):
                ts = self._beat.stamp(reading.point, reading.ts_ns, now)
                sample: Sample = (reading.point, ts, value, quality)
                if reading.status is not None and quality > 0:
                    sample = (reading.point, ts, value, quality, reading.status)
                out.append(self._beat.record(sample, now))
            else:
                self.suppressed += 1
        return out

    def heartbeat(self, now_ns: int | None = None) -> list[Sample]:
        """Repeats of the points silent for `max_silence_s`; call only while the link is healthy."""
        return self._beat.repeats(time.time_ns() if now_ns is None else now_ns)

    def forget(self, now_ns: int | None = None) -> None:
        """After a link loss everything is reported afresh (and old source timestamps are not new)."""
        self._beat.forget(time.time_ns() if now_ns is None else now_ns)
