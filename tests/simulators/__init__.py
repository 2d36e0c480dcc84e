"""Shared helpers for the simulator tests: a deterministic value source for any device YAML."""

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from adapters.opcua.address import OpcUaAddress, opcua_of
from devicemodel.devicetype import DeviceType, PointSpec
from devicemodel.loader import load_device_type
from simulators.servers import EngValue, StaticDevice

ROOT = Path(__file__).resolve().parents[2]
DEVICE_YAMLS = sorted((ROOT / "configs" / "devices").glob("*.yaml"))


def _mb(table: str, address: int, **extra: object) -> dict[str, object]:
    return {"table": table, "address": address, **extra}


# A device type exercising what the shipped YAMLs may not: 64-bit values, strings, both byte and
# word orders, bits in a holding word, coils and discrete inputs, an offset, a wrapping uint16 counter.
EXOTIC = DeviceType.model_validate(
    {
        "type": "generic",
        "industry": "C34",
        "sector": "process",
        "points": [
            {"name": "mode", "kind": "state", "dtype": "int16", "modbus": _mb("holding", 0),
             "states": {10: "running", 11: "running", 20: "idle", 30: "unplanned_stop"}},
            {"name": "total", "kind": "counter", "dtype": "uint16", "modbus": _mb("holding", 1)},
            {"name": "big", "kind": "counter", "dtype": "int64",
             "modbus": _mb("holding", 2, word_order="little")},
            {"name": "flow", "kind": "analog", "dtype": "float64", "unit": "m3/h",
             "modbus": _mb("holding", 6, byte_order="little")},
            {"name": "press", "kind": "analog", "dtype": "float32", "unit": "bar",
             "modbus": _mb("input", 0, byte_order="little", word_order="little")},
            {"name": "level", "kind": "analog", "dtype": "int32", "scale": 0.001, "offset": -5,
             "modbus": _mb("input", 2, word_order="big")},
            {"name": "kwh", "kind": "energy", "dtype": "uint32", "scale": 0.1,
             "modbus": _mb("input", 4, byte_order="little")},
            {"name": "tag", "kind": "analog", "dtype": "string", "modbus": _mb("input", 10, length=4)},
            {"name": "heater", "kind": "switch", "dtype": "bool", "modbus": _mb("holding", 20, bit=2)},
            {"name": "cooler", "kind": "switch", "dtype": "bool", "modbus": _mb("holding", 20, bit=15)},
            {"name": "run_cmd", "kind": "switch", "dtype": "bool", "writable": True,
             "modbus": _mb("coil", 3)},
            {"name": "estop", "kind": "switch", "dtype": "bool", "modbus": _mb("discrete", 7)},
            {"name": "speed_sp", "kind": "setpoint", "dtype": "float32", "writable": True,
             "modbus": _mb("holding", 30)},
        ],
    }
)  # fmt: skip


def opcua_nodes(device_type: DeviceType, uri: str = "urn:plantproof:sim") -> DeviceType:
    """The same type with an OPC UA node on every point that lacks one."""
    points = [
        p
        if opcua_of(p)
        else p.model_copy(update={"opcua": OpcUaAddress(node=f"nsu={uri};s={{device}}.{p.name}")})
        for p in device_type.points
    ]
    return DeviceType.model_validate({**device_type.model_dump(), "points": [p.model_dump() for p in points]})


def _raw(point: PointSpec, i: int, s: float) -> bool | int | float | str:
    """A raw value that moves with time and stays in the dtype's range."""
    if point.dtype == "bool":
        return (int(s) + i) % 2 == 0
    if point.dtype == "string":
        return f"v{int(s) % 1000}"
    if point.kind in ("counter", "energy"):
        bits = {"uint16": 16, "int16": 15, "uint32": 32, "int32": 31}.get(point.dtype, 62)
        base = 2**40 if bits == 62 else 0
        return (base + int(s * 10) + 1000 * i) % 2**bits
    wave = math.sin(s / 7 + i)
    if point.dtype.startswith("float"):
        return 1000 * wave + 0.123 * i
    signed = not point.dtype.startswith("uint")
    return round(900 * wave) + (0 if signed else 1000)


class SyntheticSource:
    """Deterministic values for any device type: a pure function of time and point index."""

    def __init__(self, devices: Sequence[StaticDevice]) -> None:
        self._devices = list(devices)
        self._types = {d.id: d.device_type for d in devices}
        self._shift = {d.id: 1000.0 * i for i, d in enumerate(devices)}  # every device differs

    @property
    def devices(self) -> Sequence[StaticDevice]:
        return self._devices

    def values_at(self, device_id: str, t_ns: int) -> Mapping[str, EngValue]:
        s = t_ns / 1e9 + self._shift[device_id]
        out: dict[str, EngValue] = {}
        for i, point in enumerate(self._types[device_id].points):
            if point.kind == "state":
                names = list(dict.fromkeys((point.states or {}).values()))
                out[point.name] = names[(int(s) + i) % len(names)]
                continue
            raw = _raw(point, i, s)
            out[point.name] = raw if isinstance(raw, bool | str) else point.to_engineering(raw)
        return out


def source_for(*types: DeviceType | Path, count: int = 1) -> SyntheticSource:
    """`count` devices of each type, unit ids 1, 2, ... and ids like 'cnc_machine-01'."""
    devices: list[StaticDevice] = []
    for item in types:
        device_type = item if isinstance(item, DeviceType) else load_device_type(item)
        for _ in range(count):
            n = len(devices) + 1
            devices.append(StaticDevice(f"{device_type.type}-{n:02d}", device_type, n))
    return SyntheticSource(devices)
