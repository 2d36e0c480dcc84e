"""Measured facts for the typical scenarios plant telemetry evidences directly (pure assembly).

The eight scenarios of 《智能制造典型场景参考指引（2024 年版）》 (configs/scenarios.yaml, numbers and
names as there) that the platform's own data can support. For each, the facts it measured in a
window, from the database (collector.application.scenario_queries) and the KPI engine's device-day
series (unplanned stops, units, energy): never prose. A scenario is `evidenced` when its leading
fact is above zero; an applicant cites the facts, the reviewer re-runs the command.

Pollution monitoring has no point kind of its own: it counts points whose unit is a concentration
(POLLUTION_UNITS).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from collector.kpi.engine import DeviceDays
from collector.models.catalog import CATALOG

# number -> (name_zh, name_en), as configs/scenarios.yaml names them (a test keeps them equal)
SCENARIOS: dict[int, tuple[str, str]] = {
    16: ("设备运行监控", "equipment operation monitoring"),
    17: ("设备智能运维", "equipment intelligent operation and maintenance"),
    12: ("先进过程控制", "advanced process control"),
    14: ("在线智能检测", "online intelligent inspection"),
    22: ("能源智能管控", "intelligent energy management and control"),
    23: ("碳资产全生命周期管理", "carbon-asset life-cycle management"),
    24: ("污染在线管控", "online pollution monitoring and control"),
    33: ("工厂数据资源管理", "factory data resource management"),
}
POLLUTION_UNITS = frozenset(
    {"mg/m3", "mg/m³", "mg/Nm3", "mg/Nm³", "mg/L", "mg/l", "ppm", "ppb", "µg/m3", "µg/m³"}
)
# Model categories (collector.models.catalog) whose invocations support each scenario.
MODEL_CATEGORIES: dict[int, frozenset[str]] = {
    16: frozenset({"production efficiency"}),
    17: frozenset({"reliability", "anomaly detection"}),
    12: frozenset({"process control"}),
    14: frozenset({"quality", "process control"}),
    22: frozenset({"energy & carbon"}),
    23: frozenset({"energy & carbon"}),
    33: frozenset({"data governance"}),
}


@dataclass(frozen=True, slots=True)
class PointRow:
    """Valid readings of one device's points of one kind and unit in the window."""

    device_id: int
    simulated: bool
    kind: str
    unit: str
    points: int
    readings: int


@dataclass(frozen=True, slots=True)
class Measured:
    """What the queries returned for a window."""

    points: list[PointRow]
    operations: dict[str, tuple[int, int, int]]  # op -> (sent, answered ok, device reached)
    invocations: dict[str, int]  # model -> successful external invocations
    alarms: dict[str, tuple[int, int]] | None  # rule -> (raised, cleared) in the window; None: no table
    registry: dict[str, int]  # devices, points registered; dead letters; value conflicts


def _fact(key: str, value: float | int | None, en: str, zh: str, unit: str = "") -> dict[str, Any]:
    if isinstance(value, float):
        value = round(value, 6) if np.isfinite(value) else None
    return {"key": key, "value": value, "unit": unit, "en": en, "zh": zh}


def _devices(rows: Iterable[PointRow]) -> tuple[int, int]:
    ids = {(r.device_id, r.simulated) for r in rows}
    return len(ids), sum(1 for _, sim in ids if sim)


def _models(m: Measured, number: int) -> dict[str, Any]:
    cats = MODEL_CATEGORIES.get(number, frozenset())
    used = {k: v for k, v in sorted(m.invocations.items()) if k in CATALOG and CATALOG[k].category in cats}
    fact = _fact("model_invocations", sum(used.values()), "successful model invocations", "模型成功调用次数")
    return fact | {"by_model": used}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def scenario_facts(
    m: Measured, dd: DeviceDays, metered_kwh: float, factor: tuple[float, str] | None
) -> list[dict[str, Any]]:
    """One entry per scenario in SCENARIOS order, each with its facts and whether it is evidenced.

    Units and energy per unit are over the devices counting good units, on the device-days the KPI
    engine credits (as its claims do); `metered_kwh` is what every energy register counted."""
    tl = dd.timeline
    inspected = [i for i in range(len(dd.devices)) if np.isfinite(dd.good[i]).any()]
    both = np.isfinite(dd.good[inspected]) & np.isfinite(dd.produced[inspected])
    per_unit = both & np.isfinite(dd.energy_kwh[inspected])
    sums = {
        "good": float(np.where(both, dd.good[inspected], 0).sum()),
        "produced": float(np.where(both, dd.produced[inspected], 0).sum()),
        "good_e": float(np.where(per_unit, dd.good[inspected], 0).sum()),
        "kwh_e": float(np.where(per_unit, dd.energy_kwh[inspected], 0).sum()),
    }
    h = 3600.0
    failures, unplanned_h = int(tl.failures.sum()), float(tl.unplanned.sum()) / h
    apt_h, repair_h = float(tl.apt.sum()) / h, float(tl.repair.sum()) / h
    by_kind = {
        k: [r for r in m.points if r.kind == k] for k in ("state", "counter", "energy", "setpoint", "analog")
    }
    pollution = [r for r in m.points if r.unit in POLLUTION_UNITS]
    devices, simulated = _devices(m.points)
    state_devices, _ = _devices(by_kind["state"])
    ops = m.operations
    sent = sum(v[0] for v in ops.values())
    writes = ops.get("write_setpoint", (0, 0, 0))
    quality_devices = int(both.any(axis=1).sum()) if inspected else 0
    alarms = None
    if m.alarms is not None:
        raised, cleared = sum(v[0] for v in m.alarms.values()), sum(v[1] for v in m.alarms.values())
        alarms = [
            _fact("alarms_raised", raised, "alarms raised", "告警产生次数"),
            _fact("alarms_cleared", cleared, "alarms cleared", "告警消除次数")
            | {"by_rule": {k: list(v) for k, v in sorted(m.alarms.items())}},
        ]
    facts: dict[int, list[dict[str, Any]]] = {
        16: [
            _fact("devices_monitored", devices, "devices with valid readings", "有有效读数的设备"),
            _fact(
                "devices_with_state",
                state_devices,
                "devices reporting their operating state",
                "上报运行状态的设备",
            ),
            _fact(
                "points_collected",
                sum(r.points for r in m.points),
                "points with valid readings",
                "有有效读数的测点",
            ),
            _fact("readings", sum(r.readings for r in m.points), "valid readings stored", "存储的有效读数"),
            _fact("simulated_devices", simulated, "of the devices, simulated", "其中模拟设备"),
        ],
        17: [
            _fact("unplanned_stops", failures, "unplanned stops (failures)", "非计划停机次数"),
            _fact("unplanned_downtime_hours", unplanned_h, "unplanned downtime", "非计划停工时间", "h"),
            _fact(
                "mtbf_hours", _ratio(apt_h, failures), "mean time between failures", "平均故障间隔时间", "h"
            ),
            _fact("mttr_hours", _ratio(repair_h, failures), "mean time to repair", "平均修复时间", "h"),
            _fact("maintenance_events", int(tl.maintenance.sum()), "maintenance events", "检修维修次数"),
            _fact("management_operations", sent, "management operations sent", "下发的管理操作"),
            _fact(
                "devices_reached",
                sum(v[2] for v in ops.values()),
                "operations that reached the device",
                "到达设备的管理操作",
            ),
            *(alarms or []),
        ],
        12: [
            _fact(
                "setpoint_points",
                sum(r.points for r in by_kind["setpoint"]),
                "setpoint points collected",
                "采集的设定值测点",
            ),
            _fact("setpoint_writes", writes[0], "setpoint writes sent", "下发的设定值写入"),
            _fact(
                "setpoint_writes_read_back",
                writes[2],
                "setpoint writes read back from the device",
                "回读确认的设定值写入",
            ),
        ],
        14: [
            _fact(
                "devices_inspected",
                quality_devices,
                "devices counting good and produced units",
                "统计合格品与产量的设备",
            ),
            _fact("units_produced", sums["produced"], "units produced (counted)", "产量（计数）"),
            _fact("units_good", sums["good"], "good units (counted)", "合格品（计数）"),
            _fact(
                "defect_rate",
                _ratio(sums["produced"] - sums["good"], sums["produced"]),
                "defect rate",
                "不良率",
            ),
        ],
        22: [
            _fact(
                "energy_meters",
                sum(r.points for r in by_kind["energy"]),
                "energy registers metered",
                "计量的能耗表",
            ),
            _fact(
                "energy_kwh", metered_kwh, "energy metered (all registers)", "计量能耗（全部能耗表）", "kWh"
            ),
            _fact(
                "kwh_per_good_unit",
                _ratio(sums["kwh_e"], sums["good_e"]),
                "energy per good unit",
                "单位合格品能耗",
                "kWh",
            ),
        ],
        23: [
            _fact(
                "co2_kg",
                metered_kwh * factor[0] if factor else None,
                "CO₂ from metered energy",
                "计量能耗对应的 CO₂",
                "kg",
            ),
            _fact(
                "co2_kg_per_good_unit",
                _ratio(sums["kwh_e"] * factor[0], sums["good_e"]) if factor else None,
                "CO₂ per good unit",
                "单位合格品 CO₂",
                "kg",
            )
            | {"emission_factor": {"value": factor[0], "source": factor[1]} if factor else None},
        ],
        24: [
            _fact(
                "pollution_points",
                sum(r.points for r in pollution),
                "concentration points collected",
                "采集的浓度测点",
            ),
            _fact(
                "pollution_readings",
                sum(r.readings for r in pollution),
                "concentration readings stored",
                "存储的浓度读数",
            ),
        ],
        33: [
            _fact(
                "devices_registered", m.registry.get("devices", 0), "plant devices registered", "注册的设备"
            ),
            _fact("points_registered", m.registry.get("points", 0), "points registered", "注册的测点"),
            _fact("readings", sum(r.readings for r in m.points), "valid readings stored", "存储的有效读数"),
            _fact(
                "value_conflicts",
                m.registry.get("conflicts", 0),
                "(point, time) value conflicts recorded",
                "同一测点同一时刻的取值冲突",
            ),
            _fact(
                "dead_letters",
                m.registry.get("dead_letters", 0),
                "messages refused to dead letters",
                "拒收入死信的消息",
            ),
        ],
    }
    out = []
    for number, (zh, en) in SCENARIOS.items():
        items = [*facts[number]]
        if number in MODEL_CATEGORIES:
            items.append(_models(m, number))
        lead = items[0]["value"]
        out.append({"number": number, "name_zh": zh, "name_en": en, "evidenced": bool(lead), "facts": items})
    return out
