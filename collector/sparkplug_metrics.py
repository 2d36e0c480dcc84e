"""Sparkplug metrics as the registry and readings see them: points, device types, samples. Pure.

A metric is a point when it has a name, a datatype stored as readings (`DTYPES`) and is not bdSeq,
`Node Control/*`, `Device Control/*` or `Properties/*`. Point kind from the metric property `kind`,
else switch (Boolean) or analog; unit from `engUnit`. A device's type, industry and sector come from
the BIRTH's `Properties/type|industry|sector` metrics, else from the first matching `DeviceType`.
"""

# layering: pure

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import wire
from wire import sparkplug as sp
from wire.sparkplug import DataType, Metric, Payload

_NS_PER_MS = 1_000_000
PROPERTY_PREFIX = "Properties/"
_CONTROL_PREFIXES = ("Node Control/", "Device Control/")
# Sparkplug datatypes stored as readings, and the point dtype each becomes.
DTYPES: Mapping[DataType, str] = {
    DataType.INT8: "int16",
    DataType.INT16: "int16",
    DataType.INT32: "int32",
    DataType.INT64: "int64",
    DataType.UINT8: "uint16",
    DataType.UINT16: "uint16",
    DataType.UINT32: "uint32",
    DataType.UINT64: "int64",  # a value beyond int64 is refused by the store, never truncated
    DataType.FLOAT: "float32",
    DataType.DOUBLE: "float64",
    DataType.BOOLEAN: "bool",
    DataType.STRING: "string",
    DataType.TEXT: "string",
    DataType.DATETIME: "int64",  # milliseconds since the epoch
}
_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_INDUSTRY = re.compile(r"^[A-Z][0-9]{2,4}$")
_KINDS = frozenset(("analog", "state", "counter", "energy", "switch", "setpoint"))


@dataclass(frozen=True, slots=True)
class DeviceType:
    """A mapping entry: a shell pattern over `group/edge_node/device` and what the device is."""

    match: str
    type: str
    industry: str
    sector: str


class Table:
    """Names and datatypes of one BIRTH's metrics; `points` are those stored as readings."""

    def __init__(self, metrics: Sequence[Metric]) -> None:
        self.by_alias: dict[int, tuple[str, DataType]] = {}
        self.by_name: dict[str, DataType] = {}
        self.aliases: dict[str, int] = {}
        for m in metrics:
            if m.name is not None:
                self._add(m.name, m.alias, m.datatype)

    @classmethod
    def of(cls, entries: Sequence[tuple[str, int | None, DataType]]) -> Table:
        """A table from its `entries` (as saved with a session)."""
        table = cls(())
        for name, alias, datatype in entries:
            table._add(name, alias, datatype)
        return table

    def _add(self, name: str, alias: int | None, datatype: DataType) -> None:
        self.by_name[name] = datatype
        if alias is not None:
            self.by_alias[alias] = (name, datatype)
            self.aliases[name] = alias

    def entries(self) -> list[tuple[str, int | None, DataType]]:
        return [(name, self.aliases.get(name), dt) for name, dt in self.by_name.items()]

    def __len__(self) -> int:
        return len(self.by_name)

    def datatypes(self) -> dict[int | str, DataType]:
        out: dict[int | str, DataType] = {a: t for a, (_, t) in self.by_alias.items()}
        for name, datatype in self.by_name.items():
            out[name] = datatype
        return out


class Missing(Exception):
    """Something a BIRTH should have said is missing: dead letter and rebirth request."""


def birth(site: str, gw: str, dev: str, decoded: Payload, devices: Sequence[DeviceType]) -> wire.Birth:
    """The registry's birth for a BIRTH's metrics; WireError when it cannot be one."""
    props = {m.name[len(PROPERTY_PREFIX) :]: m.value for m in decoded.metrics
             if m.name and m.name.startswith(PROPERTY_PREFIX)}  # fmt: skip
    info = _device_info(site, gw, dev, props, devices)
    points = []
    for m in decoded.metrics:
        if not is_reading(m):
            continue
        assert m.name is not None
        unit = _prop(m, sp.ENG_UNIT)
        kind = _prop(m, "kind") or ("switch" if m.datatype == DataType.BOOLEAN else "analog")
        if kind not in _KINDS:
            raise wire.WireError(f"metric {m.label}: kind {kind!r} is not one of {sorted(_KINDS)}", "kind")
        dtype = DTYPES[m.datatype]
        if kind == "state" and dtype == "string":
            # canonical state names, stored as their codes as the JSON path stores them: the KPI
            # engine's state timeline reads numeric state readings only
            dtype = "int16"
        wrap = _positive((m.properties or {}).get("wrap"))  # a counter register's wrap, as in JSON
        points.append(wire.PointInfo(m.name, kind, dtype, unit or "", wrap=wrap))  # type: ignore[arg-type]
    if not points:
        raise wire.WireError(f"BIRTH of {dev!r} has no metric that can be stored", "metrics")
    return wire.Birth(gw, dev, 0, ms_to_ns(decoded.timestamp, "payload"), info, points)


def _device_info(
    site: str, gw: str, dev: str, props: Mapping[str, object], devices: Sequence[DeviceType]
) -> wire.DeviceInfo:
    kind, industry, sector = props.get("type"), props.get("industry"), props.get("sector")
    if not (isinstance(kind, str) and isinstance(industry, str) and isinstance(sector, str)):
        path = f"{gw}/{dev}" if gw.count("/") else f"{site}/{gw}/{dev}"
        for entry in devices:
            if fnmatch.fnmatchcase(path, entry.match):
                kind, industry, sector = entry.type, entry.industry, entry.sector
                break
        else:
            raise wire.WireError(
                f"BIRTH of {path!r} names no device type: give it metrics"
                " Properties/type, Properties/industry, Properties/sector or a sparkplug.devices entry",
                "Properties",
            )
    if not _TYPE.match(kind) or not _INDUSTRY.match(industry) or sector not in ("discrete", "process"):
        raise wire.WireError(
            f"device {dev!r}: type {kind!r}, industry {industry!r}, sector {sector!r} are not"
            " a device type (e.g. cnc_machine), a GB/T 4754 code (e.g. C34) and discrete|process",
            "Properties",
        )
    line, area = props.get("line"), props.get("area")
    return wire.DeviceInfo(
        kind,
        industry,
        sector,  # type: ignore[arg-type]
        protocol="sparkplug_b",
        simulated=props.get("simulated") is True,  # kept out of the headline figures, as in JSON
        # the counter rules tell a reset from a back-step by it, as for a JSON device
        ideal_rate_per_hour=_positive(props.get("ideal_rate_per_hour")),
        line=line if isinstance(line, str) else None,
        area=area if isinstance(area, str) else None,
    )


def data(gw: str, dev: str, decoded: Payload, table: Table) -> wire.Data | None:
    """Readings of the metrics (a DATA's, or a BIRTH's values), named by the BIRTH's table; Missing
    when a metric is not in it."""
    samples: list[tuple[str, int, object, int]] = []
    for i, m in enumerate(decoded.metrics):
        name = m.name
        if name is None:
            if m.alias is None or m.alias not in table.by_alias:
                raise Missing(f"sparkplug: metrics[{i}]: unknown alias {m.alias} for {dev!r}")
            name = table.by_alias[m.alias][0]
        elif name not in table.by_name:
            raise Missing(f"sparkplug: metrics[{i}]: metric {name!r} is not in the BIRTH of {dev!r}")
        born = table.by_name[name]
        if m.datatype != born:  # the BIRTH held may be stale: never read a value as another type
            raise Missing(
                f"sparkplug: metrics[{i}]: metric {name!r} is {m.datatype.spec_name} here and"
                f" {born.spec_name} in the BIRTH of {dev!r}"
            )
        named = Metric(m.datatype, m.value, name=name, properties=m.properties)
        if not is_reading(named):
            continue  # control and property metrics, datatypes not stored (documented)
        when = m.timestamp if m.timestamp is not None else decoded.timestamp
        quality = sp.quality_of(m)
        value = m.value
        if value is None:
            quality = wire.QUALITY_BAD  # a null metric holds no value
        samples.append((name, ms_to_ns(when, f"metrics[{i}]"), value, quality))
    if not samples:
        return None
    sent = ms_to_ns(decoded.timestamp, "payload") if decoded.timestamp is not None else samples[0][1]
    return wire.Data(gw, dev, 0, sent, samples)  # type: ignore[arg-type]


def is_reading(m: Metric) -> bool:
    name = m.name
    if name is None or name == sp.BDSEQ or name.startswith(PROPERTY_PREFIX):
        return False
    return not name.startswith(_CONTROL_PREFIXES) and m.datatype in DTYPES


def _positive(value: object) -> float | None:
    """A positive number (a metric or property value), else None."""
    value = getattr(value, "value", value)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return float(value) if ok else None  # type: ignore[arg-type]


def _prop(m: Metric, name: str) -> str | None:
    prop = (m.properties or {}).get(name)
    return prop.value if prop is not None and isinstance(prop.value, str) else None


def ms_to_ns(ms: int | None, where: str) -> int:
    if ms is None or ms < 0:
        raise wire.WireError(f"{where}: no timestamp (neither the metric nor the payload has one)", where)
    return ms * _NS_PER_MS
