"""Claims: the model of `configs/claims/*.yaml` (read by `collector.kpi.claimfile`).

A file holds `claims: [...]` and optional file-wide `periods: {baseline, reporting}` that a claim
without its own periods inherits (so a demo can state dates once, or override them at load time).
Period `end` dates are the last day included. One claim:

    - id: ud-line1                       # unique in the file
      title: Unplanned downtime −20 %
      kpi: unplanned_downtime            # see KpiName
      scope: {site: s1, line: [L1, L2]}  # devices, line, area, site, type; all given must match
      baseline: {start: 2026-01-01, end: 2026-03-31}
      reporting: {start: 2026-04-01, end: 2026-06-30}
      change_pct: -20                    # or change_pp: 2 for percentage KPIs
      source: "the document the claim comes from"
      # optional: emission_factor_kg_per_kwh, tariff_per_kwh, unit_costs, currency, points,
      # gates (device_day_coverage, period_valid_share, min_days, max_rate_multiple), bootstrap,
      # confidence, heartbeat_timeout_s, direction
"""

from __future__ import annotations

# layering: pure
import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

KpiName = Literal[
    "availability",
    "performance",
    "quality",
    "defect_rate",
    "oee",
    "unplanned_downtime",
    "mtbf",
    "mttr",
    "maintenance_events",
    "work_efficiency",
    "energy_per_unit",
    "co2_per_unit",
    "cost_per_unit",
]
# KPIs computed from event counts: exact Poisson rate-ratio interval instead of the bootstrap.
COUNT_KPIS: frozenset[str] = frozenset({"mtbf", "maintenance_events"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    start: dt.date
    end: dt.date  # last day included

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class Scope(_Strict):
    """Devices a claim covers: every given field must match (AND); a list matches any of its values."""

    devices: list[str] | None = None  # "dev" or "site/dev"
    line: str | list[str] | None = None
    area: str | list[str] | None = None
    site: str | list[str] | None = None
    type: str | list[str] | None = None


class Points(_Strict):
    """Point names to use; None means the default rule (see collector.kpi.load)."""

    state: str | None = None
    produced: str | None = None
    good: str | None = None
    energy: str | None = None


class Gates(_Strict):
    device_day_coverage: Annotated[float, Field(gt=0, le=1)] = 0.75
    period_valid_share: Annotated[float, Field(gt=0, le=1)] = 0.90
    min_days: Annotated[int, Field(ge=1)] = 28  # shorter periods cannot carry a weekly block bootstrap
    # a counter increment implying more than this multiple of the ideal rate is implausible (excluded)
    max_rate_multiple: Annotated[float, Field(gt=1)] = 3.0


class Bootstrap(_Strict):
    resamples: Annotated[int, Field(ge=200, le=100_000)] = 2000
    block_days: Annotated[int, Field(ge=1)] = 7
    seed: int = 22400


class UnitCosts(_Strict):
    per_unit_produced: Annotated[float, Field(ge=0)] = 0.0
    per_operating_hour: Annotated[float, Field(ge=0)] = 0.0  # per PBT hour


class Claim(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    title: str
    kpi: KpiName
    scope: Scope = Scope()
    baseline: Period | None = None
    reporting: Period | None = None
    change_pct: float | None = None  # claimed relative change, e.g. -20 for "−20 %"
    change_pp: float | None = None  # claimed change in percentage points, e.g. 2 for "+2 pp"
    direction: Literal["increase", "decrease"] | None = None  # needed only when the change is 0
    source: str = ""  # the document the claim comes from
    emission_factor_kg_per_kwh: Annotated[float, Field(gt=0)] | None = None
    tariff_per_kwh: Annotated[float, Field(ge=0)] | None = None
    unit_costs: UnitCosts | None = None
    currency: str = ""
    points: Points = Points()
    gates: Gates = Gates()
    bootstrap: Bootstrap = Bootstrap()
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.90
    # A state sample holds at most this long: twice the slowest shipped heartbeat (history backfill,
    # 300 s; live gateways report every 60 s), so one late heartbeat is not read as missing data.
    heartbeat_timeout_s: Annotated[float, Field(gt=0)] = 600.0

    @model_validator(mode="after")
    def _check(self) -> Claim:
        if (self.change_pct is None) == (self.change_pp is None):
            raise ValueError("give exactly one of change_pct and change_pp")
        if self.change == 0 and self.direction is None:
            raise ValueError("a zero change needs 'direction' (increase or decrease)")
        if self.change_pp is not None and self.kpi not in (
            "availability",
            "performance",
            "quality",
            "defect_rate",
            "oee",
        ):
            raise ValueError(f"change_pp applies to percentage KPIs, not {self.kpi}")
        if self.kpi == "co2_per_unit" and self.emission_factor_kg_per_kwh is None:
            raise ValueError("co2_per_unit needs emission_factor_kg_per_kwh")
        if self.kpi == "cost_per_unit" and self.tariff_per_kwh is None and self.unit_costs is None:
            raise ValueError("cost_per_unit needs tariff_per_kwh and/or unit_costs")
        return self

    @property
    def change(self) -> float:
        """The claimed change in the unit verdicts use: a fraction (relative) or points (pp)."""
        if self.change_pp is not None:
            return self.change_pp
        return (self.change_pct or 0.0) / 100.0

    @property
    def change_kind(self) -> Literal["relative", "pp"]:
        return "pp" if self.change_pp is not None else "relative"

    @property
    def decrease(self) -> bool:
        return self.direction == "decrease" if self.direction else self.change < 0


class ClaimFile(_Strict):
    periods: dict[Literal["baseline", "reporting"], Period] = {}
    claims: Annotated[list[Claim], Field(min_length=1)]
