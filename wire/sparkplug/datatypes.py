"""Sparkplug B datatypes and the mapping of each to its protobuf value field. Pure.

Integers are where implementations disagree, so both directions are spelled out here:

- Signed Int8/Int16/Int32 travel in the unsigned 32-bit `int_value`. We write the 32-bit two's
  complement (Int8 −5 → 4294967291), as Eclipse Tahu Java and JavaScript do. We read that, the
  two's complement in the type's own width (Int8 −5 → 251, as Tahu Python and pysparkplug write),
  and a 64-bit sign extension in `long_value`; any other number is refused, never truncated.
- UInt32 sits in `int_value` per the specification's table; Tahu Java and JavaScript put it in
  `long_value`. We write `int_value` and read both.
- Int64 is the 64-bit two's complement in `long_value`; DateTime is milliseconds in `long_value`.
"""

# layering: pure

from __future__ import annotations

import math
import struct
from enum import IntEnum
from typing import Final

from wire.errors import WireError


class DataType(IntEnum):
    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19
    PROPERTY_SET = 20
    PROPERTY_SET_LIST = 21
    INT8_ARRAY = 22
    INT16_ARRAY = 23
    INT32_ARRAY = 24
    INT64_ARRAY = 25
    UINT8_ARRAY = 26
    UINT16_ARRAY = 27
    UINT32_ARRAY = 28
    UINT64_ARRAY = 29
    FLOAT_ARRAY = 30
    DOUBLE_ARRAY = 31
    BOOLEAN_ARRAY = 32
    STRING_ARRAY = 33
    DATETIME_ARRAY = 34

    @property
    def spec_name(self) -> str:
        """The specification's spelling (`Int8`, `UInt32`, `DateTime`, `PropertySetList`, ...)."""
        return _SPEC_NAMES[self]


_SPEC_NAMES: Final = {
    DataType.UNKNOWN: "Unknown",
    DataType.UUID: "UUID",
    DataType.DATETIME: "DateTime",
    DataType.DATETIME_ARRAY: "DateTimeArray",
    DataType.DATASET: "DataSet",
    DataType.PROPERTY_SET: "PropertySet",
    DataType.PROPERTY_SET_LIST: "PropertySetList",
    **{
        t: "".join(p.capitalize() for p in t.name.split("_")).replace("Uint", "UInt")
        for t in DataType
        if t.value not in (0, 13, 15, 16, 20, 21, 34)
    },
}
BY_SPEC_NAME: Final = {t.spec_name: t for t in DataType}

SIGNED_BITS: Final = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}
UNSIGNED_BITS: Final = {
    DataType.UINT8: 8,
    DataType.UINT16: 16,
    DataType.UINT32: 32,
    DataType.UINT64: 64,
    DataType.DATETIME: 64,
}
INTEGER_TYPES: Final = frozenset(SIGNED_BITS) | frozenset(UNSIGNED_BITS)
FLOAT_TYPES: Final = frozenset({DataType.FLOAT, DataType.DOUBLE})
STRING_TYPES: Final = frozenset({DataType.STRING, DataType.TEXT, DataType.UUID})
BYTES_TYPES: Final = frozenset({DataType.BYTES, DataType.FILE})
# Types a DataSet column, a template parameter or a plain property value may have.
BASIC_TYPES: Final = INTEGER_TYPES | FLOAT_TYPES | STRING_TYPES | {DataType.BOOLEAN}
ARRAY_TYPES: Final = frozenset(t for t in DataType if DataType.INT8_ARRAY <= t <= DataType.DATETIME_ARRAY)
METRIC_TYPES: Final = BASIC_TYPES | BYTES_TYPES | ARRAY_TYPES | {DataType.DATASET, DataType.TEMPLATE}
PROPERTY_TYPES: Final = BASIC_TYPES | {DataType.PROPERTY_SET, DataType.PROPERTY_SET_LIST}

_U32: Final = 1 << 32
_U64: Final = 1 << 64
FLOAT32_MAX: Final = 3.4028234663852886e38


def datatype_of(code: int, where: str, allowed: frozenset[DataType]) -> DataType:
    try:
        datatype = DataType(code)
    except ValueError:
        raise WireError(f"{where}: unknown Sparkplug datatype {code}", where) from None
    if datatype not in allowed:
        raise WireError(f"{where}: datatype {datatype.spec_name} is not allowed here", where)
    return datatype


def encode_integer(datatype: DataType, value: object, where: str) -> tuple[str, int]:
    """The value field name and the unsigned number to put in it."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"{where}: {datatype.spec_name} needs an integer, not {type(value).__name__}", where)
    if datatype in SIGNED_BITS:
        bits = SIGNED_BITS[datatype]
        half = 1 << (bits - 1)
        if not -half <= value < half:
            raise WireError(f"{where}: {value} is out of range for {datatype.spec_name}", where)
        if bits == 64:
            return "long_value", value % _U64
        return "int_value", value % _U32
    bits = UNSIGNED_BITS[datatype]
    if not 0 <= value < (1 << bits):
        raise WireError(f"{where}: {value} is out of range for {datatype.spec_name}", where)
    return ("int_value" if bits <= 32 else "long_value"), value


def decode_integer(datatype: DataType, field: str, raw: int, where: str) -> int:
    """Read every known form of an integer of `datatype` from `int_value` or `long_value`."""
    field_bits = 32 if field == "int_value" else 64
    if datatype in SIGNED_BITS:
        bits = SIGNED_BITS[datatype]
        half = 1 << (bits - 1)
        if raw < half:
            return raw
        if raw < (1 << bits):
            return raw - (1 << bits)  # two's complement in the type's own width
        for width in (32, 64):  # sign-extended to the field's width (or to 32 bits in long_value)
            if bits < width <= field_bits and (1 << width) - half <= raw < (1 << width):
                return raw - (1 << width)
        raise WireError(f"{where}: {field} {raw} is not a {datatype.spec_name} in any known encoding", where)
    if raw >= (1 << UNSIGNED_BITS[datatype]):
        raise WireError(f"{where}: {field} {raw} is out of range for {datatype.spec_name}", where)
    return raw


def check_float32(value: float, where: str) -> float:
    if math.isfinite(value) and abs(value) > FLOAT32_MAX:
        raise WireError(f"{where}: {value} does not fit a 32-bit Float", where)
    return value


# Arrays: little-endian packed (struct codes), BooleanArray and StringArray have their own layouts.
_ARRAY_CODES: Final = {
    DataType.INT8_ARRAY: "b",
    DataType.INT16_ARRAY: "h",
    DataType.INT32_ARRAY: "i",
    DataType.INT64_ARRAY: "q",
    DataType.UINT8_ARRAY: "B",
    DataType.UINT16_ARRAY: "H",
    DataType.UINT32_ARRAY: "I",
    DataType.UINT64_ARRAY: "Q",
    DataType.FLOAT_ARRAY: "f",
    DataType.DOUBLE_ARRAY: "d",
    DataType.DATETIME_ARRAY: "Q",
}
ArrayValue = tuple[int, ...] | tuple[float, ...] | tuple[bool, ...] | tuple[str, ...]


def pack_array(datatype: DataType, values: object, where: str) -> bytes:
    if not isinstance(values, tuple | list):
        raise WireError(f"{where}: {datatype.spec_name} needs a sequence of values", where)
    if datatype == DataType.BOOLEAN_ARRAY:
        if not all(isinstance(v, bool) for v in values):
            raise WireError(f"{where}: BooleanArray holds booleans only", where)
        bits = bytearray((len(values) + 7) // 8)
        for i, v in enumerate(values):
            if v:
                bits[i // 8] |= 0x80 >> (i % 8)
        return struct.pack("<I", len(values)) + bytes(bits)
    if datatype == DataType.STRING_ARRAY:
        if not all(isinstance(v, str) and "\0" not in v for v in values):
            raise WireError(f"{where}: StringArray holds strings without NUL characters", where)
        return b"".join(v.encode("utf-8") + b"\0" for v in values)
    code = _ARRAY_CODES[datatype]
    numeric = (int, float) if code in "fd" else (int,)
    if not all(isinstance(v, numeric) and not isinstance(v, bool) for v in values):
        raise WireError(f"{where}: {datatype.spec_name} holds numbers of its element type only", where)
    try:
        return struct.pack(f"<{len(values)}{code}", *values)
    except (struct.error, OverflowError) as exc:
        raise WireError(f"{where}: {datatype.spec_name}: {exc}", where) from None


def unpack_array(datatype: DataType, data: bytes, where: str) -> ArrayValue:
    if datatype == DataType.BOOLEAN_ARRAY:
        if len(data) < 4:
            raise WireError(f"{where}: BooleanArray shorter than its 4-byte count", where)
        (count,) = struct.unpack_from("<I", data)
        if (count + 7) // 8 != len(data) - 4:
            raise WireError(
                f"{where}: BooleanArray count {count} does not match {len(data) - 4} bytes", where
            )
        return tuple(bool(data[4 + i // 8] & (0x80 >> (i % 8))) for i in range(count))
    if datatype == DataType.STRING_ARRAY:
        if data and not data.endswith(b"\0"):
            raise WireError(f"{where}: StringArray does not end with a NUL", where)
        try:
            return tuple(s.decode("utf-8") for s in data[:-1].split(b"\0")) if data else ()
        except UnicodeDecodeError:
            raise WireError(f"{where}: StringArray holds invalid UTF-8", where) from None
    code = _ARRAY_CODES[datatype]
    size = struct.calcsize(code)
    if len(data) % size:
        raise WireError(f"{where}: {len(data)} bytes is not a whole {datatype.spec_name}", where)
    return struct.unpack(f"<{len(data) // size}{code}", data)
