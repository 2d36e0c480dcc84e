"""Scenario evidence, pure core: the scenarios as the shipped catalogue names them, facts summed from
query rows and device-day series, models counted under their catalogue categories, alarms when a
table holds them."""

from __future__ import annotations

import datetime as dt

import numpy as np

from assessment.load import load_scenarios
from collector.application.scenarios import MODEL_CATEGORIES, SCENARIOS, Measured, PointRow, scenario_facts
from collector.application.text import scenario_lines
from collector.kpi.engine import DeviceDays
from collector.kpi.timemodel import N_STATES, Timeline
from collector.models.catalog import CATALOG
from wire.states import STATE_CODES as C


def _dd() -> DeviceDays:
    secs = np.zeros((2, 3, N_STATES))
    secs[:, :, C["running"]] = 20 * 3600
    secs[:, :, C["unplanned_stop"]] = 2 * 3600
    failures = np.ones((2, 3), dtype=np.int64)
    good = np.array([[90.0, 80.0, 70.0], [np.nan, np.nan, np.nan]])  # the second device counts no units
    return DeviceDays(
        days=[dt.date(2026, 3, 2) + dt.timedelta(days=i) for i in range(3)],
        devices=["s/cnc", "s/meter"],
        timeline=Timeline(secs, failures, np.zeros((2, 3), dtype=np.int64)),
        produced=np.array([[100.0, 100.0, 100.0], [np.nan, np.nan, np.nan]]),
        good=good,
        energy_kwh=np.array([[10.0, 10.0, 10.0], [0.0, 0.0, 0.0]]),
        ideal_rate_per_hour=np.array([10.0, np.nan]),
        missing={"good": ["s/meter"]},
    )


def _measured(alarms: dict[str, tuple[int, int]] | None) -> Measured:
    points = [
        PointRow(1, False, "state", "", 1, 100),
        PointRow(1, False, "counter", "", 2, 200),
        PointRow(1, False, "setpoint", "rpm", 1, 5),
        PointRow(2, True, "energy", "kWh", 1, 50),
        PointRow(2, True, "analog", "mg/m³", 2, 40),
    ]
    ops = {"ping": (4, 4, 3), "write_setpoint": (2, 2, 1)}
    invocations = {"oee": 3, "spc_capability": 2, "mtbf": 1, "state_timeline": 5, "retired_model": 9}
    registry = {"devices": 2, "points": 9, "conflicts": 1, "dead_letters": 4}
    return Measured(points, ops, invocations, alarms, registry)


def test_scenarios_are_named_as_the_shipped_catalogue_names_them() -> None:
    shipped = {s.number: (s.name_zh, s.name_en) for s in load_scenarios()}
    assert {n: shipped[n] for n in SCENARIOS} == SCENARIOS
    categories = {m.category for m in CATALOG.values()}
    assert set().union(*MODEL_CATEGORIES.values()) <= categories


def test_facts_are_sums_of_what_was_measured() -> None:
    out = scenario_facts(_measured({"device_offline": (3, 2)}), _dd(), 500.0, (0.5, "grid: factor"))
    assert [s["number"] for s in out] == list(SCENARIOS)
    facts = {s["number"]: {f["key"]: f for f in s["facts"]} for s in out}
    value = {n: {k: f["value"] for k, f in fs.items()} for n, fs in facts.items()}
    assert value[16] == {
        "devices_monitored": 2, "devices_with_state": 1, "points_collected": 7, "readings": 395,
        "simulated_devices": 1, "model_invocations": 3,
    }  # fmt: skip
    assert value[17]["unplanned_stops"] == 6 and value[17]["unplanned_downtime_hours"] == 12
    assert value[17]["mtbf_hours"] == 20 and value[17]["management_operations"] == 6
    assert (value[17]["alarms_raised"], value[17]["alarms_cleared"]) == (3, 2)
    assert facts[17]["model_invocations"]["by_model"] == {"mtbf": 1}
    assert value[12] == {
        "setpoint_points": 1,
        "setpoint_writes": 2,
        "setpoint_writes_read_back": 1,
        "model_invocations": 2,
    }
    assert value[14]["devices_inspected"] == 1 and value[14]["units_good"] == 240
    assert value[14]["defect_rate"] == 0.2
    assert facts[14]["model_invocations"]["by_model"] == {"spc_capability": 2}
    assert value[22]["energy_kwh"] == 500 and value[22]["kwh_per_good_unit"] == 0.125
    assert value[23]["co2_kg"] == 250 and value[23]["co2_kg_per_good_unit"] == 0.0625
    assert value[24] == {"pollution_points": 2, "pollution_readings": 40}
    assert value[33]["value_conflicts"] == 1 and value[33]["dead_letters"] == 4
    assert all(s["evidenced"] for s in out)
    zh = "\n".join(
        scenario_lines(
            {"window": {"start": "2026-03-02", "end": "2026-03-04"}, "alarms_table": True, "scenarios": out},
            "zh",
        )
    )
    assert "16 设备运行监控（equipment operation monitoring）: 有实测依据" in zh
    assert "    告警产生次数: 3" in zh and "计量能耗（全部能耗表）: 500 kWh" in zh


def test_without_an_alarms_table_or_a_factor_those_facts_are_absent() -> None:
    empty = Measured([], {}, {}, None, {})
    dd = _dd()
    out = scenario_facts(empty, dd, 0.0, None)
    facts = {s["number"]: {f["key"]: f["value"] for f in s["facts"]} for s in out}
    assert "alarms_raised" not in facts[17]
    assert facts[23]["co2_kg"] is None and facts[24]["pollution_points"] == 0
    evidenced = {s["number"] for s in out if s["evidenced"]}
    assert evidenced == {17, 14}  # stops and units come from the series; nothing was collected otherwise
    en = scenario_lines(
        {"window": {"start": "2026-03-02", "end": "2026-03-04"}, "alarms_table": False, "scenarios": out},
        "en",
    )
    assert en[-1] == "The database has no alarms table: alarms are not counted."
    assert (
        "24 online pollution monitoring and control (污染在线管控): no measured evidence in the window" in en
    )
