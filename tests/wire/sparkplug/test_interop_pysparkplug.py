"""Cross-decode with pysparkplug (PyPI), a second implementation this project did not write, run in
its own venv. It has no DataSet, Template or property support; within what it has, every difference
is asserted exactly as observed and explained in PYSPARKPLUG_DIFFERS.
"""

from __future__ import annotations

from tests.wire.sparkplug import interop, samples
from wire import sparkplug as sp
from wire.sparkplug import DataType, Metric, Payload
from wire.sparkplug._generated import sparkplug_b_pb2 as pb

PYSPARKPLUG_DIFFERS = {
    "int8": "reads signed integers only in their own width (Int8 −5 as 251); the 32-bit form: OverflowError",
    "int16": "the same for Int16 (Int32's two forms coincide, so Int32 reads fine)",
    "dataset": "DataSet is not implemented (NotImplementedError)",
    "template": "Template is not implemented (NotImplementedError)",
}
SUPPORTED = [
    Metric(t, v, name=n, alias=samples.ALIAS[n], timestamp=samples.T0) for n, t, v in samples.EVERY_TYPE
]


def single(metric: Metric) -> Payload:
    return Payload(timestamp=samples.T0, metrics=(metric,), seq=1)


def test_pysparkplug_decodes_what_we_encode() -> None:
    cases = [{"id": m.name, "b64": interop.b64(sp.encode_payload(single(m)))} for m in SUPPORTED]
    results = interop.pysparkplug("decode", cases)
    for metric in SUPPORTED:
        result = results[metric.name]
        if metric.name in ("int8", "int16"):
            assert not result["ok"] and result["error"].startswith("OverflowError"), result
        elif metric.name in ("dataset", "template"):
            assert not result["ok"] and result["error"].startswith("NotImplementedError"), result
        else:
            assert result["ok"], result
            assert (result["timestamp"], result["seq"]) == (samples.T0, 1)
            assert interop.from_pysparkplug_metric(result["metrics"][0]) == metric


def test_we_decode_what_pysparkplug_encodes() -> None:
    metrics = [m for m in SUPPORTED if m.datatype not in (DataType.DATASET, DataType.TEMPLATE)]
    cases = [
        {"id": m.name, "timestamp": samples.T0, "seq": 1, "metrics": [interop.to_pysparkplug_metric(m)]}
        for m in metrics
    ]
    results = interop.pysparkplug("encode", cases)
    for metric in metrics:
        assert results[metric.name]["ok"], results[metric.name]
        assert sp.decode_payload(interop.unb64(results[metric.name]["b64"])) == single(metric), metric.name


def test_pysparkplug_writes_the_narrow_signed_form() -> None:
    metrics = [m for m in SUPPORTED if m.name in ("int8", "int16", "uint32")]
    cases = [
        {
            "id": "forms",
            "timestamp": 1,
            "seq": 0,
            "metrics": [interop.to_pysparkplug_metric(m) for m in metrics],
        }
    ]
    data = interop.unb64(interop.pysparkplug("encode", cases)["forms"]["b64"])
    raw = [(m.WhichOneof("value"), m.int_value) for m in pb.Payload.FromString(data).metrics]
    assert raw == [("int_value", 251), ("int_value", 35536), ("int_value", 4294967295)]
    assert [m.value for m in sp.decode_payload(data).metrics] == [-5, -30000, 4294967295]


def test_the_differences_are_documented() -> None:
    assert set(PYSPARKPLUG_DIFFERS) == {"int8", "int16", "dataset", "template"}
