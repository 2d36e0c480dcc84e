"""When a point is re-published and with which timestamp, on the gateway's clock (pure).

The heartbeat runs on the gateway's clock, not on source timestamps: an OPC UA subscription sends
nothing for an unchanged value and a poll returns the same source timestamp, so a steady machine
would otherwise fall silent. Each point is re-published at least every `max_silence_s` while its
link is healthy (the caller decides that; never while the link is down, which would fabricate data).

Stamping (DESIGN §3): a sample carries its source timestamp when that is a new observation: later
than the point's last published timestamp, not before this gateway began observing the device
(start, or the last link loss), and not ahead of the gateway's clock by more than `FUTURE_SLACK_NS`.
Otherwise — a heartbeat repeat, an unchanged value read again with its old source timestamp, a value
re-sent on reconnect or after a gateway restart, a device clock running ahead — the sample carries the
gateway's time: a fresh observation that the value holds. Published timestamps of a point therefore
strictly increase (by at least the database's microsecond), so no repeat is ever a duplicate
(point, time) row.
"""

# layering: pure

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

Value: TypeAlias = bool | int | float | str | None
# [point, ts_ns, value, quality] or, for a bad/uncertain reading with the source's status code,
# [point, ts_ns, value, quality, status]: the wire sample
Sample: TypeAlias = tuple[str, int, Value, int] | tuple[str, int, Value, int, int]

TICK_NS = 1_000  # the collector stores microseconds: distinct stamps must differ by at least this
FUTURE_SLACK_NS = 1_000_000_000  # source clocks this far ahead of the gateway's are still trusted


@dataclass(slots=True)
class Published:
    value: Value
    quality: int
    ts_ns: int  # the timestamp it was published with
    at_ns: int  # gateway clock when it was published
    status: int | None = None  # the source's status code of a bad/uncertain sample


class Heartbeat:
    """Per-point publication memory of one device. Not thread-safe; one instance per device."""

    def __init__(self, silence_ns: Mapping[str, int], now_ns: int) -> None:
        self._silence_ns = dict(silence_ns)
        self._last: dict[str, Published] = {}
        self._since_ns = now_ns

    def last(self, point: str) -> Published | None:
        return self._last.get(point)

    def due(self, point: str, now_ns: int) -> bool:
        last = self._last.get(point)
        return last is not None and now_ns - last.at_ns >= self._silence_ns[point]

    def stamp(self, point: str, source_ns: int | None, now_ns: int) -> int:
        """The timestamp a sample of `point` observed at `now_ns` is published with."""
        last = self._last.get(point)
        floor = self._since_ns if last is None else last.ts_ns + TICK_NS
        if source_ns is not None and floor <= source_ns <= now_ns + FUTURE_SLACK_NS:
            return source_ns
        return max(now_ns, floor)

    def record(self, sample: Sample, now_ns: int) -> Sample:
        point, ts, value, quality = sample[:4]
        status = sample[4] if len(sample) == 5 else None
        self._last[point] = Published(value, quality, ts, now_ns, status)
        return sample

    def repeats(self, now_ns: int) -> list[Sample]:
        """Samples re-publishing every point silent for its `max_silence_s`, stamped now."""
        out: list[Sample] = []
        for point, last in self._last.items():
            if now_ns - last.at_ns >= self._silence_ns[point]:
                ts = self.stamp(point, None, now_ns)
                sample: Sample = (point, ts, last.value, last.quality)
                if last.status is not None:
                    sample = (point, ts, last.value, last.quality, last.status)
                out.append(self.record(sample, now_ns))
        return out

    def forget(self, now_ns: int) -> None:
        """After a link loss: everything is reported afresh, old source timestamps are not new."""
        self._last.clear()
        self._since_ns = now_ns
