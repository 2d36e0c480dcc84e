"""Device-type YAML: the shipped files validate; errors name file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from adapters.devicetype import CanonicalState, load_device_type
from adapters.errors import ConfigError
from wire.states import CANONICAL_STATES

CNC = Path(__file__).resolve().parent.parent / "configs" / "devices" / "cnc_machine.yaml"
DEVICES = sorted((Path(__file__).resolve().parent.parent / "configs" / "devices").glob("*.yaml"))


def test_adapter_state_vocabulary_equals_the_wire_contract() -> None:
    assert get_args(CanonicalState) == CANONICAL_STATES


@pytest.mark.parametrize("path", DEVICES, ids=lambda p: p.name)
def test_shipped_device_types_validate(path: Path) -> None:
    dt = load_device_type(path)
    assert dt.points
    for p in dt.points:
        assert p.modbus is not None or p.opcua is not None


def test_error_names_file_line_and_field(tmp_path: Path) -> None:
    text = CNC.read_text().replace("dtype: float32", "dtype: float33", 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_device_type(bad)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "float33" in ln)
    assert err.value.file == str(bad)
    assert err.value.line == line
    assert err.value.field is not None and err.value.field.endswith(".dtype")


def test_overlapping_registers_are_refused(tmp_path: Path) -> None:
    text = CNC.read_text().replace("address: 3, word_order", "address: 2, word_order", 1)
    bad = tmp_path / "overlap.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match="overlap"):
        load_device_type(bad)
