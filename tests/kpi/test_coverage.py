"""Coverage per device: which devices the invalid device-days belong to, and why."""

from __future__ import annotations

import datetime as dt

import numpy as np

from collector.kpi.claims import Claim, Period
from collector.kpi.coverage import claim_coverage, device_coverage
from collector.kpi.engine import DeviceDays
from collector.kpi.timemodel import N_STATES, Timeline
from collector.kpi.verify import evaluate
from wire.states import STATE_CODES as C

DAYS = 30


def _days(no_state: dict[int, list[int]], missing_good: list[str]) -> DeviceDays:
    """Three devices, 20 h running + 4 h planned stop a day; `no_state` days have no state data."""
    secs = np.zeros((3, DAYS, N_STATES))
    secs[:, :, C["running"]] = 20 * 3600
    secs[:, :, C["planned_stop"]] = 4 * 3600
    for dev, days in no_state.items():
        for d in days:
            secs[dev, d, :] = 0
            secs[dev, d, C["no_data"]] = 24 * 3600
    zero = np.zeros((3, DAYS), dtype=np.int64)
    good = np.full((3, DAYS), 700.0)
    devices = ["d0", "d1", "d2"]
    for name in missing_good:
        good[devices.index(name)] = np.nan
    return DeviceDays(
        days=[dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(DAYS)],
        devices=devices,
        timeline=Timeline(secs, zero.copy(), zero.copy()),
        produced=np.full((3, DAYS), 720.0),
        good=good,
        energy_kwh=np.full((3, DAYS), 200.0),
        ideal_rate_per_hour=np.full(3, 40.0),
        missing={"good": missing_good},
    )


def _claim(kpi: str) -> Claim:
    p = Period(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 30))
    return Claim(id="c", title="c", kpi=kpi, change_pct=5, baseline=p, reporting=p)  # type: ignore[arg-type]


def test_rows_name_the_device_and_the_reason() -> None:
    dd = _days({1: [0, 1, 2]}, missing_good=["d2"])
    rows = {r["device"]: r for r in device_coverage(_claim("work_efficiency"), dd)}
    assert rows["d0"] == {"device": "d0", "device_days": DAYS, "valid_device_days": DAYS,
                          "low_state_coverage": 0, "no_kpi_inputs": 0, "missing_points": []}  # fmt: skip
    assert rows["d1"]["valid_device_days"] == DAYS - 3 and rows["d1"]["low_state_coverage"] == 3
    assert rows["d2"]["valid_device_days"] == 0 and rows["d2"]["no_kpi_inputs"] == DAYS
    assert rows["d2"]["missing_points"] == ["good"]
    # unplanned downtime reads no counter: the missing good-parts point is not a reason there
    ud = {r["device"]: r for r in device_coverage(_claim("unplanned_downtime"), dd)}
    assert ud["d2"]["valid_device_days"] == DAYS and ud["d2"]["missing_points"] == []


def test_rows_add_up_to_the_period_share_and_reach_the_result() -> None:
    base, rep = _days({}, []), _days({0: list(range(10)), 2: [5]}, missing_good=[])
    claim = _claim("work_efficiency")
    result = evaluate(claim, base, rep)
    cov = claim_coverage(claim, base, rep)
    assert cov["gates"] == {"device_day_coverage": 0.75, "period_valid_share": 0.9}
    valid = sum(r["valid_device_days"] for r in cov["reporting"])
    assert result.reporting is not None and valid == result.reporting.valid_device_days == 3 * DAYS - 11
    assert result.to_json()["device_coverage"] == cov
