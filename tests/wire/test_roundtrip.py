"""Property tests: encode/decode round trips; malformed input is rejected without crashing."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wire
from wire.states import CANONICAL_STATES

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,20}\Z")
names = st.from_regex(r"\A[a-z][a-z0-9_.]{0,30}\Z")
nanos = st.integers(min_value=0, max_value=2**63 - 1)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(CANONICAL_STATES),
)
samples = st.tuples(names, nanos, values, st.integers(min_value=0, max_value=2))
data_envelopes = st.builds(
    wire.Data, gw=ids, dev=ids, seq=nanos, sent=nanos, samples=st.lists(samples, min_size=1, max_size=20)
)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


@given(data_envelopes)
def test_data_round_trip(env: wire.Data) -> None:
    back = wire.decode(wire.encode(env))
    assert isinstance(back, wire.Data)
    assert (back.gw, back.dev, back.seq, back.sent) == (env.gw, env.dev, env.seq, env.sent)
    for got, want in zip(back.samples, env.samples, strict=True):
        assert all(_same(g, w) for g, w in zip(got, want, strict=True))
    assert wire.digest(back) == wire.digest(env)


@given(data_envelopes)
def test_canonical_bytes_are_key_order_independent(env: wire.Data) -> None:
    import json

    shuffled = json.dumps(dict(reversed(list(__import__("msgspec").to_builtins(env).items()))))
    assert wire.digest(wire.decode(shuffled.encode())) == wire.digest(env)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(payload: bytes) -> None:
    try:
        wire.decode(payload)
    except wire.WireError as exc:
        assert exc.field is not None


@settings(max_examples=300)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_random_json_never_crashes(doc: object) -> None:
    import json

    with contextlib.suppress(wire.WireError):
        wire.decode(json.dumps(doc).encode())


@given(st.sampled_from(["data", "birth", "death", "cmd", "cmd/res"]), ids, ids, ids)
def test_topic_round_trip(kind: str, site: str, gw: str, dev: str) -> None:
    topic = wire.device_topic(site, gw, dev, kind)  # type: ignore[arg-type]
    parsed = wire.parse_topic(topic)
    assert (parsed.site, parsed.gateway, parsed.device, parsed.kind) == (site, gw, dev, kind)
    assert str(parsed) == topic


def test_status_topic_and_bad_topics() -> None:
    t = wire.parse_topic(wire.status_topic("plant-a", "gw1"))
    assert t.kind == "$status" and t.device is None
    for bad in ["pp/v2/a/b/c/data", "pp/v1/a/b/c/nope", "pp/v1/a/b", "pp/v1/a/b+/c/data", "x"]:
        try:
            wire.parse_topic(bad)
        except wire.WireError as exc:
            assert exc.field
        else:
            raise AssertionError(f"{bad} accepted")


@pytest.mark.parametrize(
    "tail",
    [b"{", b'["x", 1, 1.0, 0]', b"[" * 5000 + b"]" * 5000],
    ids=["truncated", "unterminated", "deep"],
)
def test_a_status_sample_followed_by_broken_json_is_a_wire_error(tail: bytes) -> None:
    # The strict decoder stops at the five-element sample; the rest is first read on the second pass.
    head = b'{"schema":"plantproof.data/1","gw":"g","dev":"d","seq":1,"sent":1,"samples":[["a",1,null,2,5],'
    with pytest.raises(wire.WireError):
        wire.decode(head + tail)
