"""The members behind the platform figures: one device, point or managed device each, as the
figures JSON lists them (see collector.figures.model)."""

# layering: pure

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DeviceMember:
    device_id: int
    device: str  # site/dev
    type: str
    industry: str
    sector: str
    simulated: bool
    active_days: int
    first_seen: str | None
    last_seen: str | None
    messages: int
    readings: int

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "device": self.device,
            "type": self.type,
            "industry": self.industry,
            "sector": self.sector,
            "simulated": self.simulated,
            "active_days": self.active_days,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "messages": self.messages,
            "readings": self.readings,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DeviceMember:
        return cls(
            d["device_id"], d["device"], d["type"], d["industry"], d["sector"], d["simulated"],
            d["active_days"], d["first_seen"], d["last_seen"], d["messages"], d["readings"],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PointMember:
    point_id: int
    point: str  # site/dev/name
    kind: str
    industry: str
    active_days: int
    readings: int

    def to_json(self) -> dict[str, Any]:
        return {
            "point_id": self.point_id,
            "point": self.point,
            "kind": self.kind,
            "industry": self.industry,
            "active_days": self.active_days,
            "readings": self.readings,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PointMember:
        return cls(d["point_id"], d["point"], d["kind"], d["industry"], d["active_days"], d["readings"])


@dataclass(frozen=True, slots=True)
class ManagedMember:
    device_id: int
    device: str
    type: str
    ops_answered: int
    first_answer: str | None
    last_answer: str | None
    # the operations answered, by who sent them: sweep, api, cli, other
    ops_by: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "device": self.device,
            "type": self.type,
            "ops_answered": self.ops_answered,
            "ops_by": dict(self.ops_by),
            "first_answer": self.first_answer,
            "last_answer": self.last_answer,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ManagedMember:
        return cls(
            d["device_id"], d["device"], d["type"], d["ops_answered"], d["first_answer"], d["last_answer"],
            {str(k): int(v) for k, v in d.get("ops_by", {}).items()},
        )  # fmt: skip
