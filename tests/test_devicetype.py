"""Device-type YAML: the shipped files validate; errors name file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

import wire.envelope
import wire.states
from adapters.modbus.address import ModbusAddress
from adapters.opcua.address import OpcUaAddress
from devicemodel import devicetype
from devicemodel.errors import ConfigError
from devicemodel.loader import load_device_type

CNC = Path(__file__).resolve().parent.parent / "configs" / "devices" / "cnc_machine.yaml"
DEVICES = sorted((Path(__file__).resolve().parent.parent / "configs" / "devices").glob("*.yaml"))


def test_the_vocabularies_are_the_wire_contract_s() -> None:
    assert devicetype.CanonicalState is wire.states.CanonicalState
    assert get_args(wire.states.CanonicalState) == wire.states.CANONICAL_STATES
    assert (devicetype.PointKind, devicetype.DType) == (wire.envelope.PointKind, wire.envelope.DType)


@pytest.mark.parametrize("path", DEVICES, ids=lambda p: p.name)
def test_shipped_device_types_validate(path: Path) -> None:
    dt = load_device_type(path)
    assert dt.points
    for p in dt.points:
        assert p.address(ModbusAddress) is not None or p.address(OpcUaAddress) is not None


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


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_an_address_error_names_the_line_and_the_field_inside_the_section(tmp_path: Path) -> None:
    text = CNC.read_text().replace("{table: holding, address: 1,", "{table: holdng, address: 1,", 1)
    bad = tmp_path / "table.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_device_type(bad)
    assert err.value.line == _line_of(text, "holdng")
    assert err.value.field is not None and err.value.field.endswith(".modbus.table")


def test_a_protocol_check_of_a_point_names_its_section(tmp_path: Path) -> None:
    # the modbus hook refuses a bit in a non-bool point; reported at the point's modbus line
    text = CNC.read_text().replace("{table: holding, address: 0}", "{table: holding, address: 0, bit: 3}", 1)
    bad = tmp_path / "bit.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match="'bit' is only for dtype bool") as err:
        load_device_type(bad)
    assert err.value.line == _line_of(text, "bit: 3")
    assert err.value.field is not None and err.value.field.endswith(".modbus")


def test_a_section_no_protocol_registered_is_refused_when_checked_kept_when_unchecked(tmp_path: Path) -> None:
    text = CNC.read_text().replace(
        "{table: holding, address: 0}", "{table: holding, address: 0}\n    bacnet: {instance: 7}", 1
    )
    other = tmp_path / "bacnet.yaml"
    other.write_text(text)
    with pytest.raises(ConfigError, match="unknown field or address section") as err:
        load_device_type(other)
    assert err.value.line == _line_of(text, "bacnet")
    dt = load_device_type(other, addresses="unchecked")
    first = dt.points[0]
    assert first.address_sections()["bacnet"] == {"instance": 7}
    assert first.address(ModbusAddress) is None  # unchecked: plain data, not the adapter's model


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("range: [5, 1]", "range must be [low, high] with low < high"),
        ("range: [0, .inf]", "range must be [low, high] with low < high"),
        ("max_rate_per_s: 0", "greater than 0"),
        ("stuck_after_s: -5", "greater than 0"),
        ("range: [zero, 1]", "valid number"),
    ],
)
def test_a_bad_quality_rule_names_its_line_and_field(tmp_path: Path, rule: str, message: str) -> None:
    text = CNC.read_text().replace("    range: [-20, 120]\n    max_rate_per_s: 5\n", f"    {rule}\n", 1)
    bad = tmp_path / "rule.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        load_device_type(bad)
    assert err.value.line == _line_of(text, rule)
    assert err.value.field is not None and err.value.field.startswith("points.")
    assert err.value.field.endswith("." + rule.split(":")[0]) or ".range." in err.value.field


def test_quality_rules_belong_to_numeric_points_and_counters_keep_their_own(tmp_path: Path) -> None:
    text = CNC.read_text()
    on_switch = text.replace("    kind: switch\n", "    kind: switch\n    range: [0, 1]\n", 1)
    (tmp_path / "switch.yaml").write_text(on_switch)
    with pytest.raises(ConfigError, match="range applies to numeric points only") as err:
        load_device_type(tmp_path / "switch.yaml")
    assert err.value.field is not None and err.value.field.endswith(".range")
    counter = "  - name: parts_total\n    kind: counter\n"
    on_counter = text.replace(counter, counter + "    max_rate_per_s: 1\n", 1)
    (tmp_path / "counter.yaml").write_text(on_counter)
    with pytest.raises(ConfigError, match="judged by ideal_rate_per_hour"):
        load_device_type(tmp_path / "counter.yaml")
    spec = load_device_type(CNC).point("spindle_temp")
    assert (spec.range, spec.max_rate_per_s, spec.stuck_after_s) == ((-20.0, 120.0), 5.0, None)
    assert load_device_type(CNC).point("parts_total").range is None  # not declared: not checked
