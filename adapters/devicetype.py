"""Device-type model: one YAML per device type names each point once, with both its protocol
addresses and its meaning (DESIGN §2). The gateway and the simulators read the same files.

The `simulation:` section belongs to the simulators and is kept here only as raw data.
"""

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.yamlload import load_yaml_model

# Mirrors wire.states.CANONICAL_STATES (adapters may not import wire; a test pins the two equal).
CanonicalState = Literal[
    "running",
    "reduced_speed",
    "setup",
    "idle",
    "planned_stop",
    "planned_maintenance",
    "unplanned_stop",
    "corrective_maintenance",
    "minor_stop",
    "unknown_stop",
    "no_data",
]
PointKind = Literal["analog", "state", "counter", "energy", "switch", "setpoint"]
DType = Literal["bool", "int16", "uint16", "int32", "uint32", "int64", "float32", "float64", "string"]
Table = Literal["holding", "input", "coil", "discrete"]
Order = Literal["big", "little"]
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

REGISTERS_PER_DTYPE: dict[str, int] = {
    "bool": 1,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "float64": 4,
}
_NODE = re.compile(r"^(?:nsu|ns)=([^;]+);([sig])=(.+)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModbusAddress(_Strict):
    table: Table
    address: Annotated[int, Field(ge=0, le=65535)]
    byte_order: Order = "big"  # byte order inside each 16-bit register
    word_order: Order = "big"  # order of 16-bit words in 32/64-bit values ("little" = low word first)
    bit: Annotated[int, Field(ge=0, le=15)] | None = None  # bool packed in a register
    length: Annotated[int, Field(ge=1, le=125)] | None = None  # registers of a string


class OpcUaAddress(_Strict):
    # Expanded node id with the namespace URI: "nsu=<uri>;s=<id>" ("ns=<uri>;..." is accepted too).
    # "{device}" in the id is replaced by the device instance id.
    node: str

    @field_validator("node")
    @classmethod
    def _node_form(cls, value: str) -> str:
        if not _NODE.match(value):
            raise ValueError("expected 'nsu=<namespace uri>;s=<identifier>' (or i=/g=)")
        return value

    def namespace_uri(self) -> str:
        match = _NODE.match(self.node)
        assert match is not None
        return match.group(1)

    def identifier(self, device_id: str) -> tuple[str, str]:
        """(id type letter, identifier) with the device id filled in."""
        match = _NODE.match(self.node)
        assert match is not None
        return match.group(2), match.group(3).replace("{device}", device_id)


class PointSpec(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
    kind: PointKind
    dtype: DType
    unit: str = ""
    scale: float = 1.0
    offset: float = 0.0
    description: str = ""
    writable: bool = False
    modbus: ModbusAddress | None = None
    opcua: OpcUaAddress | None = None
    # device state code -> canonical state; required for kind "state"
    states: dict[int, CanonicalState] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "PointSpec":
        mb = self.modbus
        if self.kind == "state" and not self.states:
            raise ValueError(f"point {self.name!r}: a state point needs a 'states' map")
        if self.kind != "state" and self.states:
            raise ValueError(f"point {self.name!r}: only state points carry a 'states' map")
        if self.scale == 0:
            raise ValueError(f"point {self.name!r}: scale must not be 0")
        if mb is not None:
            if mb.table in ("coil", "discrete"):
                if self.dtype != "bool" or mb.bit is not None:
                    raise ValueError(f"point {self.name!r}: {mb.table} points are dtype bool without 'bit'")
            elif self.dtype == "bool" and mb.bit is None:
                raise ValueError(f"point {self.name!r}: a bool in a register needs 'bit' (0-15)")
            elif self.dtype != "bool" and mb.bit is not None:
                raise ValueError(f"point {self.name!r}: 'bit' is only for dtype bool")
            if self.dtype == "string" and mb.length is None:
                raise ValueError(f"point {self.name!r}: a string needs 'length' in registers")
            if self.writable and mb.table in ("input", "discrete"):
                raise ValueError(f"point {self.name!r}: {mb.table} tables are read-only")
        return self

    @property
    def register_count(self) -> int:
        """16-bit registers (or bits, for coil/discrete) the point occupies."""
        if self.dtype == "string":
            return self.modbus.length if self.modbus and self.modbus.length else 0
        return REGISTERS_PER_DTYPE[self.dtype]

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
    sector: Literal["discrete", "process"]
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
    def _unique_and_disjoint(self) -> "DeviceType":
        seen: set[str] = set()
        for p in self.points:
            if p.name in seen:
                raise ValueError(f"point name {p.name!r} appears twice")
            seen.add(p.name)
        nodes: dict[str, str] = {}
        for p in self.points:
            if p.opcua is None:
                continue
            # one node, one point: a monitored item delivers each change to one point only
            if p.opcua.node in nodes:
                raise ValueError(f"points {nodes[p.opcua.node]!r} and {p.name!r} name the same OPC UA node")
            nodes[p.opcua.node] = p.name
        occupied: dict[tuple[str, int], str] = {}
        for p in self.points:
            if p.modbus is None or p.modbus.bit is not None:
                continue  # bits may share a status word
            for offset in range(p.register_count):
                key = (p.modbus.table, p.modbus.address + offset)
                if key in occupied:
                    raise ValueError(f"points {occupied[key]!r} and {p.name!r} overlap at {key[0]} {key[1]}")
                occupied[key] = p.name
        return self

    @cached_property
    def by_name(self) -> dict[str, PointSpec]:
        return {p.name: p for p in self.points}

    def point(self, name: str) -> PointSpec:
        return self.by_name[name]


def load_device_type(path: str | Path) -> DeviceType:
    """Parse and validate a device-type YAML; ConfigError names file, line and field."""
    return load_yaml_model(path, DeviceType)
