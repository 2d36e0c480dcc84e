"""The rules the shipped device types declare hold on the simulators' clean history (so a finding on
a real plant is the plant's, not the rule's), and a stuck sensor in the simulator is found by them."""

from __future__ import annotations

import numpy as np
import pytest

from collector.quality.assess import Series, assess
from collector.quality.rules import Settings, rules_for
from simulators.backfill import Shape, device_samples
from simulators.plant import PlantModel
from simulators.plantfile import load_plant, parse_fault

SHAPE = Shape(interval_s=60, heartbeat_s=300)


def _judge(model: PlantModel, device_id: str) -> dict[str, dict[str, int]]:
    track = model.track(device_id)
    dt = track.device.device_type
    start, end = model.plant.start_ns, model.plant.end_ns
    rows = device_samples(model, device_id, start, end, SHAPE)
    out = {}
    for spec in dt.points:
        numeric = spec.kind != "state" and spec.dtype not in ("string", "bool")
        mine = [r for r in rows if r[0] == spec.name]
        t = np.asarray([r[1] for r in mine], dtype=np.int64)
        value = np.asarray([float(r[2]) if numeric and r[2] is not None else np.nan for r in mine])
        series = Series(t, value, np.asarray([r[3] for r in mine], dtype=np.int16), t, np.arange(len(t)))
        rules = rules_for(spec.kind, numeric, spec.name, dt, spec.wrap, dt.ideal_rate_per_hour)
        q = assess(series, rules, (start, end), Settings())
        out[spec.name] = {"invalid": q.invalid, "stuck": q.stuck, "missing": q.expected - q.received}
    return out


@pytest.mark.parametrize("device_id", ["cnc-01", "press-01", "pump-01", "meter-01"])
def test_clean_simulated_history_breaks_no_declared_rule(device_id: str) -> None:
    plant = load_plant("test-small")
    found = _judge(PlantModel(plant, plant.start_ns, plant.end_ns), device_id)
    assert {name: f for name, f in found.items() if any(f.values())} == {}


def test_a_stuck_voltage_is_found_and_nothing_else() -> None:
    fault = "{kind: stuck, devices: [meter-01], points: [voltage_l1], from: 2026-03-05T00:00, hours: 1}"
    plant = load_plant("test-small", faults=[parse_fault(fault)])
    found = _judge(PlantModel(plant, plant.start_ns, plant.end_ns), "meter-01")
    assert found.pop("voltage_l1") == {"invalid": 59, "stuck": 59, "missing": 0}
    assert all(not any(f.values()) for f in found.values())
