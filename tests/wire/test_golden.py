"""Golden files: every v1 message must decode forever, to the same canonical digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import wire

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "wire"
V1 = sorted(p for p in (GOLDEN / "v1").glob("*.json") if p.name != "digests.json")
DIGESTS = json.loads((GOLDEN / "v1" / "digests.json").read_text())
KIND_OF = {
    "data.json": "data",
    "data_status.json": "data",
    "birth.json": "birth",
    "death.json": "death",
    "cmd.json": "cmd",
    "cmd_res.json": "cmd/res",
}


def test_every_golden_file_has_a_pinned_digest() -> None:
    assert {p.name for p in V1} == set(DIGESTS)
    assert len(V1) == 6


@pytest.mark.parametrize("path", V1, ids=lambda p: p.name)
def test_golden_decodes_to_its_pinned_digest(path: Path) -> None:
    envelope = wire.decode_as(KIND_OF[path.name], path.read_bytes())
    assert wire.digest(envelope) == DIGESTS[path.name]
    # Re-encoding and decoding again gives the same envelope.
    assert wire.decode(wire.encode(envelope)) == envelope


def test_golden_data_content() -> None:
    env = wire.decode((GOLDEN / "v1" / "data.json").read_bytes())
    assert isinstance(env, wire.Data)
    assert (env.gw, env.dev, env.seq) == ("gw-line1", "cnc-01", 41)
    assert env.samples[0] == ("state", 1780000000000000000, "running", 0)
    assert env.samples[4][2] is None and env.samples[4][3] == wire.QUALITY_BAD


def test_golden_data_with_status_codes() -> None:
    """The v1 extension: bad/uncertain samples may carry the source's status code as a fifth element."""
    env = wire.decode((GOLDEN / "v1" / "data_status.json").read_bytes())
    assert isinstance(env, wire.Data)
    assert env.samples[0] == ("state", 1780000001000000000, "running", 0)  # plain samples stay plain
    assert env.samples[1] == ("spindle_temp", 1780000001000000000, None, 2, 0x808C0000)  # BadSensorFailure
    assert env.samples[3] == ("energy", 1780000001000000000, 151.31, 1, 0x408F0000)
    assert wire.decode(wire.encode(env)) == env


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["samples"][0].append(5), "$.samples[0][4]"),  # a good sample carries none
        (lambda d: d["samples"][1].__setitem__(4, -1), "$.samples[1][4]"),
        (lambda d: d["samples"][1].__setitem__(4, 2**32), "$.samples[1][4]"),
        (lambda d: d["samples"][1].__setitem__(4, "BadSensorFailure"), "$.samples[1][4]"),
        (lambda d: d["samples"][2].__setitem__(3, 7), "$.samples[2][3]"),
        (lambda d: d["samples"][4].extend([1, 2]), "$.samples[4]"),
    ],
)
def test_corrupted_status_golden_is_rejected_naming_the_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads((GOLDEN / "v1" / "data_status.json").read_text())
    mutate(data)
    with pytest.raises(wire.WireError) as err:
        wire.decode(json.dumps(data).encode())
    assert err.value.field == field


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(seq=-3), "$.seq"),
        (lambda d: d.update(gw="bad/gw"), "$.gw"),
        (lambda d: d["samples"][2].__setitem__(3, 7), "$.samples[2][3]"),
        (lambda d: d["samples"][1].__setitem__(1, "yesterday"), "$.samples[1][1]"),
        (lambda d: d.pop("dev"), "$"),
        (lambda d: d.update(extra=1), "$"),
        (lambda d: d.update(schema="plantproof.data/9"), "$.schema"),
        (lambda d: d.update(samples=[]), "$.samples"),
    ],
)
def test_corrupted_golden_is_rejected_naming_the_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads((GOLDEN / "v1" / "data.json").read_text())
    mutate(data)
    with pytest.raises(wire.WireError) as err:
        wire.decode(json.dumps(data).encode())
    assert err.value.field == field
    if field == "$":  # missing/unknown fields are named in the message itself
        assert "dev" in str(err.value) or "extra" in str(err.value)


def test_byte_corruption_is_rejected() -> None:
    raw = bytearray((GOLDEN / "v1" / "birth.json").read_bytes())
    raw[raw.index(b'"sector"') + 12] ^= 0x20  # "discrete" -> "Discrete"
    with pytest.raises(wire.WireError) as err:
        wire.decode(bytes(raw))
    assert err.value.field == "$.device.sector"


def test_schema_must_match_topic_kind() -> None:
    with pytest.raises(wire.WireError, match="does not belong"):
        wire.decode_as("birth", (GOLDEN / "v1" / "data.json").read_bytes())
