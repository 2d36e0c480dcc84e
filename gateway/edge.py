"""Edge processing (pure): scaling, device state codes to canonical states, deadband, report by exception.

A reading is reported when it is the first of its point, when its quality changed, when it moved
beyond every configured deadband since the last reported value, or when the point has been silent
for `max_silence_s` (the heartbeat, so consumers can tell "unchanged" from "no data").
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.base import QUALITY_BAD, QUALITY_UNCERTAIN, RawReading
from adapters.devicetype import DeviceType, PointSpec
from gateway.config import EdgeConfig, EdgeSettings

UNMAPPED_STATE = "unknown_stop"
Value = bool | int | float | str | None
# [point, ts_ns, value, quality] or, for a bad/uncertain reading with the source's status code,
# [point, ts_ns, value, quality, status]: the wire sample
Sample = tuple[str, int, Value, int] | tuple[str, int, Value, int, int]


@dataclass(slots=True)
class _Last:
    value: Value
    quality: int
    sent_ns: int


def to_engineering(spec: PointSpec, raw: Value, quality: int) -> tuple[Value, int]:
    """The wire value of one raw reading and its (possibly lowered) quality."""
    if raw is None:
        return None, QUALITY_BAD
    if spec.kind == "state":
        try:
            code = int(raw)
        except (TypeError, ValueError):
            return UNMAPPED_STATE, max(quality, QUALITY_UNCERTAIN)
        states = spec.states or {}
        if code in states:
            return states[code], quality
        return UNMAPPED_STATE, max(quality, QUALITY_UNCERTAIN)
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

    def __init__(self, device_type: DeviceType, edge: EdgeConfig) -> None:
        self._specs = device_type.by_name
        self._settings = {name: edge.for_point(name) for name in self._specs}
        self._silence_ns = {name: int(s.max_silence_s * 1e9) for name, s in self._settings.items()}
        self._last: dict[str, _Last] = {}
        self.unknown_points = 0  # readings of points the device type does not name (counted, not sent)
        self.suppressed = 0

    def process(self, readings: Sequence[RawReading]) -> list[Sample]:
        out: list[Sample] = []
        for reading in readings:
            spec = self._specs.get(reading.point)
            if spec is None:
                self.unknown_points += 1
                continue
            value, quality = to_engineering(spec, reading.value, reading.quality)
            last = self._last.get(reading.point)
            if (
                last is None
                or quality != last.quality
                or reading.ts_ns - last.sent_ns >= self._silence_ns[reading.point]
                or _beyond_deadband(value, last.value, self._settings[reading.point])
            ):
                self._last[reading.point] = _Last(value, quality, reading.ts_ns)
                if reading.status is not None and quality > 0:
                    out.append((reading.point, reading.ts_ns, value, quality, reading.status))
                else:
                    out.append((reading.point, reading.ts_ns, value, quality))
            else:
                self.suppressed += 1
        return out

    def forget(self) -> None:
        """After a link loss everything is reported afresh."""
        self._last.clear()
