"""Typed Sparkplug B values: what the codec encodes and what it decodes to. Pure.

Values are frozen msgspec Structs, which cost a tenth of a frozen dataclass to build (the decoder
makes one per metric). Timestamps are integers, milliseconds since the epoch in UTC, as on the wire
(DateTime values too). A metric whose value is None is a null metric (`is_null` on the wire).
"""

# layering: pure

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from wire.sparkplug.datatypes import ArrayValue, DataType

Scalar = bool | int | float | str
# A DataSet cell or a template parameter value; None is an empty cell / a parameter without value.
Cell = Scalar | None


class PropertyValue(msgspec.Struct, frozen=True):
    """A typed property; `value` is None for a null property.

    A property received without a type (the specification requires one only in BIRTHs) keeps
    DataType.UNKNOWN and the number, string or flag exactly as the wire field held it.
    """

    type: DataType
    value: Scalar | PropertySet | tuple[PropertySet, ...] | None


PropertySet = Mapping[str, PropertyValue]


class MetaData(msgspec.Struct, frozen=True):
    is_multi_part: bool | None = None
    content_type: str | None = None
    size: int | None = None
    seq: int | None = None
    file_name: str | None = None
    file_type: str | None = None
    md5: str | None = None
    description: str | None = None


class DataSet(msgspec.Struct, frozen=True):
    columns: tuple[str, ...]
    types: tuple[DataType, ...]
    rows: tuple[tuple[Cell, ...], ...] = ()


class TemplateParameter(msgspec.Struct, frozen=True):
    name: str
    type: DataType
    value: Cell = None


class Template(msgspec.Struct, frozen=True):
    metrics: tuple[Metric, ...] = ()
    parameters: tuple[TemplateParameter, ...] = ()
    template_ref: str | None = None
    is_definition: bool = False
    version: str | None = None


MetricValue = Scalar | bytes | DataSet | Template | ArrayValue | None


class Metric(msgspec.Struct, frozen=True):
    datatype: DataType
    value: MetricValue = None
    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None
    is_historical: bool = False
    is_transient: bool = False
    properties: PropertySet | None = None
    metadata: MetaData | None = None

    @property
    def is_null(self) -> bool:
        return self.value is None

    @property
    def label(self) -> str:
        """How an error message names this metric: its name, else its alias."""
        if self.name is not None:
            return repr(self.name)
        return f"alias {self.alias}" if self.alias is not None else "an unnamed metric"


class Payload(msgspec.Struct, frozen=True):
    timestamp: int | None = None
    metrics: tuple[Metric, ...] = ()
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None


class Limits(msgspec.Struct, frozen=True):
    """Caps that keep a hostile payload from exhausting memory; past any of them decoding fails.

    Counts are for the whole payload, nested templates, data sets and property sets included.
    """

    max_payload_bytes: int = 4 * 1024 * 1024
    max_metrics: int = 10_000
    max_properties: int = 50_000
    max_dataset_cells: int = 100_000
    max_template_parameters: int = 10_000
    max_string_bytes: int = 64 * 1024  # names, string values, keys, metadata strings
    max_bytes_value: int = 1024 * 1024  # one Bytes, File or array value
    max_depth: int = 8  # templates in templates, property sets in property sets


DEFAULT_LIMITS: Final = Limits()
