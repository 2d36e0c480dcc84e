"""Sparkplug B payload bytes → typed values, within caps. Pure.

Every failure is a WireError whose message names the metric (name, else alias) and whose `field` is
the path of the offending protobuf field, e.g. `metrics[3].int_value`.
"""

# layering: pure

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.message import DecodeError

from wire.errors import WireError
from wire.sparkplug._generated import sparkplug_b_pb2 as pb
from wire.sparkplug.conventions import QUALITY
from wire.sparkplug.datatypes import (
    ARRAY_TYPES,
    BASIC_TYPES,
    BYTES_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    METRIC_TYPES,
    PROPERTY_TYPES,
    STRING_TYPES,
    DataType,
    datatype_of,
    decode_integer,
    unpack_array,
)
from wire.sparkplug.model import (
    DEFAULT_LIMITS,
    Cell,
    DataSet,
    Limits,
    MetaData,
    Metric,
    MetricValue,
    Payload,
    PropertySet,
    PropertyValue,
    Scalar,
    Template,
    TemplateParameter,
)

# Where the sender left out a metric's datatype (the specification asks DATA and CMD messages to):
# alias or name → datatype, as announced in the BIRTH.
Datatypes = Mapping[int | str, DataType]


def decode_payload(
    data: bytes | bytearray | memoryview,
    *,
    datatypes: Datatypes | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Payload:
    if len(data) > limits.max_payload_bytes:
        raise WireError(f"payload of {len(data)} bytes exceeds the {limits.max_payload_bytes}-byte cap", "$")
    try:
        message = pb.Payload.FromString(bytes(data))
    except DecodeError as exc:
        raise WireError(f"malformed Sparkplug B payload: {exc}", "$") from None
    return _Decoder(limits, datatypes or {}).payload(message)


def peek(
    data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS
) -> tuple[int | None, int | None]:
    """(timestamp, seq) of a payload without reading its metrics: a DATA message that cannot be
    decoded without its BIRTH can still be named."""
    if len(data) > limits.max_payload_bytes:
        raise WireError(f"payload of {len(data)} bytes exceeds the {limits.max_payload_bytes}-byte cap", "$")
    try:
        message = pb.Payload.FromString(bytes(data))
    except DecodeError as exc:
        raise WireError(f"malformed Sparkplug B payload: {exc}", "$") from None
    return (
        message.timestamp if message.HasField("timestamp") else None,
        message.seq if message.HasField("seq") else None,
    )


class _Decoder:
    def __init__(self, limits: Limits, datatypes: Datatypes) -> None:
        self.limits = limits
        self.datatypes = datatypes
        self.used: dict[str, int] = {}

    def count(self, what: str, n: int, cap: int, where: str) -> None:
        total = self.used.get(what, 0) + n
        if total > cap:
            raise WireError(f"{where}: more than {cap} {what} in one payload", where)
        self.used[what] = total

    def string(self, value: str, where: str) -> str:
        cap = self.limits.max_string_bytes
        if len(value) > cap // 4 and len(value.encode("utf-8")) > cap:
            raise WireError(f"{where}: string longer than {cap} bytes", where)
        return value

    def payload(self, message: pb.Payload) -> Payload:
        self.count("metrics", len(message.metrics), self.limits.max_metrics, "metrics")
        return Payload(
            timestamp=message.timestamp if message.HasField("timestamp") else None,
            metrics=tuple(self.metric(m, f"metrics[{i}]", 0, True) for i, m in enumerate(message.metrics)),
            seq=message.seq if message.HasField("seq") else None,
            uuid=self.string(message.uuid, "uuid") if message.HasField("uuid") else None,
            body=self.binary(message.body, "body") if message.HasField("body") else None,
        )

    def binary(self, value: bytes, where: str) -> bytes:
        if len(value) > self.limits.max_bytes_value:
            raise WireError(
                f"{where}: {len(value)} bytes exceed the {self.limits.max_bytes_value}-byte cap", where
            )
        return value

    def metric(self, m: pb.Payload.Metric, where: str, depth: int, top_level: bool) -> Metric:
        name = self.string(m.name, f"{where}.name") if m.HasField("name") else None
        alias = m.alias if m.HasField("alias") else None
        label = repr(name) if name is not None else (f"alias {alias}" if alias is not None else "(unnamed)")
        try:
            datatype = self.metric_datatype(m, name, alias, where, top_level)
            kind = m.WhichOneof("value")
            value = None if m.is_null or kind is None else self.metric_value(datatype, m, kind, where, depth)
            return Metric(
                datatype,
                value,
                name=name,
                alias=alias,
                timestamp=m.timestamp if m.HasField("timestamp") else None,
                is_historical=m.is_historical,
                is_transient=m.is_transient,
                properties=self.property_set(m.properties, f"{where}.properties", depth + 1)
                if m.HasField("properties")
                else None,
                metadata=self.metadata(m.metadata, f"{where}.metadata") if m.HasField("metadata") else None,
            )
        except WireError as exc:
            raise WireError(f"metric {label}: {exc}", exc.field) from None

    def metric_datatype(
        self, m: pb.Payload.Metric, name: str | None, alias: int | None, where: str, top_level: bool
    ) -> DataType:
        if m.HasField("datatype"):
            return datatype_of(m.datatype, f"{where}.datatype", METRIC_TYPES)
        known = None
        if top_level:
            known = self.datatypes.get(alias) if alias is not None else None
            if known is None and name is not None:
                known = self.datatypes.get(name)
        if known is None:
            raise WireError(
                f"{where}: no datatype on the wire and none known from a birth", f"{where}.datatype"
            )
        return known

    def metric_value(
        self, datatype: DataType, m: pb.Payload.Metric, kind: str, where: str, depth: int
    ) -> MetricValue:
        at = f"{where}.{kind}"
        if datatype in BASIC_TYPES:
            return self.scalar(datatype, kind, getattr(m, kind), at)
        if datatype in BYTES_TYPES and kind == "bytes_value":
            return self.binary(m.bytes_value, at)
        if datatype in ARRAY_TYPES and kind == "bytes_value":
            return unpack_array(datatype, self.binary(m.bytes_value, at), at)
        if datatype == DataType.DATASET and kind == "dataset_value":
            return self.dataset(m.dataset_value, at)
        if datatype == DataType.TEMPLATE and kind == "template_value":
            return self.template(m.template_value, at, depth + 1)
        raise WireError(f"{at}: a {datatype.spec_name} value cannot be carried in {kind}", at)

    def scalar(self, datatype: DataType, kind: str, raw: Any, where: str) -> Scalar:
        if datatype in INTEGER_TYPES and kind in ("int_value", "long_value"):
            return decode_integer(datatype, kind, raw, where)
        if datatype in FLOAT_TYPES and kind in ("float_value", "double_value"):
            return float(raw)
        if datatype == DataType.BOOLEAN and kind == "boolean_value":
            return bool(raw)
        if datatype in STRING_TYPES and kind == "string_value":
            return self.string(raw, where)
        raise WireError(f"{where}: a {datatype.spec_name} value cannot be carried in {kind}", where)

    def untyped(self, kind: str, raw: Any, where: str) -> Scalar:
        """A value whose type was left out: as the field holds it, nothing inferred."""
        if kind in ("int_value", "long_value", "float_value", "double_value", "boolean_value"):
            return raw
        if kind == "string_value":
            return self.string(raw, where)
        raise WireError(f"{where}: {kind} is not supported", where)

    def cell(self, datatype: DataType, holder: Any, where: str) -> Cell:
        kind = holder.WhichOneof("value")
        if kind is None:
            return None
        if datatype == DataType.UNKNOWN:
            return self.untyped(kind, getattr(holder, kind), f"{where}.{kind}")
        return self.scalar(datatype, kind, getattr(holder, kind), f"{where}.{kind}")

    def dataset(self, ds: pb.Payload.DataSet, where: str) -> DataSet:
        width = len(ds.columns)
        if len(ds.types) != width or (ds.HasField("num_of_columns") and ds.num_of_columns != width):
            raise WireError(
                f"{where}: {width} columns, {len(ds.types)} types and num_of_columns "
                f"{ds.num_of_columns} disagree",
                f"{where}.types",
            )
        types = tuple(datatype_of(t, f"{where}.types[{i}]", BASIC_TYPES) for i, t in enumerate(ds.types))
        self.count("data-set cells", width * len(ds.rows), self.limits.max_dataset_cells, where)
        rows = []
        for r, row in enumerate(ds.rows):
            if len(row.elements) != width:
                raise WireError(
                    f"{where}.rows[{r}]: {len(row.elements)} cells for {width} columns", f"{where}.rows[{r}]"
                )
            rows.append(
                tuple(self.cell(types[c], e, f"{where}.rows[{r}][{c}]") for c, e in enumerate(row.elements))
            )
        columns = tuple(self.string(c, f"{where}.columns[{i}]") for i, c in enumerate(ds.columns))
        return DataSet(columns, types, tuple(rows))

    def template(self, t: pb.Payload.Template, where: str, depth: int) -> Template:
        if depth > self.limits.max_depth:
            raise WireError(f"{where}: templates nested deeper than {self.limits.max_depth}", where)
        self.count("metrics", len(t.metrics), self.limits.max_metrics, f"{where}.metrics")
        self.count("template parameters", len(t.parameters), self.limits.max_template_parameters, where)
        parameters = []
        for i, p in enumerate(t.parameters):
            at = f"{where}.parameters[{i}]"
            if not p.HasField("name"):
                raise WireError(f"{at}: template parameter without a name", f"{at}.name")
            ptype = datatype_of(p.type, f"{at}.type", BASIC_TYPES) if p.HasField("type") else DataType.UNKNOWN
            parameters.append(
                TemplateParameter(self.string(p.name, f"{at}.name"), ptype, self.cell(ptype, p, at))
            )
        return Template(
            metrics=tuple(
                self.metric(m, f"{where}.metrics[{i}]", depth, False) for i, m in enumerate(t.metrics)
            ),
            parameters=tuple(parameters),
            template_ref=self.string(t.template_ref, f"{where}.template_ref")
            if t.HasField("template_ref")
            else None,
            is_definition=t.is_definition,
            version=self.string(t.version, f"{where}.version") if t.HasField("version") else None,
        )

    def property_set(self, ps: pb.Payload.PropertySet, where: str, depth: int) -> PropertySet:
        if depth > self.limits.max_depth:
            raise WireError(f"{where}: property sets nested deeper than {self.limits.max_depth}", where)
        if len(ps.keys) != len(ps.values):
            raise WireError(f"{where}: {len(ps.keys)} keys but {len(ps.values)} values", where)
        self.count("properties", len(ps.keys), self.limits.max_properties, where)
        out: dict[str, PropertyValue] = {}
        for key, value in zip(ps.keys, ps.values, strict=True):
            at = f"{where}[{key!r}]"
            if key in out:
                raise WireError(f"{at}: property key appears twice", at)
            out[self.string(key, at)] = self.property_value(key, value, at, depth)
        return out

    def property_value(self, key: str, v: pb.Payload.PropertyValue, where: str, depth: int) -> PropertyValue:
        if v.HasField("type"):
            ptype = datatype_of(v.type, f"{where}.type", PROPERTY_TYPES)
        else:  # the specification fixes Quality's type; any other untyped property keeps its raw value
            ptype = DataType.INT32 if key == QUALITY else DataType.UNKNOWN
        kind = v.WhichOneof("value")
        if v.is_null or kind is None:
            return PropertyValue(ptype, None)
        at = f"{where}.{kind}"
        if kind == "propertyset_value" and ptype in (DataType.PROPERTY_SET, DataType.UNKNOWN):
            return PropertyValue(DataType.PROPERTY_SET, self.property_set(v.propertyset_value, at, depth + 1))
        if kind == "propertysets_value" and ptype in (DataType.PROPERTY_SET_LIST, DataType.UNKNOWN):
            sets = v.propertysets_value.propertyset
            return PropertyValue(
                DataType.PROPERTY_SET_LIST,
                tuple(self.property_set(s, f"{at}[{i}]", depth + 1) for i, s in enumerate(sets)),
            )
        if ptype == DataType.UNKNOWN:
            return PropertyValue(ptype, self.untyped(kind, getattr(v, kind), at))
        return PropertyValue(ptype, self.scalar(ptype, kind, getattr(v, kind), at))

    def metadata(self, md: pb.Payload.MetaData, where: str) -> MetaData:
        def text(name: str) -> str | None:
            return self.string(getattr(md, name), f"{where}.{name}") if md.HasField(name) else None  # type: ignore[arg-type]

        return MetaData(
            is_multi_part=md.is_multi_part if md.HasField("is_multi_part") else None,
            content_type=text("content_type"),
            size=md.size if md.HasField("size") else None,
            seq=md.seq if md.HasField("seq") else None,
            file_name=text("file_name"),
            file_type=text("file_type"),
            md5=text("md5"),
            description=text("description"),
        )
