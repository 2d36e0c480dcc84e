"""Device-type model: one YAML per device type names each point once, with both its protocol
addresses and its meaning (DESIGN §2). The gateway and the simulators read the same files.

Protocol addresses are sections named by the protocol (`modbus:`, `opcua:`) whose shapes the
protocols register (`devicemodel.addresses`); a checked load validates each against its model, an
unchecked one (historian import, no adapter involved) keeps them as plain data.
The `simulation:` section belongs to the simulators and is kept here only as raw data. The models
are pure; reading a file is `devicemodel.loader`'s.
"""

# layering: pure

import math
from functools import cached_property
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from devicemodel import addresses
from wire.envelope import DType, PointKind, Sector
from wire.states import CanonicalState

__all__ = [
    "DEVICE_TYPES",
    "CanonicalState",
    "DType",
    "DeviceType",
    "PointKind",
    "PointSpec",
]

A = TypeVar("A", bound=BaseModel)
Addresses = Literal["checked", "unchecked"]
DEVICE_TYPES = (
    "cnc_machine",
    "injection_molding",
    "press",
    "robot",
    "pump",
    "compressor",
    "boiler",
    "furnace",
    "conveyor",
    "agv",
    "power_meter",
    "welder",
    "mixer",
    "reactor",
    "dryer",
    "chiller",
    "packaging",
    "kiln",
    "extruder",
    "fan",
    "tank",
    "valve",
    "generic",
)


def _mode(info: ValidationInfo) -> Addresses:
    context = info.context if isinstance(info.context, dict) else {}
    return "unchecked" if context.get("addresses") == "unchecked" else "checked"


_KNOWN_ERRORS = frozenset(get_args(ErrorType))


def _prefixed(exc: ValidationError, section: str) -> ValidationError:
    """`exc` with every error located under `section`, so the YAML error names the field's line."""
    details: list[InitErrorDetails] = []
    for e in exc.errors():
        loc = (section, *e["loc"])
        if e["type"] in _KNOWN_ERRORS:
            details.append({"type": e["type"], "loc": loc, "input": e["input"], "ctx": e.get("ctx", {})})
        else:  # a protocol's own error type: keep its rendered message (no context: not re-formatted)
            custom = PydanticCustomError(e["type"], e["msg"])
            details.append({"type": custom, "loc": loc, "input": e["input"]})
    return ValidationError.from_exception_data(exc.title, details)


def _value_error(section: str, exc: ValueError, value: Any) -> ValidationError:
    return ValidationError.from_exception_data(
        "PointSpec", [{"type": "value_error", "loc": (section,), "input": value, "ctx": {"error": exc}}]
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointSpec(BaseModel):
    # Protocol address sections are the extra keys (`devicemodel.addresses`); the rest is strict.
    model_config = ConfigDict(extra="allow", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
    kind: PointKind
    dtype: DType
    unit: str = ""
    scale: float = 1.0
    offset: float = 0.0
    description: str = ""
    writable: bool = False
    # device state code -> canonical state; required for kind "state"
    states: dict[int, CanonicalState] | None = None
    # Data-quality rules (`collector.quality`), in engineering units; none declared: not checked.
    range: tuple[float, float] | None = None  # [low, high] a valid reading lies in
    max_rate_per_s: Annotated[float, Field(gt=0)] | None = None  # largest plausible |change| per second
    stuck_after_s: Annotated[float, Field(gt=0)] | None = None  # unchanged longer than this: stuck

    @model_validator(mode="before")
    @classmethod
    def _address_sections(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        checked = _mode(info) == "checked"
        if checked:
            addresses.ensure_discovered()
        out = dict(data)
        for key, value in data.items():
            if not isinstance(key, str) or key in cls.model_fields:
                continue
            kind = addresses.get(key)
            if kind is None:
                if checked or not isinstance(value, dict):
                    known = ", ".join(addresses.sections()) or "none: no adapter has registered yet"
                    problem = ValueError(f"unknown field or address section (address sections: {known})")
                    raise _value_error(key, problem, value)
                continue  # unchecked: another protocol's address, kept as plain data
            if not checked or isinstance(value, kind.model):
                continue
            try:
                out[key] = kind.model.model_validate(value)
            except ValidationError as exc:
                raise _prefixed(exc, key) from None
        return out

    @model_validator(mode="after")
    def _consistent(self) -> "PointSpec":
        if self.kind == "state" and not self.states:
            raise ValueError(f"point {self.name!r}: a state point needs a 'states' map")
        if self.kind != "state" and self.states:
            raise ValueError(f"point {self.name!r}: only state points carry a 'states' map")
        if self.scale == 0:
            raise ValueError(f"point {self.name!r}: scale must not be 0")
        self._check_quality_rules()
        for section, value in self.address_sections().items():
            kind = addresses.get(section)
            if kind is None or kind.check_point is None or not isinstance(value, kind.model):
                continue
            try:
                kind.check_point(self, value)
            except ValueError as exc:
                raise _value_error(section, ValueError(f"point {self.name!r}: {exc}"), value) from None
        return self

    def _check_quality_rules(self) -> None:
        numeric = self.kind != "state" and self.dtype not in ("string", "bool")
        rules = {
            "range": self.range,
            "max_rate_per_s": self.max_rate_per_s,
            "stuck_after_s": self.stuck_after_s,
        }
        for field, value in rules.items():
            if value is not None and not numeric:
                problem = ValueError(f"point {self.name!r}: {field} applies to numeric points only")
                raise _value_error(field, problem, value)
        if self.range is not None:
            low, high = self.range
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                problem = ValueError(f"point {self.name!r}: range must be [low, high] with low < high")
                raise _value_error("range", problem, list(self.range))
        if self.kind in ("counter", "energy") and self.max_rate_per_s is not None:
            # counters have one plausibility rule: the device's ideal rate (collector.kpi.counters)
            problem = ValueError(f"point {self.name!r}: a counter's rate is judged by ideal_rate_per_hour")
            raise _value_error("max_rate_per_s", problem, self.max_rate_per_s)

    def address_sections(self) -> dict[str, Any]:
        """Section name -> address (a registered model, or plain data when loaded unchecked)."""
        return dict(self.model_extra or {})

    def address(self, model: type[A]) -> A | None:
        """The point's address in `model`'s protocol, None if it has none (or it was not checked)."""
        value = (self.model_extra or {}).get(getattr(model, "protocol", ""))
        return value if isinstance(value, model) else None

    @property
    def wrap(self) -> float | None:
        """Engineering value at which a counter/energy register wraps to zero (None if it cannot)."""
        if self.kind not in ("counter", "energy"):
            return None
        bits = {"uint16": 16, "uint32": 32, "int64": None, "int32": None, "int16": None}.get(self.dtype)
        return float(2**bits) * self.scale if bits else None

    def to_engineering(self, raw: float) -> float:
        return raw * self.scale + self.offset

    def to_raw(self, value: float) -> float:
        return (value - self.offset) / self.scale


class DeviceType(_Strict):
    type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    industry: Annotated[str, Field(pattern=r"^[A-Z][0-9]{2,4}$")]  # GB/T 4754 code, e.g. C34
    sector: Sector
    ideal_rate_per_hour: Annotated[float, Field(ge=0)] = 0.0
    description: str = ""
    vendor: str = ""
    model: str = ""
    points: Annotated[list[PointSpec], Field(min_length=1)]
    simulation: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in DEVICE_TYPES:
            raise ValueError(f"unknown device type {value!r}; known: {', '.join(DEVICE_TYPES)}")
        return value

    @model_validator(mode="after")
    def _unique_and_checked(self) -> "DeviceType":
        seen: set[str] = set()
        for p in self.points:
            if p.name in seen:
                raise ValueError(f"point name {p.name!r} appears twice")
            seen.add(p.name)
        present = {section for p in self.points for section in p.address_sections()}
        for kind in addresses.kinds():
            if kind.check_device is not None and kind.section in present:
                kind.check_device(self)
        return self

    @cached_property
    def by_name(self) -> dict[str, PointSpec]:
        return {p.name: p for p in self.points}

    def point(self, name: str) -> PointSpec:
        return self.by_name[name]
