"""Plant conditions every real plant has, as a `faults:` section of a plant YAML (or `--fault` flags).

    faults:
      - {kind: steady, devices: [cnc-01], from: 2026-03-03T06:00, hours: 6, state: running}
      - {kind: state_gap, devices: [press-01], from: 2026-03-03T06:00, hours: 3, every_days: 1}
      - {kind: heartbeat_loss, from: 2026-03-04T00:00, hours: 24}
      - {kind: counter_reset, devices: [cnc-01], at: 2026-03-05T10:00}
      - {kind: back_step, devices: [cnc-01], at: 2026-03-05T12:00, by: 48812, hours: 0.1}
      - {kind: jump, devices: [cnc-01], at: 2026-03-06T12:00, by: 1000000}
      - {kind: wrap, devices: [press-01], at: 2026-03-06T09:00}
      - {kind: duplicate, from: 2026-03-07T00:00, hours: 6}
      - {kind: overlap, from: 2026-03-07T12:00, hours: 6}
      - {kind: late, from: 2026-03-08T00:00, hours: 12}
      - {kind: clock_skew, devices: [pump-01], seconds: 90}
      - {kind: unreadable, devices: [meter-01], from: 2026-03-09T08:00, hours: 2}
      - {kind: stuck, devices: [pump-01], points: [discharge_pressure], from: 2026-03-09T12:00, hours: 4}
      - {kind: data_gap, devices: [press-01], from: 2026-03-10T08:00, hours: 3}

Three families, each with exact ground truth (simulators.truth):
- what really happened: `steady` holds a device in one state with constant analog values (the plant
  model's state log is overridden, so production and truth follow);
- what the device registers show: `counter_reset` (counting restarts from zero), `back_step`, `jump`
  (raw counts subtracted / added, for `hours` or for good), `wrap` (the register is offset so that it
  wraps at `at`) — on the named counter/energy `points` (default: every counter); `stuck` (the named
  analog `points` keep the value they had at `from`, a frozen sensor); truth is unchanged;
- what reaches the collector: `state_gap` (state readings withheld), `heartbeat_loss` (state only on
  change), `duplicate` (envelopes delivered twice), `overlap` (a window re-delivered later as new
  envelopes), `late` (delivered after everything else, seq out of order), `clock_skew` (timestamps shifted),
  `unreadable` (the device answers connections and pings but no reads: one bad-quality sample per
  point, then nothing), `data_gap` (nothing of the device reaches the collector: an outage longer than
  the gateway's spool). Backfill applies all of them; the servers apply `clock_skew` and `unreadable`.
`devices` defaults to every device; `every_days` repeats a window until the scenario ends.
"""

# layering: pure

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from devicemodel.devicetype import CanonicalState, PointSpec
from simulators.errors import ScenarioError

NS_PER_S = 1_000_000_000
NS_PER_H = 3_600 * NS_PER_S
MS = 1_000_000
Moment = dt.datetime | dt.date


def moment_ns(value: Moment) -> int:
    """ns since the epoch; naive and date values are UTC; whole milliseconds like the model."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    ns = int(value.timestamp()) * NS_PER_S + value.microsecond * 1000
    return ns - ns % MS


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    devices: list[str] | None = None  # None: every device

    def applies(self, device_id: str) -> bool:
        return self.devices is None or device_id in self.devices


class WindowFault(_Fault):
    from_: Moment = Field(alias="from")
    hours: Annotated[float, Field(gt=0)]
    every_days: Annotated[float, Field(gt=0)] | None = None  # repeat until the scenario ends

    def windows(self, end_ns: int) -> Iterator[tuple[int, int]]:
        start, length = moment_ns(self.from_), round(self.hours * NS_PER_H)
        step = round(self.every_days * 86_400 * NS_PER_S) if self.every_days else 0
        while start < end_ns:
            yield start, start + length
            if not step:
                return
            start += step


class Steady(WindowFault):
    kind: Literal["steady"]
    state: CanonicalState = "running"


class StateGap(WindowFault):
    kind: Literal["state_gap"]


class HeartbeatLoss(WindowFault):
    kind: Literal["heartbeat_loss"]


class Duplicate(WindowFault):
    kind: Literal["duplicate"]


class Overlap(WindowFault):
    kind: Literal["overlap"]


class Late(WindowFault):
    kind: Literal["late"]


class Unreadable(WindowFault):
    kind: Literal["unreadable"]


class Stuck(WindowFault):
    kind: Literal["stuck"]
    points: Annotated[list[str], Field(min_length=1)]  # analog points whose sensor freezes


class DataGap(WindowFault):
    kind: Literal["data_gap"]


class RegisterFault(_Fault):
    at: Moment
    points: list[str] | None = None  # None: every counter point of the device

    @property
    def at_ns(self) -> int:
        return moment_ns(self.at)


class CounterReset(RegisterFault):
    kind: Literal["counter_reset"]


class BackStep(RegisterFault):
    kind: Literal["back_step"]
    by: Annotated[int, Field(gt=0)]  # raw counts
    hours: Annotated[float, Field(gt=0)] | None = None  # None: for good


class Jump(RegisterFault):
    kind: Literal["jump"]
    by: Annotated[int, Field(gt=0)]
    hours: Annotated[float, Field(gt=0)] | None = None


class Wrap(RegisterFault):
    kind: Literal["wrap"]


class ClockSkew(_Fault):
    kind: Literal["clock_skew"]
    seconds: float  # the device clock runs this far ahead (negative: behind)

    @property
    def skew_ns(self) -> int:
        ns = round(self.seconds * NS_PER_S)
        return ns - ns % MS


Fault = Annotated[
    Steady
    | StateGap
    | HeartbeatLoss
    | Duplicate
    | Overlap
    | Late
    | Unreadable
    | Stuck
    | DataGap
    | CounterReset
    | BackStep
    | Jump
    | Wrap
    | ClockSkew,
    Field(discriminator="kind"),
]
WINDOW_KINDS = (
    "steady", "state_gap", "heartbeat_loss", "duplicate", "overlap", "late", "unreadable", "stuck", "data_gap"
)  # fmt: skip
REGISTER_KINDS = ("counter_reset", "back_step", "jump", "wrap")
FAULT_ADAPTER: TypeAdapter[Fault] = TypeAdapter(Fault)


@dataclass(frozen=True)
class DeviceFaults:
    """The faults of one device."""

    faults: tuple[Fault, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.faults)

    def windows(self, kind: str, end_ns: int) -> list[tuple[int, int]]:
        """Windows [start, end) of one kind starting before `end_ns` (repeats included)."""
        return sorted(
            w for f in self.faults if isinstance(f, WindowFault) and f.kind == kind for w in f.windows(end_ns)
        )

    def steady(self, end_ns: int) -> list[tuple[int, int, str]]:
        return sorted(
            (s, e, f.state) for f in self.faults if isinstance(f, Steady) for s, e in f.windows(end_ns)
        )

    def inside(self, kind: str, t_ns: np.ndarray) -> np.ndarray:
        """Which times fall in a window of this kind."""
        out = np.zeros(len(t_ns), dtype=bool)
        if len(t_ns):
            for s, e in self.windows(kind, int(t_ns.max()) + 1):
                out |= (t_ns >= s) & (t_ns < e)
        return out

    def stuck(self, point: str, end_ns: int) -> list[tuple[int, int]]:
        """Windows [start, end) in which the sensor of `point` is frozen."""
        return sorted(
            w for f in self.faults if isinstance(f, Stuck) and point in f.points for w in f.windows(end_ns)
        )

    def has(self, kind: str) -> bool:
        return any(f.kind == kind for f in self.faults)

    @property
    def skew_ns(self) -> int:
        return sum(f.skew_ns for f in self.faults if isinstance(f, ClockSkew))

    def registers(self, point: str) -> list[RegisterFault]:
        """Register faults of one counter point, in time order (wraps first: they are start offsets)."""
        found = [
            f for f in self.faults if isinstance(f, RegisterFault) and (f.points is None or point in f.points)
        ]
        return sorted(found, key=lambda f: (not isinstance(f, Wrap), f.at_ns))

    def shown(
        self,
        point: str,
        t_ns: np.ndarray,
        counts: np.ndarray,
        count_at: Callable[[int], int],
        modulus: int | None,
    ) -> np.ndarray:
        """What the register shows at `t_ns`: the raw `counts` (before the register's own wrap) with
        this point's faults applied. `count_at(t)` is the raw count at any time; `modulus` the range."""
        faults = self.registers(point)
        if not faults:
            return counts
        applied: list[tuple[int, int, int | None]] = []  # (delta, from, until)

        def offset_at(x: int) -> int:
            return sum(d for d, a, b in applied if a <= x and (b is None or x < b))

        for f in faults:
            if isinstance(f, Wrap):
                if modulus is not None:  # the counter started where it wraps at `at`
                    applied.append(((-(count_at(f.at_ns) + offset_at(f.at_ns))) % modulus, -(2**62), None))
            elif isinstance(f, CounterReset):
                applied.append((-(count_at(f.at_ns) + offset_at(f.at_ns)), f.at_ns, None))
            elif isinstance(f, BackStep | Jump):
                sign = -1 if isinstance(f, BackStep) else 1
                until = f.at_ns + round(f.hours * NS_PER_H) if f.hours else None
                applied.append((sign * f.by, f.at_ns, until))
        offset = np.zeros(len(counts), dtype=np.int64)
        for delta, a, b in applied:
            live = t_ns >= a if b is None else (t_ns >= a) & (t_ns < b)
            offset += np.where(live, delta, 0)
        return counts + offset


def for_device(faults: Sequence[Fault], device_id: str) -> DeviceFaults:
    return DeviceFaults(tuple(f for f in faults if f.applies(device_id)))


def check_devices(faults: Sequence[Fault], known: set[str], where: str) -> None:
    for i, f in enumerate(faults):
        unknown = sorted(set(f.devices or []) - known)
        if unknown:
            raise ScenarioError(f"{where}: faults.{i}.devices: no such device {', '.join(unknown)}")


def check_stuck_points(faults: Sequence[Fault], points: dict[str, list[PointSpec]], where: str) -> None:
    """A stuck sensor names analog points of every device it applies to."""
    for i, f in enumerate(faults):
        if not isinstance(f, Stuck):
            continue
        for dev, specs in points.items():
            analog = {p.name for p in specs if p.kind == "analog"}
            unknown = sorted(set(f.points) - analog) if f.applies(dev) else []
            if unknown:
                raise ScenarioError(
                    f"{where}: faults.{i}.points: {dev} has no analog point {', '.join(unknown)}"
                )
