"""Typed values → Sparkplug B payload bytes, as the specification writes them. Pure.

A value that does not fit its datatype is refused with a WireError naming the metric and field; the
encoder never narrows, rounds or reinterprets a value.
"""

# layering: pure

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wire.errors import WireError
from wire.sparkplug._generated import sparkplug_b_pb2 as pb
from wire.sparkplug.datatypes import (
    ARRAY_TYPES,
    BYTES_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    METRIC_TYPES,
    STRING_TYPES,
    DataType,
    check_float32,
    encode_integer,
    pack_array,
)
from wire.sparkplug.model import DataSet, MetaData, Metric, Payload, PropertySet, PropertyValue, Template

_U64 = 1 << 64


def encode_payload(payload: Payload, *, with_datatypes: bool = True) -> bytes:
    """Serialise a payload.

    `with_datatypes=False` leaves the datatype out of the top-level metrics, as the specification
    asks of NDATA/DDATA/NCMD/DCMD (the receiver knows them from the BIRTH); hosts that read every
    message on its own, Tahu's JavaScript decoder among them, need them in.
    """
    message = pb.Payload()
    if payload.timestamp is not None:
        message.timestamp = _uint64(payload.timestamp, "timestamp")
    if payload.seq is not None:
        if not 0 <= payload.seq <= 255:
            raise WireError(f"seq {payload.seq} is outside 0..255", "seq")
        message.seq = payload.seq
    for i, metric in enumerate(payload.metrics):
        _metric(message.metrics.add(), metric, f"metrics[{i}]", with_datatypes)
    if payload.uuid is not None:
        message.uuid = payload.uuid
    if payload.body is not None:
        message.body = payload.body
    return message.SerializeToString()


def _uint64(value: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _U64:
        raise WireError(f"{where}: {value!r} is not an unsigned 64-bit integer", where)
    return value


def _metric(target: pb.Payload.Metric, metric: Metric, where: str, with_datatype: bool) -> None:
    try:
        if metric.datatype not in METRIC_TYPES:
            raise WireError(
                f"{where}: {metric.datatype.spec_name} is not a metric datatype", f"{where}.datatype"
            )
        if metric.name is not None:
            _text(target, "name", metric.name, f"{where}.name")
        if metric.alias is not None:
            target.alias = _uint64(metric.alias, f"{where}.alias")
        if metric.timestamp is not None:
            target.timestamp = _uint64(metric.timestamp, f"{where}.timestamp")
        if with_datatype:
            target.datatype = metric.datatype
        if metric.is_historical:
            target.is_historical = True
        if metric.is_transient:
            target.is_transient = True
        if metric.metadata is not None:
            _metadata(target.metadata, metric.metadata)
        if metric.properties is not None:
            _property_set(target.properties, metric.properties, f"{where}.properties")
        if metric.value is None:
            target.is_null = True
        else:
            _metric_value(target, metric.datatype, metric.value, where)
    except WireError as exc:
        raise WireError(f"metric {metric.label}: {exc}", exc.field) from None


def _metric_value(target: pb.Payload.Metric, datatype: DataType, value: object, where: str) -> None:
    if datatype in BYTES_TYPES:
        if not isinstance(value, bytes | bytearray):
            raise WireError(f"{where}: {datatype.spec_name} needs bytes", f"{where}.bytes_value")
        target.bytes_value = bytes(value)
    elif datatype in ARRAY_TYPES:
        target.bytes_value = pack_array(datatype, value, f"{where}.bytes_value")
    elif datatype == DataType.DATASET:
        if not isinstance(value, DataSet):
            raise WireError(f"{where}: DataSet needs a DataSet value", f"{where}.dataset_value")
        _dataset(target.dataset_value, value, f"{where}.dataset_value")
    elif datatype == DataType.TEMPLATE:
        if not isinstance(value, Template):
            raise WireError(f"{where}: Template needs a Template value", f"{where}.template_value")
        _template(target.template_value, value, f"{where}.template_value")
    else:
        _scalar(target, datatype, value, where)


def _scalar(target: Any, datatype: DataType, value: object, where: str) -> None:
    """Set the value field of a Metric, PropertyValue, DataSetValue or Template.Parameter."""
    if datatype in INTEGER_TYPES:
        field, raw = encode_integer(datatype, value, where)
        setattr(target, field, raw)
    elif datatype in FLOAT_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WireError(f"{where}: {datatype.spec_name} needs a number", where)
        if datatype == DataType.FLOAT:
            target.float_value = check_float32(float(value), where)
        else:
            target.double_value = float(value)
    elif datatype == DataType.BOOLEAN:
        if not isinstance(value, bool):
            raise WireError(f"{where}: Boolean needs True or False, not {value!r}", where)
        target.boolean_value = value
    elif datatype in STRING_TYPES:
        if not isinstance(value, str):
            raise WireError(f"{where}: {datatype.spec_name} needs a string", where)
        _text(target, "string_value", value, where)
    else:
        raise WireError(f"{where}: {datatype.spec_name} is not allowed here", where)


def _text(target: Any, field: str, value: str, where: str) -> None:
    try:
        setattr(target, field, value)
    except (ValueError, TypeError) as exc:  # e.g. a lone surrogate: not valid UTF-8
        raise WireError(f"{where}: {exc}", where) from None


def _dataset(target: pb.Payload.DataSet, dataset: DataSet, where: str) -> None:
    width = len(dataset.columns)
    if len(dataset.types) != width:
        raise WireError(f"{where}: {width} columns but {len(dataset.types)} types", f"{where}.types")
    target.num_of_columns = width
    for c, name in enumerate(dataset.columns):
        try:
            target.columns.append(name)
        except (ValueError, TypeError) as exc:
            raise WireError(f"{where}.columns[{c}]: {exc}", f"{where}.columns[{c}]") from None
    target.types.extend(int(t) for t in dataset.types)
    for r, row in enumerate(dataset.rows):
        if len(row) != width:
            raise WireError(f"{where}.rows[{r}]: {len(row)} cells for {width} columns", f"{where}.rows[{r}]")
        pb_row = target.rows.add()
        for c, cell in enumerate(row):
            element = pb_row.elements.add()
            if cell is not None:  # an empty DataSetValue is an empty cell
                _scalar(element, dataset.types[c], cell, f"{where}.rows[{r}][{c}]")


def _template(target: pb.Payload.Template, template: Template, where: str) -> None:
    if template.version is not None:
        target.version = template.version
    if template.template_ref is not None:
        target.template_ref = template.template_ref
    target.is_definition = template.is_definition
    for i, member in enumerate(template.metrics):
        _metric(target.metrics.add(), member, f"{where}.metrics[{i}]", True)
    for i, param in enumerate(template.parameters):
        at = f"{where}.parameters[{i}]"
        pb_param = target.parameters.add()
        pb_param.name = param.name
        pb_param.type = param.type
        if param.value is not None:
            _scalar(pb_param, param.type, param.value, at)


def _property_set(target: pb.Payload.PropertySet, properties: PropertySet, where: str) -> None:
    for key, value in properties.items():
        target.keys.append(key)
        _property_value(target.values.add(), value, f"{where}[{key!r}]")


def _property_value(target: pb.Payload.PropertyValue, prop: PropertyValue, where: str) -> None:
    if prop.type == DataType.UNKNOWN:
        raise WireError(f"{where}: a property needs a datatype", f"{where}.type")
    target.type = prop.type
    value = prop.value
    if value is None:
        target.is_null = True
    elif prop.type == DataType.PROPERTY_SET:
        if not isinstance(value, Mapping):
            raise WireError(f"{where}: PropertySet needs a mapping", where)
        _property_set(target.propertyset_value, value, f"{where}.propertyset_value")
    elif prop.type == DataType.PROPERTY_SET_LIST:
        if not isinstance(value, tuple | list):
            raise WireError(f"{where}: PropertySetList needs a sequence of mappings", where)
        for i, item in enumerate(value):
            _property_set(target.propertysets_value.propertyset.add(), item, f"{where}[{i}]")
    else:
        _scalar(target, prop.type, value, where)


def _metadata(target: pb.Payload.MetaData, md: MetaData) -> None:
    for name in (
        "is_multi_part",
        "content_type",
        "size",
        "seq",
        "file_name",
        "file_type",
        "md5",
        "description",
    ):
        value = getattr(md, name)
        if value is not None:
            setattr(target, name, value)
