"""The `simulation:` section of a device-type YAML: failure and repair rates, signal shapes.

The gateway ignores this section; the plant model reads it through `SimulationSpec`.
"""

# layering: pure

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devicemodel.devicetype import CanonicalState

PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
# Keys of power and signal maps: a canonical state, or "stopped" for every state not listed
# (and "other" as an alias kept for readability of signal maps).
StateKey = CanonicalState | Literal["stopped", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSpec(_Strict):
    """An analog that follows the state: a level per state, a first-order lag and Gaussian noise."""

    levels: dict[StateKey, float] = Field(default_factory=dict)
    noise: Annotated[float, Field(ge=0)] = 0.0
    tau_minutes: Annotated[float, Field(ge=0)] = 0.0  # 0: steps at once
    # Levels scale with the device's electrical power instead of a table (power meters, drives).
    from_power: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _flat_levels(cls, data: object) -> object:
        # Allow `{running: 48, idle: 30, noise: 0.4}`: state keys at the top level are levels.
        if isinstance(data, dict):
            own = {"levels", "noise", "tau_minutes", "from_power"}
            levels = {k: v for k, v in data.items() if k not in own}
            if levels:
                data = {k: v for k, v in data.items() if k in own}
                data["levels"] = {**data.get("levels", {}), **levels}
        return data

    def level(self, state: str) -> float:
        for key in (state, "stopped", "other"):
            if key in self.levels:
                return self.levels[key]
        return 0.0


class SimulationSpec(_Strict):
    """Rates are per hour of running time; durations are means of lognormal draws."""

    mtbf_hours: PositiveFloat | None = 60.0  # None: the device never fails
    mttr_hours: PositiveFloat = 1.5
    mttr_sigma: Annotated[float, Field(ge=0, le=2)] = 0.5  # lognormal shape of repair times
    response_minutes: Annotated[float, Field(ge=0)] = 10.0  # unplanned_stop before repair starts
    minor_stops_per_hour: Annotated[float, Field(ge=0)] = 0.0
    minor_stop_minutes: PositiveFloat = 3.0
    setup_every_hours: PositiveFloat | None = None
    setup_minutes: PositiveFloat = 30.0
    idle_fraction: Fraction = 0.0
    idle_minutes: PositiveFloat = 20.0
    reduced_speed_fraction: Fraction = 0.0
    reduced_speed_minutes: PositiveFloat = 30.0
    reduced_speed_factor: Annotated[float, Field(gt=0, lt=1)] = 0.6
    speed_factor: Annotated[float, Field(gt=0, le=1)] = 0.95  # actual/ideal rate while running
    planned_maintenance_every_days: PositiveFloat | None = None
    planned_maintenance_hours: PositiveFloat = 4.0
    yield_: Annotated[float, Field(alias="yield", gt=0, le=1)] = 1.0
    power_kw: dict[StateKey, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    signals: dict[str, SignalSpec] = Field(default_factory=dict)
    # switch point -> canonical states in which it is on
    switches: dict[str, list[CanonicalState]] = Field(default_factory=dict)
    setpoints: dict[str, float] = Field(default_factory=dict)  # constant values of setpoint points
    texts: dict[str, str] = Field(default_factory=dict)  # constant values of string points
    # Which counter points count all units and good units (defaults: first counter / second counter).
    total_counter: str | None = None
    good_counter: str | None = None
    # 32-bit counters start at a seeded random value below this, so that a long history wraps.
    counter_start_max: Annotated[int, Field(ge=0)] = 0
    energy_start_max_kwh: Annotated[float, Field(ge=0)] = 0.0  # the same for energy meters

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _budget(self) -> "SimulationSpec":
        if self.idle_fraction + self.reduced_speed_fraction >= 0.9:
            raise ValueError("idle_fraction + reduced_speed_fraction must stay below 0.9")
        return self

    def power_w(self, state: str) -> float:
        for key in (state, "stopped", "other"):
            if key in self.power_kw:
                return self.power_kw[key] * 1000.0
        return 0.0
