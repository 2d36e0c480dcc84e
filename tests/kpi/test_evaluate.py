"""Verdict logic on hand-built device-day series: count KPIs, directions, point selection."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from collector.kpi.claims import Claim, Period
from collector.kpi.engine import DeviceDays
from collector.kpi.load import _pick
from collector.kpi.timemodel import N_STATES, Timeline
from collector.kpi.verify import evaluate
from wire.states import STATE_CODES as C


def _days(start: dt.date, n_days: int, maint_per_day: float, seed: int, devices: int = 3) -> DeviceDays:
    rng = np.random.default_rng(seed)
    secs = np.zeros((devices, n_days, N_STATES))
    secs[:, :, C["running"]] = 20 * 3600
    secs[:, :, C["planned_stop"]] = 4 * 3600
    maint = rng.poisson(maint_per_day, size=(devices, n_days)).astype(np.int64)
    z = np.zeros((devices, n_days))
    return DeviceDays(
        days=[start + dt.timedelta(days=i) for i in range(n_days)],
        devices=[f"d{i}" for i in range(devices)],
        timeline=Timeline(secs, maint.copy(), maint),
        produced=z,
        good=z,
        energy_kwh=z,
        ideal_rate_per_hour=np.full(devices, 10.0),
        missing={},
    )


def _claim(kpi: str, pct: float) -> Claim:
    p = Period(start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 1))
    return Claim(id="c", title="c", kpi=kpi, change_pct=pct, baseline=p, reporting=p)  # type: ignore[arg-type]


def test_maintenance_events_use_the_exact_poisson_interval() -> None:
    base = _days(dt.date(2026, 1, 1), 60, 0.5, seed=1)
    fewer = _days(dt.date(2026, 3, 2), 60, 0.2, seed=2)
    busy = _days(dt.date(2026, 1, 1), 60, 6.0, seed=4)
    same = _days(dt.date(2026, 3, 2), 60, 6.0, seed=3)
    down = evaluate(_claim("maintenance_events", -20), base, fewer)
    assert down.verdict == "verified" and "Poisson" in down.method
    k_b, k_r = base.timeline.maintenance.sum(), fewer.timeline.maintenance.sum()
    assert down.point_estimate == pytest.approx(100 * (k_r / k_b - 1), abs=1e-6)  # equal exposure
    assert down.ci_low < down.point_estimate < down.ci_high
    flat = evaluate(_claim("maintenance_events", -20), busy, same)  # ~1080 events each: a tight interval
    assert flat.verdict == "refuted", flat.to_json()
    # MTBF rises when failures get rarer: +50 % is verified against a 60 % drop in failures
    mtbf = evaluate(_claim("mtbf", 50), base, fewer)
    assert mtbf.verdict == "verified" and mtbf.ci_low >= 50


def test_increase_claims_and_missing_points_are_reported() -> None:
    base = _days(dt.date(2026, 1, 1), 60, 0.5, seed=1)
    rep = _days(dt.date(2026, 3, 2), 60, 0.5, seed=1)
    res = evaluate(_claim("availability", 0.5), base, rep)
    # identical time model in both periods: a +0.5 % availability gain is refuted, not verified
    assert res.point_estimate == pytest.approx(0.0) and res.verdict == "refuted"
    gone = DeviceDays(**{**{f: getattr(rep, f) for f in rep.__slots__}, "missing": {"good": ["d1"]}})
    gone.good[1] = np.nan
    q = evaluate(_claim("work_efficiency", 10), base, gone)
    assert q.verdict == "inconclusive" and any("no good point on d1" in n for n in q.notes)
    assert any("66.6% of device-days valid" in r for r in q.reasons), q.reasons  # rounded down


def test_devices_without_ideal_rate_take_no_part_in_performance() -> None:
    base = _days(dt.date(2026, 1, 1), 60, 0.5, seed=1)
    rep = _days(dt.date(2026, 3, 2), 60, 0.5, seed=1)
    for dd, per_day in ((base, 150.0), (rep, 180.0)):
        dd.produced[:] = per_day
        dd.ideal_rate_per_hour[2] = np.nan  # a utility without an ideal rate
        dd.produced[2] = 1e9  # would dominate if it took part
    res = evaluate(_claim("performance", 10), base, rep)
    assert res.point_estimate == pytest.approx(20.0)
    assert res.baseline is not None and res.baseline.value == pytest.approx(150 / (10 * 20))
    assert any("no ideal rate" in n and "d2" in n for n in res.notes)


def test_co2_and_cost_per_unit_use_the_declared_factors() -> None:
    p = Period(start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 1))
    periods = []
    for kwh, good in ((100.0, 50.0), (90.0, 50.0)):
        dd = _days(dt.date(2026, 1, 1), 60, 0.5, seed=1)
        dd = DeviceDays(**{**{f: getattr(dd, f) for f in dd.__slots__},
                           "energy_kwh": np.full((3, 60), kwh), "good": np.full((3, 60), good),
                           "produced": np.full((3, 60), good + 10)})  # fmt: skip
        periods.append(dd)
    co2 = Claim(id="c", title="c", kpi="co2_per_unit", change_pct=-5, emission_factor_kg_per_kwh=0.5,
                baseline=p, reporting=p)  # fmt: skip
    res = evaluate(co2, *periods)
    assert res.baseline is not None and res.baseline.value == pytest.approx(100 * 0.5 / 50)
    assert res.point_estimate == pytest.approx(-10.0) and res.verdict == "verified"
    cost = Claim(id="k", title="k", kpi="cost_per_unit", change_pct=-5, tariff_per_kwh=0.8,
                 unit_costs={"per_unit_produced": 2.0, "per_operating_hour": 10.0},
                 baseline=p, reporting=p)  # type: ignore[arg-type]  # fmt: skip
    res = evaluate(cost, *periods)
    # per device-day: 100 kWh · 0.8 + 60 units · 2 + 20 PBT h · 10 = 400 over 50 good units
    assert res.baseline is not None and res.baseline.value == pytest.approx(400 / 50)
    assert res.reporting is not None and res.reporting.value == pytest.approx((90 * 0.8 + 120 + 200) / 50)


@pytest.mark.parametrize(
    ("names", "role", "expected"),
    [
        ([("parts_total", "counter"), ("parts_good", "counter")], "produced", "parts_total"),
        ([("shots_total", "counter"), ("shots_good", "counter")], "good", "shots_good"),
        ([("strokes", "counter"), ("parts_good", "counter")], "produced", "strokes"),
        ([("carriers", "counter"), ("carriers_ok", "counter")], "produced", "carriers"),
        ([("carriers", "counter"), ("carriers_ok", "counter")], "good", "carriers_ok"),
        ([("volume_total", "counter")], "good", None),
        ([("a", "counter"), ("b", "counter")], "produced", None),
        ([("energy_import", "energy"), ("state", "state")], "energy", "energy_import"),
        ([("run", "state"), ("state", "state")], "state", "state"),
    ],
)
def test_point_rule(names: list[tuple[str, str]], role: str, expected: str | None) -> None:
    pts = [(i, name, kind, None) for i, (name, kind) in enumerate(names)]
    got = _pick(pts, role, None)
    assert (names[got[0]][0] if got else None) == expected


def test_a_verdict_stands_only_if_the_excluded_device_days_could_not_change_it() -> None:
    def period(start: dt.date, good_per_day: float, seed: int) -> DeviceDays:
        dd = _days(start, 60, 0.5, seed=seed, devices=10)
        rng = np.random.default_rng(seed)
        good = good_per_day * rng.uniform(0.6, 1.4, size=dd.good.shape)
        return DeviceDays(**{**{f: getattr(dd, f) for f in dd.__slots__}, "good": good})

    base, rep = period(dt.date(2026, 1, 1), 100.0, 1), period(dt.date(2026, 3, 2), 112.0, 2)
    clear = evaluate(_claim("work_efficiency", 5), base, rep)
    assert clear.verdict == "verified" and not any("excluded device-days" in n for n in clear.notes)
    # 5 % of the reporting device-days excluded (a counter stepped back): still verified, and said so
    for d in range(10):
        rep.good[d, d * 3 : d * 3 + 3] = np.nan
    weighed = evaluate(_claim("work_efficiency", 5), base, rep)
    assert weighed.verdict == "verified", weighed.to_json()
    assert any("30 excluded device-days could put the estimate" in n for n in weighed.notes), weighed.notes
    # a claim the valid days only just verify: what the excluded days held could undo it
    edge = evaluate(_claim("work_efficiency", weighed.ci_low - 0.2), base, rep)
    assert edge.verdict == "inconclusive"
    assert any("verified would not hold for every value" in r for r in edge.reasons), edge.reasons
