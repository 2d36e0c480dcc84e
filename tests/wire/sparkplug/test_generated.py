"""The generated protobuf module belongs to the committed .proto, and the codec stays pure."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.layering_check import check_purity, load_tree
from wire.sparkplug._generated import sparkplug_b_pb2 as pb

ROOT = Path(__file__).resolve().parents[3]
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


@pytest.mark.parametrize("path", sorted(p for p in SPARKPLUG.rglob("*.py")), ids=lambda p: p.name)
def test_codec_modules_are_pure(path: Path) -> None:
    # Marked `# layering: pure` (the generator writes the marker into the protobuf module) and clean.
    rel = path.relative_to(ROOT).as_posix()
    assert [f.message for f in check_purity(load_tree(ROOT, ["wire"]), [rel], ROOT) if f.module == rel] == []
