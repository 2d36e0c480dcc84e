"""The platform figures as typed values: what `compute` builds and every reader reads.

Each part's `to_json()` gives the JSON the evidence bundle signs and `--json` prints (key order
included), and `from_json` reads it back from a bundle; readers use attributes, so a misspelt
figure is a type error, not a KeyError at run time.
"""

# layering: pure

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from collector.figures.members import DeviceMember, ManagedMember, PointMember

__all__ = [
    "RULES", "Breakdown", "ByRule", "Capacity", "Connected", "DeviceMember", "Distinct", "Figures",
    "Invocations", "Latency", "Managed", "ManagedMember", "PointMember", "Points",
]  # fmt: skip


class _Json(Protocol):
    def to_json(self) -> dict[str, Any]: ...


_J = TypeVar("_J", bound=_Json)


def _ints(value: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in value.items()}


@dataclass(frozen=True, slots=True)
class Connected:
    """Connected equipment at one rule: headline members and the simulated column."""

    min_active_days: int
    value: int
    simulated: int
    by_type: Mapping[str, int]
    by_industry: Mapping[str, int]
    by_sector: Mapping[str, int]
    members: tuple[DeviceMember, ...]
    simulated_members: tuple[DeviceMember, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "min_active_days": self.min_active_days,
            "value": self.value,
            "simulated": self.simulated,
            "by_type": dict(self.by_type),
            "by_industry": dict(self.by_industry),
            "by_sector": dict(self.by_sector),
            "members": [m.to_json() for m in self.members],
            "simulated_members": [m.to_json() for m in self.simulated_members],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Connected:
        return cls(
            d["min_active_days"], d["value"], d["simulated"], _ints(d["by_type"]), _ints(d["by_industry"]),
            _ints(d["by_sector"]), tuple(DeviceMember.from_json(m) for m in d["members"]),
            tuple(DeviceMember.from_json(m) for m in d["simulated_members"]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Points:
    """Data-collection points at one rule."""

    min_active_days: int
    value: int
    simulated: int
    by_industry: Mapping[str, int]
    members: tuple[PointMember, ...]
    simulated_members: tuple[PointMember, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "min_active_days": self.min_active_days,
            "value": self.value,
            "simulated": self.simulated,
            "by_industry": dict(self.by_industry),
            "members": [m.to_json() for m in self.members],
            "simulated_members": [m.to_json() for m in self.simulated_members],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Points:
        return cls(
            d["min_active_days"], d["value"], d["simulated"], _ints(d["by_industry"]),
            tuple(PointMember.from_json(m) for m in d["members"]),
            tuple(PointMember.from_json(m) for m in d["simulated_members"]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ByRule(Generic[_J]):
    """One figure at each counting rule (compute.rules): the default, any day, every day."""

    default: _J
    any_day: _J
    every_day: _J

    def rule(self, name: str) -> _J:
        if name not in RULES:
            raise KeyError(name)
        result: _J = getattr(self, name)
        return result

    def to_json(self) -> dict[str, Any]:
        return {name: self.rule(name).to_json() for name in RULES}

    @staticmethod
    def from_json(d: Mapping[str, Any], part: Callable[[Mapping[str, Any]], _J]) -> ByRule[_J]:
        return ByRule(part(d["default"]), part(d["any_day"]), part(d["every_day"]))


RULES = ("default", "any_day", "every_day")


@dataclass(frozen=True, slots=True)
class Distinct:
    """Distinct values (types, industries) among connected equipment at the default rule."""

    value: int
    members: tuple[str, ...]
    simulated: int
    simulated_members: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "members": list(self.members),
            "simulated": self.simulated,
            "simulated_members": list(self.simulated_members),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Distinct:
        return cls(d["value"], tuple(d["members"]), d["simulated"], tuple(d["simulated_members"]))


@dataclass(frozen=True, slots=True)
class Breakdown:
    """One industry's or sector's share of the default-rule figures."""

    connected_equipment: int
    data_collection_points: int
    types: tuple[str, ...]

    @property
    def equipment_types(self) -> int:
        return len(self.types)

    def to_json(self) -> dict[str, Any]:
        return {
            "connected_equipment": self.connected_equipment,
            "data_collection_points": self.data_collection_points,
            "types": list(self.types),
            "equipment_types": self.equipment_types,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Breakdown:
        return cls(d["connected_equipment"], d["data_collection_points"], tuple(d["types"]))


@dataclass(frozen=True, slots=True)
class Managed:
    value: int
    simulated: int
    types: int
    by_type: Mapping[str, int]
    members: tuple[ManagedMember, ...]
    simulated_members: tuple[ManagedMember, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "simulated": self.simulated,
            "types": self.types,
            "by_type": dict(self.by_type),
            "members": [m.to_json() for m in self.members],
            "simulated_members": [m.to_json() for m in self.simulated_members],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Managed:
        return cls(
            d["value"], d["simulated"], d["types"], _ints(d["by_type"]),
            tuple(ManagedMember.from_json(m) for m in d["members"]),
            tuple(ManagedMember.from_json(m) for m in d["simulated_members"]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float | None
    p95: float | None
    p99: float | None

    def to_json(self) -> dict[str, Any]:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99}


@dataclass(frozen=True, slots=True)
class Capacity:
    """The synthetic demonstrated management capacity: never managed equipment."""

    value: int
    run_id: str
    date: str | None
    devices_registered: int
    devices_sampled: int
    answered: int
    success_rate: float | None
    latency_ms: Latency
    notes: str
    runs_considered: int
    label: str = "synthetic"

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "run_id": self.run_id,
            "date": self.date,
            "devices_registered": self.devices_registered,
            "devices_sampled": self.devices_sampled,
            "answered": self.answered,
            "success_rate": self.success_rate,
            "latency_ms": self.latency_ms.to_json(),
            "notes": self.notes,
            "runs_considered": self.runs_considered,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Capacity:
        lat = d["latency_ms"]
        return cls(
            d["value"], d["run_id"], d["date"], d["devices_registered"], d["devices_sampled"], d["answered"],
            d["success_rate"], Latency(lat["p50"], lat["p95"], lat["p99"]), d["notes"],
            d["runs_considered"], d["label"],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Invocations:
    """Monthly model invocations: the average over the window's complete months."""

    value: float | None
    per_month: Mapping[str, int]
    complete_months: tuple[str, ...]
    by_model: Mapping[str, Mapping[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "per_month": dict(self.per_month),
            "complete_months": list(self.complete_months),
            "by_model": {k: dict(v) for k, v in self.by_model.items()},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Invocations:
        by_model = {str(k): _ints(v) for k, v in d["by_model"].items()}
        return cls(d["value"], _ints(d["per_month"]), tuple(d["complete_months"]), by_model)


@dataclass(frozen=True, slots=True)
class Figures:
    """Every figure of DESIGN §5 for one window, with its members."""

    include_simulated: bool
    connected_equipment: ByRule[Connected]
    data_collection_points: ByRule[Points]
    equipment_types: Distinct
    industries: Distinct
    breakdown_by_industry: Mapping[str, Breakdown]
    breakdown_by_sector: Mapping[str, Breakdown]
    managed_equipment: Managed
    demonstrated_management_capacity: Capacity | None
    monthly_model_invocations: Invocations

    @property
    def counting(self) -> str:
        if self.include_simulated:
            return "including simulated devices"
        return "simulated devices excluded (separate column)"

    def to_json(self) -> dict[str, Any]:
        cap = self.demonstrated_management_capacity
        return {
            "counting": self.counting,
            "include_simulated": self.include_simulated,
            "connected_equipment": self.connected_equipment.to_json(),
            "data_collection_points": self.data_collection_points.to_json(),
            "equipment_types": self.equipment_types.to_json(),
            "industries": self.industries.to_json(),
            "breakdown_by_industry": _breakdown_json(self.breakdown_by_industry),
            "breakdown_by_sector": _breakdown_json(self.breakdown_by_sector),
            "managed_equipment": self.managed_equipment.to_json(),
            "demonstrated_management_capacity": cap.to_json() if cap is not None else None,
            "monthly_model_invocations": self.monthly_model_invocations.to_json(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Figures:
        """The figures of a bundle's evidence.json (raises KeyError / TypeError when malformed)."""
        cap = d["demonstrated_management_capacity"]
        return cls(
            include_simulated=bool(d["include_simulated"]),
            connected_equipment=ByRule.from_json(d["connected_equipment"], Connected.from_json),
            data_collection_points=ByRule.from_json(d["data_collection_points"], Points.from_json),
            equipment_types=Distinct.from_json(d["equipment_types"]),
            industries=Distinct.from_json(d["industries"]),
            breakdown_by_industry=_breakdown_from(d["breakdown_by_industry"]),
            breakdown_by_sector=_breakdown_from(d["breakdown_by_sector"]),
            managed_equipment=Managed.from_json(d["managed_equipment"]),
            demonstrated_management_capacity=Capacity.from_json(cap) if cap else None,
            monthly_model_invocations=Invocations.from_json(d["monthly_model_invocations"]),
        )


def _breakdown_json(rows: Mapping[str, Breakdown]) -> dict[str, Any]:
    return {k: v.to_json() for k, v in rows.items()}


def _breakdown_from(rows: Mapping[str, Any]) -> dict[str, Breakdown]:
    return {str(k): Breakdown.from_json(v) for k, v in rows.items()}
