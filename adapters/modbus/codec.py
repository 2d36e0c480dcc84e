"""Pure Modbus codecs: values <-> 16-bit registers for every dtype, byte order and word order.

Conventions: the value is first packed big-endian ("ABCD"); `word_order="little"` puts the low
word first ("CDAB"); `byte_order="little"` swaps the two bytes inside each register ("BADC");
both little gives "DCBA". Scale and offset are applied by the caller (PointSpec.to_engineering).
"""

# layering: pure

import math
import struct
from collections.abc import Sequence

from adapters.errors import CodecError
from adapters.modbus.address import modbus_of
from devicemodel.devicetype import PointSpec

_FORMATS = {
    "int16": ">h",
    "uint16": ">H",
    "int32": ">i",
    "uint32": ">I",
    "int64": ">q",
    "float32": ">f",
    "float64": ">d",
}
_INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


def _to_words(data: bytes, byte_order: str, word_order: str) -> list[int]:
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def _from_words(registers: Sequence[int], byte_order: str, word_order: str) -> bytes:
    words = [int(r).to_bytes(2, "big") for r in registers]
    if byte_order == "little":
        words = [w[::-1] for w in words]
    if word_order == "little":
        words.reverse()
    return b"".join(words)


def encode(
    value: bool | int | float | str,
    dtype: str,
    byte_order: str = "big",
    word_order: str = "big",
    length: int | None = None,
) -> list[int]:
    """Registers for a raw (unscaled) value. Integers are rounded; out of range raises CodecError."""
    if dtype == "bool":
        return [1 if value else 0]
    if dtype == "string":
        if length is None:
            raise CodecError("a string needs a length in registers")
        data = str(value).encode("utf-8")
        if len(data) > 2 * length:
            raise CodecError(f"string of {len(data)} bytes does not fit {length} registers")
        return _to_words(data.ljust(2 * length, b"\x00"), byte_order, "big")
    fmt = _FORMATS.get(dtype)
    if fmt is None:
        raise CodecError(f"unknown dtype {dtype!r}")
    if isinstance(value, str):
        raise CodecError(f"cannot encode text {value!r} as {dtype}")
    if dtype in _INT_RANGES:
        if not math.isfinite(value):
            raise CodecError(f"cannot encode {value!r} as {dtype}")
        number = round(value)
        low, high = _INT_RANGES[dtype]
        if not low <= number <= high:
            raise CodecError(f"{value!r} is out of range for {dtype} [{low}, {high}]")
        return _to_words(struct.pack(fmt, number), byte_order, word_order)
    try:
        packed = struct.pack(fmt, float(value))
    except (OverflowError, struct.error) as exc:
        raise CodecError(f"{value!r} does not fit {dtype}: {exc}") from None
    return _to_words(packed, byte_order, word_order)


def decode(
    registers: Sequence[int], dtype: str, byte_order: str = "big", word_order: str = "big"
) -> bool | int | float | str:
    """Raw value from registers (exactly as many as the dtype needs, or the string's length)."""
    if dtype == "bool":
        if len(registers) != 1:
            raise CodecError(f"bool needs 1 register or bit, got {len(registers)}")
        return bool(registers[0])
    if dtype == "string":
        # Only the NUL padding is removed: trailing spaces belong to the text.
        return _from_words(registers, byte_order, "big").rstrip(b"\x00").decode("utf-8", "replace")
    fmt = _FORMATS.get(dtype)
    if fmt is None:
        raise CodecError(f"unknown dtype {dtype!r}")
    need = struct.calcsize(fmt) // 2
    if len(registers) != need:
        raise CodecError(f"{dtype} needs {need} registers, got {len(registers)}")
    value: int | float = struct.unpack(fmt, _from_words(registers, byte_order, word_order))[0]
    return value


def get_bit(register: int, bit: int) -> bool:
    return bool((register >> bit) & 1)


def set_bit(register: int, bit: int, on: bool) -> int:
    return (register | (1 << bit)) if on else (register & ~(1 << bit) & 0xFFFF)


def encode_point(point: PointSpec, raw: bool | int | float | str) -> list[int]:
    """Registers (or a single bit value for coil/discrete) for a point's raw value."""
    mb = modbus_of(point)
    if mb is None:
        raise CodecError(f"point {point.name!r} has no modbus address")
    if mb.bit is not None:
        raise CodecError(f"point {point.name!r} is a bit in a word: use set_bit on the register")
    return encode(raw, point.dtype, mb.byte_order, mb.word_order, mb.length)


def decode_point(point: PointSpec, words: Sequence[int]) -> bool | int | float | str:
    """Raw value of a point from the registers (or bits) at its address."""
    mb = modbus_of(point)
    if mb is None:
        raise CodecError(f"point {point.name!r} has no modbus address")
    if mb.bit is not None:
        return get_bit(words[0], mb.bit)
    return decode(words, point.dtype, mb.byte_order, mb.word_order)
