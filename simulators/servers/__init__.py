"""Live OPC UA and Modbus servers that serve a plant model in (scaled) real time.

Both servers encode each point exactly as its device-type YAML says, so a gateway reading them
with the same YAML recovers the model's values. This module holds what both share: the value
source they serve, the model clock, and the engineering <-> raw mapping. It imports no protocol
library, so the servers load only when used.

Raw values are what a device holds: state points carry the device code (the first code of the
point's `states` map that maps to the canonical state), numbers are `PointSpec.to_raw` of the
engineering value, rounded for integer dtypes, wrapped like the register for unsigned counters and
clamped to the dtype's range otherwise. Both servers expose the raw value (registers on Modbus, a
variable of the matching data type on OPC UA), so a gateway maps both protocols the same way.
"""

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from adapters.errors import CodecError
from adapters.modbus import codec
from adapters.modbus.address import modbus_of
from devicemodel.devicetype import DeviceType, PointSpec
from devicemodel.states import UNMAPPED_STATE, canonical_state
from simulators.errors import SimError
from simulators.faults import DeviceFaults

EngValue = bool | int | float | str
RawValue = bool | int | float | str

NAMESPACE_URI = "urn:plantproof:sim"
# Model time is kept to whole milliseconds so that a timestamp a client sees (OPC UA carries
# 100 ns ticks, Python datetimes microseconds) names exactly the instant the value was computed at.
TIME_QUANTUM_NS = 1_000_000

_INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


class SimServerError(SimError):
    """A simulator server that cannot be built or started as asked (names the device/point/port)."""


class DeviceLike(Protocol):
    """The part of a simulated device the servers need (`simulators.scenario.SimDevice` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def device_type(self) -> DeviceType: ...

    @property
    def unit_id(self) -> int: ...


class ValueSource(Protocol):
    """A plant model: its devices and each device's engineering values at a time."""

    @property
    def devices(self) -> Sequence[DeviceLike]: ...

    def values_at(self, device_id: str, t_ns: int) -> Mapping[str, EngValue]: ...


@dataclass(frozen=True, slots=True)
class StaticDevice:
    """A plain device record, for value sources built in code."""

    id: str
    device_type: DeviceType
    unit_id: int


class ModelClock:
    """Model time = t0 + wall time elapsed since construction × speed (speed 0 freezes time)."""

    def __init__(self, speed: float = 1.0, t0_ns: int | None = None) -> None:
        if speed < 0:
            raise SimServerError(f"speed must be >= 0, got {speed}")
        self.speed = speed
        self.t0_ns = quantize_ns(time.time_ns() if t0_ns is None else t0_ns)
        self._mono0 = time.monotonic_ns()

    def now_ns(self) -> int:
        elapsed = time.monotonic_ns() - self._mono0
        return quantize_ns(self.t0_ns + int(elapsed * self.speed))


class RefreshTicks:
    """Lets callers await the next refreshes of a server instead of sleeping."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def tick(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, count: int = 1, timeout_s: float = 30.0) -> None:
        for _ in range(count):
            try:
                await asyncio.wait_for(self._event.wait(), timeout_s)
            except TimeoutError as exc:
                raise SimServerError(f"no refresh within {timeout_s} s") from exc


def quantize_ns(t_ns: int) -> int:
    return t_ns - t_ns % TIME_QUANTUM_NS


def state_code(point: PointSpec, canonical: str) -> int:
    """Device code for a canonical state: the first code mapped to it, else the code for
    unknown_stop, else a code the map does not know (which a gateway reads as unknown_stop)."""
    states = point.states or {}
    for code, name in states.items():
        if name == canonical:
            return code
    for code, name in states.items():
        if name == UNMAPPED_STATE:
            return code
    return max(states, default=-1) + 1  # a code the map does not know: reads as unknown_stop


def _wrap_or_clamp(point: PointSpec, number: int) -> int:
    low, high = _INT_RANGES[point.dtype]
    if point.kind in ("counter", "energy") and low == 0:
        return number % (high + 1)  # unsigned counters wrap like the register
    return min(max(number, low), high)


def to_raw(point: PointSpec, value: EngValue | None) -> RawValue:
    """Raw (device) value for an engineering value; a missing value reads as zero."""
    if point.kind == "state":
        return state_code(point, str(value)) if value is not None else state_code(point, UNMAPPED_STATE)
    if point.dtype == "bool":
        return bool(value)
    if point.dtype == "string":
        return "" if value is None else str(value)
    number = 0.0 if value is None or isinstance(value, str) else point.to_raw(float(value))
    if point.dtype in _INT_RANGES:
        if not math.isfinite(number):  # a saturated or undefined reading: the register's limit, or 0
            low, high = _INT_RANGES[point.dtype]
            return 0 if math.isnan(number) else high if number > 0 else low
        return _wrap_or_clamp(point, round(number))
    return number


def quantize_raw(point: PointSpec, raw: RawValue) -> RawValue:
    """The raw value as a client reads it back (float32 rounding, string truncation)."""
    if point.dtype == "bool":
        return bool(raw)
    if point.dtype == "string":
        mb = modbus_of(point)
        length = mb.length if mb and mb.length else 0
        data = str(raw).encode("utf-8")
        if length:
            data = data[: 2 * length]
        return data.decode("utf-8", "ignore").rstrip("\x00")
    try:
        return codec.decode(codec.encode(raw, point.dtype), point.dtype)
    except (CodecError, OverflowError, ValueError) as exc:
        raise SimServerError(f"point {point.name!r}: {exc}") from exc


def to_engineering(point: PointSpec, raw: RawValue) -> EngValue:
    """Engineering value of a raw value, the way a gateway maps it (states by the map)."""
    if point.kind == "state":
        return canonical_state(int(raw), point.states).state
    if isinstance(raw, bool | str):
        return raw
    return point.to_engineering(raw)


def raw_values(
    device_type: DeviceType, values: Mapping[str, EngValue], held: Mapping[str, RawValue]
) -> dict[str, RawValue]:
    """Quantized raw value of every point: held (written) values win over the model's."""
    out: dict[str, RawValue] = {}
    for point in device_type.points:
        raw = held[point.name] if point.name in held else to_raw(point, values.get(point.name))
        out[point.name] = quantize_raw(point, raw)
    return out


def expected_values(
    device_type: DeviceType, values: Mapping[str, EngValue], held: Mapping[str, RawValue]
) -> dict[str, EngValue]:
    """Engineering values a client decoding the served raw values gets."""
    raws = raw_values(device_type, values, held)
    return {p.name: to_engineering(p, raws[p.name]) for p in device_type.points}


def device_faults(source: ValueSource, device_id: str) -> DeviceFaults:
    """The device's faults when the source is a plant that has them (`faults_of`), else none."""
    faults_of = getattr(source, "faults_of", None)
    return faults_of(device_id) if faults_of is not None else DeviceFaults()


def unreadable(source: ValueSource, device_id: str, t_ns: int) -> bool:
    """Fault: the device answers connections and pings but no reads at model time t."""
    faults = device_faults(source, device_id)
    return bool(faults) and bool(faults.inside("unreadable", np.asarray([t_ns], dtype=np.int64))[0])


def find_device(source: ValueSource, device_id: str) -> DeviceLike:
    for device in source.devices:
        if device.id == device_id:
            return device
    raise SimServerError(f"unknown device {device_id!r}")


__all__ = [
    "NAMESPACE_URI",
    "DeviceLike",
    "EngValue",
    "ModelClock",
    "RawValue",
    "RefreshTicks",
    "SimServerError",
    "StaticDevice",
    "ValueSource",
    "device_faults",
    "expected_values",
    "find_device",
    "quantize_raw",
    "raw_values",
    "state_code",
    "to_engineering",
    "to_raw",
    "unreadable",
]
