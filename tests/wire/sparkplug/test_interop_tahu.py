"""Cross-decode with Eclipse Tahu's JavaScript codec (npm sparkplug-payload), an implementation this
project did not write: Tahu decodes what we encode, we decode what Tahu encodes, metric by metric
for every datatype. Where Tahu reads or writes differently, the difference is asserted exactly as
observed (so a change on either side shows) and explained in TAHU_DIFFERS.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.wire.sparkplug import interop, samples
from wire import WireError
from wire import sparkplug as sp
from wire.sparkplug import DataSet, DataType, Metric, Payload
from wire.sparkplug._generated import sparkplug_b_pb2 as pb
from wire.sparkplug.datatypes import ARRAY_TYPES

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "sparkplug"
ARRAYS = {name for name, datatype, _ in samples.EVERY_TYPE if datatype in ARRAY_TYPES}
TAHU_DIFFERS = {
    "uint32": "reads UInt32 only from long_value, so the specification's int_value comes back null",
    "dataset": "throws on DataSet columns of Int8/16/32, UInt8/16/32/64, DateTime ('Invalid DataSetValue')",
    **{
        name: "has no array datatypes: it decodes neither type nor value, and encodes datatype 0 (Unknown) "
        "without a value, which we refuse"
        for name in ARRAYS
    },
}
# A DataSet of the column types Tahu's decoder does handle.
TAHU_DATASET = Metric(
    DataType.DATASET,
    DataSet(
        ("w", "ok", "label", "n"),
        (DataType.DOUBLE, DataType.BOOLEAN, DataType.STRING, DataType.INT64),
        ((0.5, True, "a", 7), (-1.25, False, "b", 9_000_000_000)),
    ),
    name="dataset_tahu_types",
    alias=98,
    timestamp=samples.T0,
)
BIRTH_METRICS = {m.name: m for m in (*samples.DBIRTH.metrics, TAHU_DATASET)}


def single(metric: Metric) -> Payload:
    return Payload(timestamp=samples.T0, metrics=(metric,), seq=1)


def test_tahu_decodes_every_datatype_we_encode() -> None:
    cases = [
        {"id": name, "b64": interop.b64(sp.encode_payload(single(m)))} for name, m in BIRTH_METRICS.items()
    ]
    results = interop.tahu("decode", cases)
    for name, metric in BIRTH_METRICS.items():
        result = results[name]
        if name == "dataset":
            assert not result["ok"] and "Invalid DataSetValue" in result["error"], result
            continue
        assert result["ok"], result
        decoded = interop.from_tahu_payload(result["payload"])
        if name == "uint32":
            expected = Metric(DataType.UINT32, None, name=name, alias=metric.alias, timestamp=samples.T0)
            assert decoded.metrics[0] == expected
        elif name in ARRAYS:
            assert (decoded.metrics[0].datatype, decoded.metrics[0].value) == (DataType.UNKNOWN, None)
        else:
            assert decoded == single(metric), name


@pytest.mark.parametrize("golden", ["nbirth.bin", "ndeath.bin", "ddeath.bin"])
def test_tahu_decodes_our_golden_node_messages(golden: str) -> None:
    data = (GOLDEN / golden).read_bytes()
    results = interop.tahu("decode", [{"id": golden, "b64": interop.b64(data)}])
    assert results[golden]["ok"], results[golden]
    assert interop.from_tahu_payload(results[golden]["payload"]) == sp.decode_payload(data)


def test_we_decode_every_datatype_tahu_encodes() -> None:
    cases = [{"id": name, "payload": interop.to_tahu_payload(single(m))} for name, m in BIRTH_METRICS.items()]
    results = interop.tahu("encode", cases)
    for name, metric in BIRTH_METRICS.items():
        assert results[name]["ok"], results[name]
        data = interop.unb64(results[name]["b64"])
        if name in ARRAYS:
            assert pb.Payload.FromString(data).metrics[0].datatype == DataType.UNKNOWN
            with pytest.raises(WireError, match="datatype Unknown"):
                sp.decode_payload(data)
        else:
            assert sp.decode_payload(data) == single(metric), name


def test_tahu_writes_the_integer_forms_we_must_read() -> None:
    metrics = (Metric(DataType.INT8, -5, name="i8"), Metric(DataType.UINT32, 4_000_000_000, name="u32"))
    payload = Payload(timestamp=samples.T0, metrics=metrics, seq=0)
    results = interop.tahu("encode", [{"id": "traps", "payload": interop.to_tahu_payload(payload)}])
    data = interop.unb64(results["traps"]["b64"])
    wire_metrics = pb.Payload.FromString(data).metrics
    assert (wire_metrics[0].WhichOneof("value"), wire_metrics[0].int_value) == ("int_value", 4294967291)
    assert (wire_metrics[1].WhichOneof("value"), wire_metrics[1].long_value) == ("long_value", 4_000_000_000)
    assert sp.decode_payload(data) == payload


def test_tahu_reads_narrow_twos_complement_as_a_positive_number() -> None:
    """The 8-bit form (Int8 −5 as 251, written by Tahu Python and pysparkplug) is lost on Tahu JS."""
    message = pb.Payload(timestamp=1, seq=0)
    message.metrics.add(name="i8", datatype=DataType.INT8, int_value=251)
    results = interop.tahu("decode", [{"id": "narrow", "b64": interop.b64(message.SerializeToString())}])
    assert results["narrow"]["payload"]["metrics"][0]["value"] == 251
    assert sp.decode_payload(message.SerializeToString()).metrics[0].value == -5


def test_the_differences_are_documented() -> None:
    assert set(TAHU_DIFFERS) == {"uint32", "dataset"} | ARRAYS
    assert interop.tahu_version() == "1.0.3"
