"""Property-based fuzzing with a fixed budget (deterministic: derandomized, no example database).

Whatever the input, the wire decoder raises only WireError, the topic parser only WireError, the
collector's message parser only RejectedError (its identity probe nothing), and the importer's row
parser only ImportFileError. What decodes round-trips.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wire
from collector.decode import Limits, RejectedError, identify, parse
from collector.importer import ImportDevice, ImportFileError, validate

GOLDEN = Path(__file__).resolve().parent / "golden" / "wire" / "v1"
GOLDEN_FILES = {p.stem: p.read_bytes() for p in sorted(GOLDEN.glob("*.json")) if p.stem != "digests"}
KIND_OF = {"data": "data", "birth": "birth", "death": "death", "cmd": "cmd", "cmd_res": "cmd/res"}
BUDGET = settings(
    max_examples=200, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@st.composite
def nested(draw: st.DrawFn) -> str:
    """JSON text nested up to several thousand levels deep (arrays, objects or both)."""
    depth = draw(st.integers(1, 5000))
    opening, closing = draw(st.sampled_from([("[", "]"), ('{"k":', "}"), ('[{"k":', "}]")]))
    return opening * depth + json.dumps(draw(json_scalars)) + closing * depth


@st.composite
def envelope_like(draw: st.DrawFn) -> bytes:
    """A golden envelope with fields replaced, removed or added."""
    doc = json.loads(GOLDEN_FILES[draw(st.sampled_from(sorted(GOLDEN_FILES)))])
    deep = None
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["replace", "remove", "add", "deep"]))
        keys = sorted(doc)
        if action == "replace" and keys:
            doc[draw(st.sampled_from(keys))] = draw(json_values)
        elif action == "remove" and keys:
            doc.pop(draw(st.sampled_from(keys)))
        elif action == "add":
            doc[draw(st.text(max_size=10))] = draw(json_values)
        elif keys:
            deep = draw(nested())
            doc[draw(st.sampled_from(keys))] = "<deep>"
    text = json.dumps(doc)
    return (text.replace('"<deep>"', deep) if deep is not None else text).encode()


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    """A golden file with bytes flipped, cut or inserted."""
    data = bytearray(GOLDEN_FILES[draw(st.sampled_from(sorted(GOLDEN_FILES)))])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
    return bytes(data)


payloads = st.binary(max_size=300) | envelope_like() | mutated_bytes()
kinds = st.sampled_from(["data", "birth", "death", "cmd", "cmd/res", "$status", "$stored", "$dropped", "x"])


def _roundtrips(envelope: wire.Envelope) -> None:
    assert wire.decode(wire.encode(envelope)) == envelope


@BUDGET
@given(payloads)
def test_the_wire_decoder_raises_only_wire_error(payload: bytes) -> None:
    try:
        envelope = wire.decode(payload)
    except wire.WireError:
        return
    _roundtrips(envelope)


@BUDGET
@given(kinds, payloads)
def test_decoding_for_a_topic_kind_raises_only_wire_error(kind: str, payload: bytes) -> None:
    for decoder in (lambda p: wire.decode_as(kind, p), wire.decode_stored, wire.decode_dropped):
        with contextlib.suppress(wire.WireError):
            decoder(payload)


topic_parts = st.sampled_from(
    ["pp", "v1", "s1", "gw1", "m1", "data", "cmd", "res", "$status", "$stored", "", "+", "#"]
)
topics = st.lists(topic_parts | st.text(max_size=12), max_size=8).map("/".join) | st.text(max_size=80)


@BUDGET
@given(topics)
def test_the_topic_parser_raises_only_wire_error(topic: str) -> None:
    try:
        parsed = wire.parse_topic(topic)
    except wire.WireError:
        return
    assert str(parsed) == topic


@BUDGET
@given(topics | st.builds(lambda k: f"pp/v1/s1/gw-line1/cnc-01/{k}", kinds), payloads)
def test_the_collectors_parser_raises_only_rejected_error(topic: str, payload: bytes) -> None:
    identify(topic, payload)  # never raises
    with contextlib.suppress(RejectedError):
        parse(topic, payload, Limits())


DEVICES = {
    "m1": ImportDevice(
        wire.DeviceInfo("cnc_machine", "C34", "discrete"),
        [
            wire.PointInfo("temp", "analog", "float64"),
            wire.PointInfo("state", "state", "uint16"),
            wire.PointInfo("door", "switch", "bool"),
            wire.PointInfo("program", "analog", "string"),
        ],
        {"state": {1: "running", 2: "idle"}},
    )
}
cells = st.sampled_from(
    ["m1", "temp", "state", "door", "program", "1", "2", "", "nan", "1e999", "true"]
) | st.text(max_size=12)
rows = st.lists(st.lists(cells, max_size=7).map(",".join), max_size=6)
headers = st.sampled_from(["time,device,point,value,quality", "time,device,point,value", "device,value", ""])


@BUDGET
@given(headers, rows, st.binary(max_size=40))
def test_the_importers_row_parser_raises_only_import_file_error(
    header: str, body: list[str], junk: bytes
) -> None:
    raw = "\n".join([header, *body]).encode() + junk
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(raw)
        with contextlib.suppress(ImportFileError):
            found, _ = validate(path, DEVICES, (0, 2**63 - 1), "refuse")
            found.report()  # every problem described, whatever the row


def test_a_thousand_deep_command_is_refused_by_every_decoder_that_meets_it() -> None:
    deep = b"[" * 1000 + b"]" * 1000
    cmd = (
        b'{"schema":"plantproof.cmd/1","id":"r1","dev":"m1","op":"ping","sent":1,"args":{"x":' + deep + b"}}"
    )
    res = (
        b'{"schema":"plantproof.cmdres/1","id":"r1","gw":"g","dev":"m1","ok":true,"sent":1,"result":{"x":'
        + deep
        + b"}}"
    )
    for kind, payload in (("cmd", cmd), ("cmd/res", res)):
        try:
            wire.decode_as(kind, payload)
        except wire.WireError as exc:
            assert "nesting deeper than" in str(exc)
        else:
            raise AssertionError(f"a {kind} nested 1000 deep was accepted")
    shallow = (
        b'{"schema":"plantproof.cmd/1","id":"r1","dev":"m1","op":"ping","sent":1,"args":{"x":'
        + b"[" * 17
        + b"]" * 17
        + b"}}"
    )
    try:
        wire.decode_as("cmd", shallow)
    except wire.WireError as exc:
        assert exc.field == "$.args"
    else:
        raise AssertionError("17 levels are beyond the cap of 16")


def test_the_management_client_counts_a_thousand_deep_answer_as_invalid() -> None:
    from collector.management import ManagementClient

    client = ManagementClient("mqtt://127.0.0.1:1")  # never connected: only its message handler runs
    deep = b"[" * 1000 + b"]" * 1000
    payload = (
        b'{"schema":"plantproof.cmdres/1","id":"r1","gw":"gw1","dev":"m1","ok":true,"sent":1,"result":{"x":'
        + deep
        + b"}}"
    )
    client._on_message("pp/v1/s1/gw1/m1/cmd/res", payload)
    assert (client.stats.invalid, client.stats.answered) == (1, 0)
