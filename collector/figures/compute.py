"""Platform figures of DESIGN §5 as pure functions over query results (no I/O).

A device counts for a window at a rule when its number of active days (UTC days with at least one
valid reading) meets the rule; simulated devices are kept in a separate column and reach headline
figures only when `include_simulated` is set.
"""

# layering: pure

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, NamedTuple, TypeVar

from collector.errors import CollectorError
from collector.figures.model import (
    RULES,
    Breakdown,
    ByRule,
    Capacity,
    Connected,
    DeviceMember,
    Distinct,
    Figures,
    Invocations,
    Latency,
    Managed,
    ManagedMember,
    PointMember,
    Points,
)
from collector.figures.window import Window

DEFINITIONS: dict[str, str] = {
    "valid_reading": (
        "a reading with quality 0 (good) and a non-null value of a point whose kind is analog, state,"
        " counter, energy or switch (setpoints excluded), timestamped inside the window"
    ),
    "active_day": "a UTC calendar day of the window on which the device delivered at least one valid reading",
    "equipment": "a registered device with namespace 'plant' (capacity-run populations never count)",
    "connected_equipment": (
        "equipment with valid readings on at least min_active_days_ratio of the window's days (default"
        " rule); also given at 'any day' (>= 1 active day) and 'every day' (all days active)"
    ),
    "data_collection_points": (
        "distinct points of process-sector equipment that themselves delivered valid readings on"
        " enough of the window's days under the same rule"
    ),
    "equipment_types": "distinct device types among connected equipment (default rule)",
    "industries": "distinct industry codes (GB/T 4754) among connected equipment (default rule)",
    "managed_equipment": (
        "equipment that answered, successfully and before its deadline, a management operation the"
        " platform itself sent in the window (matched by request id; time = the platform's receive"
        " time) and that reached the device (a ping that read it, a write read back), from the"
        " management_ops ledger; unsolicited or forged answers never count. Each member's ops_by says"
        " who sent them: the service's management sweep, the API on a token's request, `plantproof"
        " manage` (cli), or other"
    ),
    "demonstrated_management_capacity": (
        "synthetic: the recorded capacity run (finished before the window end) whose simulated"
        " devices answered the most management operations; never counted as managed equipment"
    ),
    "monthly_model_invocations": (
        "successful, non-internal invocations in the model_invocations ledger per UTC calendar month;"
        " the figure is the average over the window's complete months"
    ),
    "simulated": (
        "devices registered with simulated = true: always reported in the 'simulated' column and in"
        " headline values only when include_simulated is true"
    ),
}


class DeviceActivity(NamedTuple):
    device_id: int
    site: str
    dev: str
    type: str
    industry: str
    sector: str
    simulated: bool
    managed: bool
    active_days: int
    first_seen: datetime
    last_seen: datetime
    readings: int
    messages: int


class PointActivity(NamedTuple):
    point_id: int
    device_id: int
    site: str
    dev: str
    name: str
    kind: str
    type: str
    industry: str
    simulated: bool
    active_days: int
    readings: int


class ManagedDevice(NamedTuple):
    device_id: int
    site: str
    dev: str
    type: str
    industry: str
    sector: str
    simulated: bool
    ops_answered: int
    first_answer: datetime
    last_answer: datetime
    by_sweep: int = 0
    by_api: int = 0
    by_cli: int = 0


class CapacityRun(NamedTuple):
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    devices: int
    sampled: int
    answered: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    notes: str


class InvocationMonth(NamedTuple):
    month: str
    model: str
    invocations: int


_Row = TypeVar("_Row", DeviceActivity, PointActivity, ManagedDevice)


@dataclass(frozen=True, slots=True)
class QueryResults:
    devices: Sequence[DeviceActivity]
    points: Sequence[PointActivity]
    managed: Sequence[ManagedDevice]
    capacity_runs: Sequence[CapacityRun]
    invocations: Sequence[InvocationMonth]


@dataclass(frozen=True, slots=True)
class Parameters:
    window: Window
    as_of: datetime
    min_active_days_ratio: float = 0.5
    include_simulated: bool = False

    def to_json(self) -> dict[str, Any]:
        start, end = self.window.bounds()
        return {
            "window": self.window.label,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "window_days": self.window.days,
            "as_of": self.as_of.isoformat(),
            "min_active_days_ratio": self.min_active_days_ratio,
            "include_simulated": self.include_simulated,
        }


def rules(params: Parameters) -> dict[str, int]:
    """Minimum active days per rule name."""
    days = params.window.days
    ratio = Fraction(str(params.min_active_days_ratio))
    if not 0 < ratio <= 1:
        raise CollectorError(f"min_active_days_ratio {params.min_active_days_ratio} must be in (0, 1]")
    default = -(-ratio.numerator * days // ratio.denominator)  # ceil(ratio * days), exact
    return {"default": max(1, default), "any_day": 1, "every_day": days}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _counts(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def device_member(d: DeviceActivity) -> DeviceMember:
    return DeviceMember(
        d.device_id, f"{d.site}/{d.dev}", d.type, d.industry, d.sector, d.simulated, d.active_days,
        _iso(d.first_seen), _iso(d.last_seen), d.messages, d.readings,
    )  # fmt: skip


def _point_member(p: PointActivity) -> PointMember:
    return PointMember(
        p.point_id, f"{p.site}/{p.dev}/{p.name}", p.kind, p.industry, p.active_days, p.readings
    )


def _managed_member(m: ManagedDevice) -> ManagedMember:
    by = {"sweep": m.by_sweep, "api": m.by_api, "cli": m.by_cli}
    by["other"] = m.ops_answered - sum(by.values())
    return ManagedMember(
        m.device_id,
        f"{m.site}/{m.dev}",
        m.type,
        m.ops_answered,
        _iso(m.first_answer),
        _iso(m.last_answer),
        by,
    )


def _split(rows: Iterable[_Row], include_simulated: bool) -> tuple[list[_Row], list[_Row]]:
    rows = list(rows)
    simulated = [r for r in rows if r.simulated]
    headline = rows if include_simulated else [r for r in rows if not r.simulated]
    return headline, simulated


def _connected(devices: Sequence[DeviceActivity], min_days: int, incl: bool) -> Connected:
    meeting = [d for d in devices if d.active_days >= min_days]
    head, sim = _split(meeting, incl)
    return Connected(
        min_active_days=min_days,
        value=len(head),
        simulated=len(sim),
        by_type=_counts(d.type for d in head),
        by_industry=_counts(d.industry for d in head),
        by_sector=_counts(d.sector for d in head),
        members=tuple(device_member(d) for d in head),
        simulated_members=tuple(device_member(d) for d in sim),
    )


def _points(points: Sequence[PointActivity], min_days: int, incl: bool) -> Points:
    meeting = [p for p in points if p.active_days >= min_days]
    head, sim = _split(meeting, incl)
    return Points(
        min_active_days=min_days,
        value=len(head),
        simulated=len(sim),
        by_industry=_counts(p.industry for p in head),
        members=tuple(_point_member(p) for p in head),
        simulated_members=tuple(_point_member(p) for p in sim),
    )


def _distinct(connected: Connected, of: Callable[[DeviceMember], str]) -> Distinct:
    head = tuple(sorted({of(m) for m in connected.members}))
    sim = tuple(sorted({of(m) for m in connected.simulated_members}))
    return Distinct(value=len(head), members=head, simulated=len(sim), simulated_members=sim)


def _breakdown(connected: Connected, points: Points, by_industry: bool) -> dict[str, Breakdown]:
    devices: dict[str, int] = {}
    collected: dict[str, int] = {}
    types: dict[str, set[str]] = {}
    for m in connected.members:
        name = m.industry if by_industry else m.sector
        devices[name] = devices.get(name, 0) + 1
        types.setdefault(name, set()).add(m.type)
    if by_industry:
        for p in points.members:
            collected[p.industry] = collected.get(p.industry, 0) + 1
            types.setdefault(p.industry, set())
    elif points.members:  # only process-sector devices have data-collection points
        collected["process"] = len(points.members)
        types.setdefault("process", set())
    return {
        name: Breakdown(devices.get(name, 0), collected.get(name, 0), tuple(sorted(kinds)))
        for name, kinds in sorted(types.items())
    }


def _managed(rows: Sequence[ManagedDevice], incl: bool) -> Managed:
    head, sim = _split(rows, incl)
    return Managed(
        value=len(head),
        simulated=len(sim),
        types=len({m.type for m in head}),
        by_type=_counts(m.type for m in head),
        members=tuple(_managed_member(m) for m in head),
        simulated_members=tuple(_managed_member(m) for m in sim),
    )


def _capacity(runs: Sequence[CapacityRun]) -> Capacity | None:
    if not runs:
        return None
    best = max(runs, key=lambda r: (r.answered, r.finished_at or r.started_at))
    return Capacity(
        value=best.answered,
        run_id=best.run_id,
        date=_iso(best.finished_at),
        devices_registered=best.devices,
        devices_sampled=best.sampled,
        answered=best.answered,
        success_rate=(best.answered / best.sampled) if best.sampled else None,
        latency_ms=Latency(best.latency_p50_ms, best.latency_p95_ms, best.latency_p99_ms),
        notes=best.notes,
        runs_considered=len(runs),
    )


def _invocations(rows: Sequence[InvocationMonth], params: Parameters) -> Invocations:
    months = {m: 0 for m in params.window.months()}
    by_model: dict[str, dict[str, int]] = {}
    for r in rows:
        months[r.month] = months.get(r.month, 0) + r.invocations
        by_model.setdefault(r.model, {})[r.month] = r.invocations
    complete = params.window.complete_months(params.as_of)
    average = sum(months[m] for m in complete) / len(complete) if complete else None
    return Invocations(
        value=average,
        per_month=months,
        complete_months=tuple(complete),
        by_model=dict(sorted(by_model.items())),
    )


def compute(results: QueryResults, params: Parameters) -> Figures:
    """Every figure of DESIGN §5 with its members; deterministic (`to_json()` for the JSON)."""
    incl = params.include_simulated
    mins = rules(params)
    connected = ByRule(*(_connected(results.devices, mins[rule], incl) for rule in RULES))
    points = ByRule(*(_points(results.points, mins[rule], incl) for rule in RULES))
    return Figures(
        include_simulated=incl,
        connected_equipment=connected,
        data_collection_points=points,
        equipment_types=_distinct(connected.default, lambda m: m.type),
        industries=_distinct(connected.default, lambda m: m.industry),
        breakdown_by_industry=_breakdown(connected.default, points.default, by_industry=True),
        breakdown_by_sector=_breakdown(connected.default, points.default, by_industry=False),
        managed_equipment=_managed(results.managed, incl),
        demonstrated_management_capacity=_capacity(results.capacity_runs),
        monthly_model_invocations=_invocations(results.invocations, params),
    )
