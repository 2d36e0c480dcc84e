"""Property tests of the pure Modbus request planner."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.errors import ConfigError
from adapters.modbus import codec
from adapters.modbus.address import REGISTERS_PER_DTYPE, modbus_of
from adapters.modbus.planner import (
    BIT_TABLES,
    MAX_BITS,
    MAX_REGISTERS,
    ReadRequest,
    decode_request,
    plan_reads,
    requests_per_cycle,
    span,
)
from devicemodel.devicetype import PointSpec
from tests.adapters.devices import ALL_DTYPES, CNC, device_type


@st.composite
def point(draw: st.DrawFn, index: int, address_max: int) -> PointSpec:
    table = draw(st.sampled_from(["holding", "input", "coil", "discrete"]))
    address = draw(st.integers(0, address_max))
    modbus: dict[str, Any] = {"table": table, "address": address}
    if table in BIT_TABLES:
        dtype = "bool"
    else:
        dtype = draw(st.sampled_from([*REGISTERS_PER_DTYPE, "string"]))
        if dtype == "bool":
            modbus["bit"] = draw(st.integers(0, 15))
        if dtype == "string":
            modbus["length"] = draw(st.integers(1, 125))
    return PointSpec(name=f"p{index}", kind="analog", dtype=dtype, modbus=modbus)  # type: ignore[arg-type]


@st.composite
def points(draw: st.DrawFn) -> list[PointSpec]:
    address_max = draw(st.sampled_from([40, 400, 5000]))
    n = draw(st.integers(1, 60))
    return [draw(point(i, address_max)) for i in range(n)]


LIMITS = st.fixed_dictionaries(
    {
        "max_gap": st.integers(0, 130),
        "max_registers": st.sampled_from([125, 125, 64, 16]),
        "max_bits": st.sampled_from([2000, 2000, 256, 8]),
    }
)


def _fits(p: PointSpec, limits: dict[str, int]) -> bool:
    start, end = span(p)
    assert modbus_of(p) is not None
    return end - start <= (
        limits["max_bits"] if modbus_of(p).table in BIT_TABLES else limits["max_registers"]
    )


@settings(max_examples=150, deadline=None)
@given(points(), LIMITS)
def test_plan_covers_every_point_once_within_limits(pts: list[PointSpec], limits: dict[str, int]) -> None:
    pts = [p for p in pts if _fits(p, limits)]
    plan = plan_reads(pts, **limits)
    by_name = {p.name: p for p in pts}
    seen = Counter(n for r in plan for n in r.points)
    assert seen == Counter(list(by_name))  # every point exactly once
    for r in plan:
        assert r.count >= 1
        assert r.count <= (
            min(MAX_BITS, limits["max_bits"]) if r.table in BIT_TABLES else limits["max_registers"]
        )
        assert r.count <= (MAX_BITS if r.table in BIT_TABLES else MAX_REGISTERS)
        spans = sorted(span(by_name[n]) for n in r.points)
        assert all(by_name[n].modbus.table == r.table for n in r.points)  # type: ignore[union-attr]
        assert spans[0][0] == r.start and max(e for _, e in spans) == r.end  # no wasted edges
        covered_to = spans[0][1]
        for s, e in spans[1:]:
            assert s - covered_to <= limits["max_gap"]  # registers read for nothing
            covered_to = max(covered_to, e)
    # Greedy is maximal: a request could not have taken the next one's first point.
    for a, b in itertools.pairwise(plan):
        if a.table == b.table:
            first = min(span(by_name[n]) for n in b.points)
            limit = limits["max_bits"] if a.table in BIT_TABLES else limits["max_registers"]
            assert first[0] - a.end > limits["max_gap"] or max(a.end, first[1]) - a.start > limit


@given(points())
def test_opt_out_gives_one_request_per_point(pts: list[PointSpec]) -> None:
    plan = plan_reads(pts, per_point=True)
    assert len(plan) == len(pts)
    for r in plan:
        assert len(r.points) == 1
        p = next(p for p in pts if p.name == r.points[0])
        assert (r.start, r.end) == span(p)


def test_cnc_machine_coalescing() -> None:
    """cnc_machine.yaml: 9 points in 2 reads (holding 0-10 and input 0-5)."""
    dt = device_type(CNC)
    assert requests_per_cycle(dt.points) == (9, 2)
    plan = plan_reads(dt.points)
    assert [(r.table, r.start, r.count) for r in plan] == [("holding", 0, 11), ("input", 0, 6)]
    assert requests_per_cycle(dt.points, max_gap=0) == (9, 3)  # the 6-register hole before feed_override


def test_all_dtypes_coalescing_and_decode() -> None:
    dt = device_type(ALL_DTYPES)
    plain, merged = requests_per_cycle(dt.points)
    assert (plain, merged) == (len(dt.points), 8)
    # decode_request slices the right registers: build a register image from known values.
    values = {"i16": -5, "i32_cdab": -123456, "f64_cdab": 2.5, "run_bit": True, "fault_bit": False}
    image = [0] * 600
    for name, value in values.items():
        p = dt.point(name)
        assert modbus_of(p) is not None
        if modbus_of(p).bit is not None:
            image[modbus_of(p).address] = codec.set_bit(
                image[modbus_of(p).address], modbus_of(p).bit, bool(value)
            )
        else:
            words = codec.encode_point(p, value)
            image[modbus_of(p).address : modbus_of(p).address + len(words)] = words
    got: dict[str, object] = {}
    for r in plan_reads(dt.points):
        if r.table == "holding":
            got.update(decode_request(r, image[r.start : r.end], dt.by_name))
    assert {k: got[k] for k in values} == values


def test_plan_errors() -> None:
    big = PointSpec(
        name="s", kind="analog", dtype="string", modbus={"table": "holding", "address": 0, "length": 100}
    )  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="more than one read"):
        plan_reads([big], max_registers=64)
    with pytest.raises(ConfigError, match="no modbus address"):
        plan_reads([PointSpec(name="x", kind="analog", dtype="int16")])
    with pytest.raises(ConfigError, match="invalid limits"):
        plan_reads([big], max_registers=126)
    past = PointSpec(name="f", kind="analog", dtype="float64", modbus={"table": "input", "address": 65534})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="past address"):
        plan_reads([past])
    assert plan_reads([]) == ()
    assert isinstance(plan_reads([big])[0], ReadRequest)
