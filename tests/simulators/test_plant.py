"""The plant model: device YAMLs, scenarios, the seeded state log and every point's value."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from adapters.modbus.address import modbus_of, register_count
from adapters.opcua.address import opcua_of
from devicemodel.loader import load_device_type
from simulators.errors import ScenarioError
from simulators.plant import PlantModel, state_codes
from simulators.plantfile import load_plant
from simulators.scenario import NS_PER_DAY, to_ns
from wire.states import CANONICAL_STATES

ROOT = Path(__file__).resolve().parents[2]
DEVICES = ROOT / "configs" / "devices"
PLANTS = ROOT / "configs" / "plants"
H = 3_600_000_000_000


@pytest.fixture(scope="module")
def small() -> PlantModel:
    plant = load_plant(PLANTS / "test-small.yaml")
    return PlantModel(plant, plant.start_ns, plant.end_ns)


def test_device_types_cover_sectors_dtypes_and_orders() -> None:
    types = [load_device_type(p) for p in sorted(DEVICES.glob("*.yaml"))]
    assert len(types) >= 6
    assert {t.sector for t in types} == {"discrete", "process"}
    points = [p for t in types for p in t.points]
    assert {"float32", "uint32", "uint16", "int16", "bool"} <= {p.dtype for p in points}
    orders = {
        (modbus_of(p).byte_order, modbus_of(p).word_order)
        for p in points
        if modbus_of(p) and register_count(p) > 1
    }
    assert len(orders) >= 3
    assert any(p.kind == "counter" and p.wrap is not None for p in points)
    assert any(modbus_of(p) and modbus_of(p).bit is not None for p in points)  # packed status word
    for t in types:
        for p in t.points:
            assert (
                opcua_of(p) is not None
                and opcua_of(p).node == f"nsu=urn:plantproof:sim;s={{device}}.{p.name}"
            )


def test_plants_load_with_unique_unit_ids() -> None:
    demo = load_plant("demo")
    assert len(demo.devices) == 8
    assert len({d.device_type.type for d in demo.devices}) >= 5
    assert {d.device_type.sector for d in demo.devices} == {"discrete", "process"}
    assert sorted(d.unit_id for d in demo.devices) == list(range(1, 9))
    assert demo.interventions and demo.interventions[0].from_ == dt.date(2026, 4, 1)
    small = load_plant(PLANTS / "test-small.yaml", seed=99)
    assert small.seed == 99
    scoped = {d.id: len(d.interventions) for d in small.devices}
    assert scoped == {"cnc-01": 1, "press-01": 1, "pump-01": 0, "meter-01": 0}


def test_scenario_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"name: bad\nstart: 2026-01-01\nend: 2026-02-01\ndevices_dir: {DEVICES}\n"
        "sites: [{id: s1}]\ndevices:\n  - {type: cnc_machine, count: 0}\n"
    )
    with pytest.raises(ScenarioError, match=r"bad\.yaml:7: .*devices\.0\.count"):
        load_plant(bad)
    bad.write_text(f"name: bad\nstart: 2026-01-01\nend: 2026-02-01\ndevices_dir: {DEVICES}\n"
                   "sites: [{id: s1}]\ndevices:\n  - {type: no_such_type}\n")  # fmt: skip
    with pytest.raises(ScenarioError, match=r"devices\.0\.type: no device-type file"):
        load_plant(bad)
    typ = tmp_path / "t.yaml"
    typ.write_text((DEVICES / "cnc_machine.yaml").read_text().replace("mttr_hours: 1.5", "mttr_hours: -1"))
    bad.write_text(f"name: bad\nstart: 2026-01-01\nend: 2026-02-01\nsites: [{{id: s1}}]\n"
                   f"devices:\n  - {{type: {typ}}}\n")  # fmt: skip
    with pytest.raises(ScenarioError, match=r"t\.yaml:\d+: .*simulation\.mttr_hours"):
        load_plant(bad)
    # A state the model produces but the device cannot show is a configuration error.
    typ.write_text((DEVICES / "cnc_machine.yaml").read_text().replace("      8: minor_stop\n", ""))
    with pytest.raises(ScenarioError, match=r"points\.state\.states: no device code for minor_stop"):
        load_plant(bad)


def test_log_is_contiguous_and_follows_the_calendar(small: PlantModel) -> None:
    for dev in small.device_ids:
        log = small.events(dev)
        assert log.start[0] == small.start_ns and log.end[-1] == small.end_ns
        assert np.array_equal(log.start[1:], log.end[:-1])
        assert np.all(log.end > log.start)
        device = small.plant.device(dev)
        windows = list(device.calendar.windows(small.start_ns, small.end_ns))
        bounds = np.asarray(windows).ravel()
        # Inside a production window nothing is planned_stop; outside, everything is.
        for s, e, state in log:
            inside = np.searchsorted(bounds, s, side="right") % 2 == 1
            if state == "planned_stop":
                assert not inside or s in bounds
            else:
                assert inside, (dev, s, state)
                same_window = np.searchsorted(bounds, [s, e - 1], side="right")
                assert same_window[0] == same_window[1]
    cnc = small.events("cnc-01")
    states = {name for _, _, name in cnc}
    assert {"running", "minor_stop", "planned_stop", "idle"} <= states
    assert len(cnc.failures) > 0


def test_same_seed_same_log_other_seed_differs() -> None:
    plant = load_plant(PLANTS / "test-small.yaml")
    span = (plant.start_ns, plant.end_ns)
    a = PlantModel(plant, *span).events("cnc-01")
    b = PlantModel(load_plant(PLANTS / "test-small.yaml"), *span).events("cnc-01")
    c = PlantModel(load_plant(PLANTS / "test-small.yaml", seed=8), *span).events("cnc-01")
    assert np.array_equal(a.start, b.start) and np.array_equal(a.state, b.state)
    assert not (len(a) == len(c) and np.array_equal(a.start, c.start))


def test_values_follow_the_state(small: PlantModel) -> None:
    log = small.events("cnc-01")
    for s, e, state in list(log)[:400]:
        mid = (s + e) // 2
        v = small.values_at("cnc-01", mid)
        assert v["state"] == state
        assert v["alarm_active"] is (state in ("unplanned_stop", "corrective_maintenance"))
        assert isinstance(v["parts_total"], int) and isinstance(v["spindle_speed"], float)
        if state == "running":
            assert 7500 < v["spindle_speed"] < 8500
        elif state not in ("reduced_speed",):
            assert abs(v["spindle_speed"]) < 300
        assert v["feed_override"] == 100
    # The same time gives the same values; the value does not depend on what was asked before.
    t = small.start_ns + 3 * NS_PER_DAY + 37 * 60 * 10**9
    assert small.values_at("press-01", t) == small.values_at("press-01", t)
    fresh = PlantModel(small.plant, small.start_ns, small.end_ns)
    assert fresh.values_at("press-01", t) == small.values_at("press-01", t)


def test_counters_advance_at_the_rate_and_wrap_like_the_register(small: PlantModel) -> None:
    track = small.track("press-01")
    spec = small.plant.device("press-01").device_type.point("strokes")
    assert spec.wrap == 65536
    t = np.arange(small.start_ns, small.end_ns, 60 * 10**9, dtype=np.int64)
    values = small.sample("press-01", t)
    raw_total, _ = track.units(t)
    steps = np.diff(values["strokes"]) % 65536
    assert np.array_equal(steps, np.diff(raw_total))  # unwrapped deltas are the produced units
    assert values["strokes"].max() < 65536 and np.any(np.diff(values["strokes"]) < 0)  # it wrapped
    running = track.log.state == CANONICAL_STATES.index("running")
    run_h = ((track.log.end - track.log.start)[running]).sum() / H
    rate = 1500 * small.plant.device("press-01").sim.speed_factor
    assert raw_total[-1] >= 0.98 * rate * run_h  # plus reduced-speed production
    good = np.diff(values["parts_good"]) % 65536
    assert np.all(good <= steps + 1)


def test_energy_integrates_state_power(small: PlantModel) -> None:
    track = small.track("cnc-01")
    sim = small.plant.device("cnc-01").sim
    log = track.log
    t0 = to_ns(dt.date(2026, 3, 3))
    t1 = to_ns(dt.date(2026, 3, 4))  # before the intervention: plain table powers
    expected = 0.0
    for s, e, state in log:
        s, e = max(s, t0), min(e, t1)
        if e > s:
            expected += sim.power_w(state) * (e - s) / 1e9 / 3.6e6
    wms = track.energy_wms(np.asarray([t0, t1]))
    assert (wms[1] - wms[0]) / 3.6e9 == pytest.approx(expected, rel=1e-9)
    v0 = small.values_at("cnc-01", t0)["energy"]
    v1 = small.values_at("cnc-01", t1)["energy"]
    assert isinstance(v0, float) and isinstance(v1, float)
    assert v1 - v0 == pytest.approx(expected, abs=0.011)  # register resolution 0.01 kWh


def test_device_values_do_not_depend_on_the_other_devices(tmp_path: Path) -> None:
    one = tmp_path / "one.yaml"
    one.write_text(
        f"name: one\nseed: 7\nstart: 2026-03-02\nend: 2026-03-16\ndevices_dir: {DEVICES}\n"
        "calendars: {two_shift: {days: [mon, tue, wed, thu, fri, sat],"
        " shifts: [{start: '06:00', end: '14:00'}, {start: '14:00', end: '22:00'}],"
        " breaks: [{start: '10:00', minutes: 30}]}}\n"
        "sites: [{id: site-t, calendar: two_shift}]\n"
        "devices: [{type: press, prefix: press}]\n"
        "interventions: [{from: 2026-03-09, types: [press], mtbf: 1.5, minor_stops: 0.7, idle_power: 0.9,"
        " yield_pp: 2}]\n"
    )
    alone = load_plant(one)
    both = load_plant(PLANTS / "test-small.yaml")
    a = PlantModel(alone, alone.start_ns, alone.end_ns).events("press-01")
    b = PlantModel(both, both.start_ns, both.end_ns).events("press-01")
    assert np.array_equal(a.start, b.start) and np.array_equal(a.state, b.state)


def test_state_codes_map_back_to_the_first_device_code() -> None:
    press = load_device_type(DEVICES / "press.yaml")
    codes = state_codes(press.point("state"))
    assert codes["running"] == 1 and codes["unknown_stop"] == 15


def test_demo_half_year_generates_quickly() -> None:
    plant = load_plant("demo")
    model = PlantModel(plant, plant.start_ns, plant.end_ns)
    for dev in model.device_ids:
        assert len(model.events(dev)) > 100
    assert model.values_at("meter-01", plant.start_ns + 100 * NS_PER_DAY)["voltage_l1"] == pytest.approx(
        230.5, abs=5
    )


def test_a_longer_range_extends_the_same_history(small: PlantModel) -> None:
    plant = small.plant
    short = PlantModel(plant, plant.start_ns, plant.start_ns + 5 * NS_PER_DAY + 12345 * 10**6)
    for dev in small.device_ids:
        a, b = short.events(dev), small.events(dev)
        n = len(a) - 1  # the last interval is cut at the shorter end
        assert np.array_equal(a.start, b.start[: n + 1]) and np.array_equal(a.state, b.state[: n + 1])
        t = np.arange(plant.start_ns, short.end_ns, 7 * 60 * 10**9, dtype=np.int64)
        va, vb = short.sample(dev, t), small.sample(dev, t)
        for name in va:
            assert np.array_equal(va[name], vb[name]), (dev, name)
