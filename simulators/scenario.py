"""Plant scenarios (`configs/plants/*.yaml`): sites, shift calendars, device counts, interventions.

    name: demo                      # the backfill gateway is `backfill-<name>`
    seed: 1
    start: 2026-01-01               # default history range, UTC days
    end: 2026-07-01
    devices_dir: ../devices         # relative to this file
    calendars:                      # planned production time; everything else is planned_stop
      two_shift: {days: [mon, tue, wed, thu, fri], shifts: [{start: "06:00", end: "14:00"}],
                  breaks: [{start: "10:00", minutes: 30}], holidays: [2026-05-01]}
      continuous: {shifts: [{start: "00:00", end: "00:00"}]}   # an end at or before the start: next day
    sites: [{id: suzhou-1, calendar: two_shift}]
    devices:                        # ids <prefix>-01, -02, ...; Modbus unit ids 1, 2, ... in order
      - {type: cnc_machine, count: 2, prefix: cnc, area: machining, line: L1}
      - {type: pump, prefix: pump, calendar: continuous}
    interventions:                  # from a date on: factors multiply, yield_pp adds points
      - {from: 2026-04-01, types: [cnc_machine], mtbf: 1.5, minor_stops: 0.7, idle_power: 0.9, yield_pp: 2}
    faults:                         # plant conditions with exact ground truth (simulators/faults.py)
      - {kind: state_gap, devices: [cnc-01], from: 2026-02-02T06:00, hours: 3, every_days: 1}

The models only; `simulators.plantfile.load_plant` reads a scenario and every device-type file it names.
"""

# layering: pure

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from devicemodel.devicetype import DeviceType
from simulators.errors import ScenarioError
from simulators.faults import DeviceFaults, Fault
from simulators.simconfig import SimulationSpec

if TYPE_CHECKING:
    from pathlib import Path

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def _minutes(value: str) -> int:
    match = _HHMM.match(value)
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"expected HH:MM (00:00-24:00), got {value!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def to_ns(day: dt.date | dt.datetime) -> int:
    """ns since the epoch of a date (midnight UTC) or a datetime (naive means UTC)."""
    if not isinstance(day, dt.datetime):
        day = dt.datetime(day.year, day.month, day.day)
    if day.tzinfo is None:
        day = day.replace(tzinfo=dt.UTC)
    return int(day.timestamp()) * NS_PER_S + day.microsecond * 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shift(_Strict):
    start: str
    end: str  # at or before start: the shift ends the next day

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        _minutes(value)
        return value


class Break(_Strict):
    start: str
    minutes: Annotated[int, Field(gt=0, le=240)]

    @field_validator("start")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        _minutes(value)
        return value


class Calendar(_Strict):
    """Planned production time: shifts on working days, minus breaks and holidays (all UTC)."""

    days: list[Day] = Field(default_factory=lambda: list(DAYS))
    shifts: Annotated[list[Shift], Field(min_length=1)]
    breaks: list[Break] = Field(default_factory=list)
    holidays: list[dt.date] = Field(default_factory=list)

    def windows(self, start_ns: int, end_ns: int) -> Iterator[tuple[int, int]]:
        """Production windows (start, end) in ns clipped to [start_ns, end_ns), in time order, merged."""
        first = dt.datetime.fromtimestamp(start_ns // NS_PER_S, dt.UTC).date() - dt.timedelta(days=1)
        last = dt.datetime.fromtimestamp(end_ns // NS_PER_S, dt.UTC).date()
        holidays = set(self.holidays)
        pending: tuple[int, int] | None = None
        day = first
        while day <= last:
            base = to_ns(day)
            pieces: list[tuple[int, int]] = []
            if DAYS[day.weekday()] in self.days and day not in holidays:
                for shift in self.shifts:
                    s, e = _minutes(shift.start), _minutes(shift.end)
                    if e <= s:
                        e += 24 * 60
                    cuts = [(s, e)]
                    for brk in self.breaks:
                        b = _minutes(brk.start)
                        for b0 in (b, b + 24 * 60):
                            b1 = b0 + brk.minutes
                            cuts = [
                                piece
                                for c0, c1 in cuts
                                for piece in ((c0, min(c1, b0)), (max(c0, b1), c1))
                                if piece[1] > piece[0]
                            ]
                    pieces += [(base + c0 * 60 * NS_PER_S, base + c1 * 60 * NS_PER_S) for c0, c1 in cuts]
            for s, e in sorted(pieces):
                s, e = max(s, start_ns), min(e, end_ns)
                if e <= s:
                    continue
                if pending and s <= pending[1]:
                    pending = (pending[0], max(pending[1], e))
                    continue
                if pending:
                    yield pending
                pending = (s, e)
            day += dt.timedelta(days=1)
        if pending:
            yield pending


class SiteSpec(_Strict):
    id: Id
    calendar: str = "default"
    timezone: Literal["UTC"] = "UTC"


class DeviceGroup(_Strict):
    type: str  # a device-type file name in devices_dir (without .yaml) or a path
    count: Annotated[int, Field(ge=1, le=247)] = 1
    site: Id | None = None  # default: the first site
    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$")] | None = None
    area: str | None = None
    line: str | None = None
    calendar: str | None = None  # default: the site's


class Intervention(_Strict):
    """A change from a date on; factors multiply, `yield_pp` adds percentage points."""

    name: str = "intervention"
    from_: dt.date = Field(alias="from")
    types: list[str] | None = None  # device types it applies to (default: all)
    devices: list[str] | None = None  # device ids it applies to (default: all)
    mtbf: Annotated[float, Field(gt=0)] = 1.0
    mttr: Annotated[float, Field(gt=0)] = 1.0
    minor_stops: Annotated[float, Field(ge=0)] = 1.0
    idle: Annotated[float, Field(ge=0)] = 1.0  # idle fraction
    setup: Annotated[float, Field(gt=0)] = 1.0  # setup minutes
    idle_power: Annotated[float, Field(ge=0)] = 1.0
    power: Annotated[float, Field(ge=0)] = 1.0  # every state's power
    yield_pp: Annotated[float, Field(ge=-100, le=100)] = 0.0
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def applies(self, device_id: str, device_type: str) -> bool:
        return (self.types is None or device_type in self.types) and (
            self.devices is None or device_id in self.devices
        )


class PlantFile(_Strict):
    name: Id
    seed: int = 0
    start: dt.date
    end: dt.date
    devices_dir: str = "../devices"
    description: str = ""
    calendars: dict[str, Calendar] = Field(
        default_factory=lambda: {"default": Calendar(shifts=[Shift(start="00:00", end="00:00")])}
    )
    sites: Annotated[list[SiteSpec], Field(min_length=1)]
    devices: Annotated[list[DeviceGroup], Field(min_length=1)]
    interventions: list[Intervention] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> PlantFile:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        sites = {s.id for s in self.sites}
        for s in self.sites:
            if s.calendar not in self.calendars:
                raise ValueError(f"site {s.id!r}: unknown calendar {s.calendar!r}")
        for g in self.devices:
            if g.site is not None and g.site not in sites:
                raise ValueError(f"device group {g.type!r}: unknown site {g.site!r}")
            if g.calendar is not None and g.calendar not in self.calendars:
                raise ValueError(f"device group {g.type!r}: unknown calendar {g.calendar!r}")
        return self


@dataclass(frozen=True)
class SimDevice:
    id: str
    site: str
    device_type: DeviceType
    type_file: Path
    unit_id: int  # Modbus unit id, 1..247, unique per plant
    sim: SimulationSpec
    calendar: Calendar
    area: str | None = None
    line: str | None = None
    interventions: tuple[Intervention, ...] = ()
    faults: DeviceFaults = field(default_factory=DeviceFaults)


@dataclass(frozen=True)
class Plant:
    name: str
    seed: int
    start: dt.date
    end: dt.date
    sites: tuple[str, ...]
    devices: list[SimDevice]
    interventions: tuple[Intervention, ...] = ()
    source: Path | None = None
    faults: tuple[Fault, ...] = ()
    by_id: dict[str, SimDevice] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_id.update({d.id: d for d in self.devices})

    @property
    def site(self) -> str:
        return self.sites[0]

    @property
    def start_ns(self) -> int:
        return to_ns(self.start)

    @property
    def end_ns(self) -> int:
        return to_ns(self.end)

    def device(self, device_id: str) -> SimDevice:
        try:
            return self.by_id[device_id]
        except KeyError:
            raise ScenarioError(f"plant {self.name!r} has no device {device_id!r}") from None


def producible_states(sim: SimulationSpec) -> set[str]:
    """Canonical states the plant model can put a device with this simulation section in."""
    states = {"running", "planned_stop"}
    optional = {
        "reduced_speed": sim.reduced_speed_fraction > 0,
        "setup": sim.setup_every_hours is not None,
        "idle": sim.idle_fraction > 0,
        "planned_maintenance": sim.planned_maintenance_every_days is not None,
        "unplanned_stop": sim.mtbf_hours is not None,
        "corrective_maintenance": sim.mtbf_hours is not None,
        "minor_stop": sim.minor_stops_per_hour > 0,
    }
    return states | {state for state, on in optional.items() if on}
