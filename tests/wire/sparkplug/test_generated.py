"""The generated protobuf module belongs to the committed .proto, and the codec stays pure."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.test_layering import IMPURE, ROOT, imported_modules
from wire.sparkplug._generated import sparkplug_b_pb2 as pb

SPARKPLUG = ROOT / "wire" / "sparkplug"


def test_generated_module_was_made_from_the_committed_proto() -> None:
    recorded = (SPARKPLUG / "_generated" / "SOURCE.sha256").read_text().strip()
    actual = hashlib.sha256((SPARKPLUG / "sparkplug_b.proto").read_bytes()).hexdigest()
    assert recorded == actual, "sparkplug_b.proto changed: run scripts/gen-sparkplug-proto.sh"


def test_schema_field_numbers_are_the_specifications() -> None:
    metric = pb.Payload.Metric.DESCRIPTOR.fields_by_name
    numbers = {name: metric[name].number for name in ("name", "alias", "timestamp", "datatype", "is_null")}
    assert numbers == {"name": 1, "alias": 2, "timestamp": 3, "datatype": 4, "is_null": 7}
    assert [f.number for f in pb.Payload.Metric.DESCRIPTOR.oneofs_by_name["value"].fields] == list(
        range(10, 20)
    )
    assert pb.Payload.DESCRIPTOR.fields_by_name["seq"].number == 3
    assert pb.DataType.Value("DateTimeArray") == 34


@pytest.mark.parametrize("path", sorted(p for p in SPARKPLUG.glob("*.py")), ids=lambda p: p.name)
def test_codec_modules_do_no_io(path: Path) -> None:
    assert sorted(n for n in imported_modules(path) if n.split(".")[0] in IMPURE) == []
