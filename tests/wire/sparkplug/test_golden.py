"""Golden Sparkplug B messages: their bytes are pinned by SHA-256 and must decode forever.

Ours (`nbirth.bin` ... `state.json`) were written by this codec from tests/wire/sparkplug/samples.py;
`tahu_js_*.bin` and `pysparkplug_*.bin` were written by those implementations (see README.md there) and
keep their integer encodings in the suite even where node or the pysparkplug venv are missing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.wire.sparkplug import samples
from wire import sparkplug as sp
from wire.sparkplug import DataType, Payload
from wire.sparkplug._generated import sparkplug_b_pb2 as pb

GOLDEN = Path(__file__).resolve().parent.parent.parent / "golden" / "sparkplug"
DIGESTS: dict[str, str] = json.loads((GOLDEN / "digests.json").read_text())
OURS: dict[str, tuple[Payload | sp.HostState, bool]] = {
    "nbirth.bin": (samples.NBIRTH, True),
    "dbirth.bin": (samples.DBIRTH, True),
    "ddata.bin": (samples.DDATA, False),
    "ndeath.bin": (samples.NDEATH, True),
    "ddeath.bin": (samples.DDEATH, True),
    "state.json": (samples.STATE_ONLINE, True),
}


def test_every_golden_file_is_pinned() -> None:
    on_disk = {p.name for p in GOLDEN.iterdir() if p.suffix in (".bin", ".json") and p.name != "digests.json"}
    assert on_disk == set(DIGESTS)
    assert set(OURS) <= on_disk


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_golden_bytes_match_their_pinned_digest(name: str) -> None:
    assert hashlib.sha256((GOLDEN / name).read_bytes()).hexdigest() == DIGESTS[name]


@pytest.mark.parametrize("name", sorted(OURS))
def test_our_golden_messages_decode_to_the_samples_and_encode_back(name: str) -> None:
    data = (GOLDEN / name).read_bytes()
    expected, with_datatypes = OURS[name]
    if isinstance(expected, sp.HostState):
        assert sp.decode_state(data) == expected
        assert sp.encode_state(expected) == data
        return
    datatypes = None if with_datatypes else samples.BIRTH_DATATYPES
    assert sp.decode_payload(data, datatypes=datatypes) == expected
    assert sp.encode_payload(expected, with_datatypes=with_datatypes) == data


def test_the_golden_birth_holds_the_spec_wire_forms() -> None:
    message = pb.Payload.FromString((GOLDEN / "dbirth.bin").read_bytes())
    by_name = {m.name: m for m in message.metrics}
    assert by_name["int8"].int_value == 4294967291  # Int8 −5
    assert by_name["uint32"].WhichOneof("value") == "int_value"
    assert by_name["int64"].long_value == 2**63  # Int64 −2^63
    ddata = pb.Payload.FromString((GOLDEN / "ddata.bin").read_bytes())
    assert not any(m.HasField("datatype") or m.HasField("name") for m in ddata.metrics)


def test_the_golden_nbirth_and_ndeath_pair_by_bdseq() -> None:
    birth = sp.decode_payload((GOLDEN / "nbirth.bin").read_bytes())
    death = sp.decode_payload((GOLDEN / "ndeath.bin").read_bytes())
    assert birth.seq == 0 and death.seq is None
    assert sp.bdseq_of(birth) == sp.bdseq_of(death) == samples.BDSEQ
    rebirth = next(m for m in birth.metrics if m.name == sp.REBIRTH)
    assert (rebirth.datatype, rebirth.value, rebirth.alias) == (DataType.BOOLEAN, False, None)


FOREIGN = sorted(n for n in DIGESTS if n not in OURS)


@pytest.mark.parametrize("name", FOREIGN)
def test_foreign_golden_messages_decode_to_the_samples(name: str) -> None:
    """Written by another implementation from the samples' scalar, bytes and array metrics."""
    decoded = sp.decode_payload((GOLDEN / name).read_bytes())
    expected = {n: (t, v) for n, t, v in samples.EVERY_TYPE}
    assert decoded.metrics, name
    for metric in decoded.metrics:
        assert metric.name is not None
        assert (metric.datatype, metric.value) == expected[metric.name], metric.name
