"""Property tests of the pure Modbus codecs: every dtype round-trips through registers in every
byte and word order; out-of-range values are refused with CodecError."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adapters.errors import CodecError
from adapters.modbus import codec
from devicemodel.devicetype import PointSpec

ORDERS = st.sampled_from(["big", "little"])
INT_BOUNDS = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
}
WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "float32": 2, "float64": 4}


def _registers_ok(words: list[int], n: int) -> None:
    assert len(words) == n
    assert all(isinstance(w, int) and 0 <= w <= 0xFFFF for w in words)


@st.composite
def int_case(draw: st.DrawFn) -> tuple[str, int]:
    dtype = draw(st.sampled_from(sorted(INT_BOUNDS)))
    low, high = INT_BOUNDS[dtype]
    return dtype, draw(st.integers(low, high))


@given(int_case(), ORDERS, ORDERS)
def test_integers_round_trip(case: tuple[str, int], byte_order: str, word_order: str) -> None:
    dtype, value = case
    words = codec.encode(value, dtype, byte_order, word_order)
    _registers_ok(words, WIDTH[dtype])
    assert codec.decode(words, dtype, byte_order, word_order) == value


@given(int_case(), ORDERS, ORDERS)
def test_orders_are_permutations_of_big_endian(
    case: tuple[str, int], byte_order: str, word_order: str
) -> None:
    """ABCD / CDAB / BADC / DCBA: each order is a fixed permutation of the big-endian bytes."""
    dtype, value = case
    big = b"".join(w.to_bytes(2, "big") for w in codec.encode(value, dtype))
    words = [big[i : i + 2] for i in range(0, len(big), 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [w[::-1] for w in words]
    expected = [int.from_bytes(w, "big") for w in words]
    assert codec.encode(value, dtype, byte_order, word_order) == expected


@given(st.floats(width=32), ORDERS, ORDERS)
def test_float32_round_trip(value: float, byte_order: str, word_order: str) -> None:
    words = codec.encode(value, "float32", byte_order, word_order)
    _registers_ok(words, 2)
    back = codec.decode(words, "float32", byte_order, word_order)
    assert isinstance(back, float)
    assert back == value or (math.isnan(back) and math.isnan(value))


@given(st.floats(), ORDERS, ORDERS)
def test_float64_round_trip(value: float, byte_order: str, word_order: str) -> None:
    words = codec.encode(value, "float64", byte_order, word_order)
    _registers_ok(words, 4)
    back = codec.decode(words, "float64", byte_order, word_order)
    assert back == value or (math.isnan(back) and math.isnan(value))


@given(int_case(), st.integers(1, 2**70))
def test_integers_out_of_range_are_refused(case: tuple[str, int], excess: int) -> None:
    dtype, _ = case
    low, high = INT_BOUNDS[dtype]
    for bad in (high + excess, low - excess):
        with pytest.raises(CodecError, match="out of range"):
            codec.encode(bad, dtype)
    for bad_float in (math.inf, -math.inf, math.nan):
        with pytest.raises(CodecError):
            codec.encode(bad_float, dtype)


@given(int_case(), st.floats(-0.49, 0.49))
def test_integers_take_the_nearest_integer(case: tuple[str, int], frac: float) -> None:
    dtype, value = case
    # value + frac must be a float nearer value than value ± 1: below 2**44 floats are 2**-8 apart
    # or closer (at 2**50 they are 0.25 apart, so 0.375 lands on .5 and rounds away)
    assume(abs(value) <= 2**44)
    assert codec.decode(codec.encode(float(value) + frac, dtype), dtype) == value


# Printable text without trailing spaces (see test_codec_known_bugs for those).
TEXT = st.text(st.characters(codec="utf-8", min_codepoint=0x21, max_codepoint=0x2FFF), max_size=20)


@given(TEXT, ORDERS, st.integers(0, 8))
def test_strings_round_trip(text: str, byte_order: str, spare: int) -> None:
    n_bytes = len(text.encode("utf-8"))
    length = max(1, (n_bytes + 1) // 2 + spare)
    words = codec.encode(text, "string", byte_order, length=length)
    _registers_ok(words, length)
    assert codec.decode(words, "string", byte_order) == text


@given(TEXT.filter(lambda t: len(t.encode()) > 2))
def test_strings_too_long_are_refused(text: str) -> None:
    with pytest.raises(CodecError, match="does not fit"):
        codec.encode(text, "string", length=len(text.encode()) // 2 - 1 or 1)


@given(st.integers(0, 0xFFFF), st.integers(0, 15), st.booleans())
def test_bit_in_word(register: int, bit: int, on: bool) -> None:
    new = codec.set_bit(register, bit, on)
    assert 0 <= new <= 0xFFFF
    assert codec.get_bit(new, bit) is on
    others = [b for b in range(16) if b != bit]
    assert all(codec.get_bit(new, b) == codec.get_bit(register, b) for b in others)


@settings(max_examples=50)
@given(int_case(), ORDERS, ORDERS)
def test_point_codecs_follow_the_point(case: tuple[str, int], byte_order: str, word_order: str) -> None:
    dtype, value = case
    point = PointSpec(
        name="p",
        kind="analog",
        dtype=dtype,  # type: ignore[arg-type]
        scale=0.5,
        offset=3.0,
        modbus={"table": "holding", "address": 7, "byte_order": byte_order, "word_order": word_order},  # type: ignore[arg-type]
    )
    words = codec.encode_point(point, value)
    assert words == codec.encode(value, dtype, byte_order, word_order)
    assert codec.decode_point(point, words) == value
    # Scale and offset are the caller's: the codec works on raw values only.
    assert point.to_raw(point.to_engineering(value)) == pytest.approx(value, rel=1e-12, abs=1e-9)


def test_bit_points_and_errors() -> None:
    bit = PointSpec(name="b", kind="switch", dtype="bool", modbus={"table": "input", "address": 1, "bit": 9})  # type: ignore[arg-type]
    assert codec.decode_point(bit, [1 << 9]) is True
    assert codec.decode_point(bit, [0xFFFF ^ (1 << 9)]) is False
    with pytest.raises(CodecError, match="set_bit"):
        codec.encode_point(bit, True)
    no_address = PointSpec(name="n", kind="analog", dtype="int16")
    with pytest.raises(CodecError, match="no modbus address"):
        codec.encode_point(no_address, 1)
    with pytest.raises(CodecError, match="no modbus address"):
        codec.decode_point(no_address, [1])
    with pytest.raises(CodecError, match="unknown dtype"):
        codec.encode(1, "int128")
    with pytest.raises(CodecError, match="needs 2 registers"):
        codec.decode([1], "float32")
    with pytest.raises(CodecError, match="cannot encode text"):
        codec.encode("12", "int16")
    with pytest.raises(CodecError, match="needs a length"):
        codec.encode("x", "string")


def test_float32_overflow_is_a_codec_error() -> None:
    with pytest.raises(CodecError):
        codec.encode(1e39, "float32")


def test_string_keeps_its_trailing_spaces() -> None:
    assert codec.decode(codec.encode("ab ", "string", length=2), "string") == "ab "


def test_bool_without_registers_is_a_codec_error() -> None:
    with pytest.raises(CodecError):
        codec.decode([], "bool")


def test_float32_values_that_fit_do_not_overflow() -> None:
    top = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
    assert codec.decode(codec.encode(top, "float32"), "float32") == top
    assert (
        codec.decode(codec.encode(-top, "float32", "little", "little"), "float32", "little", "little") == -top
    )
