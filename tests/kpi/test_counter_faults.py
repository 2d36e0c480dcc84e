"""Counter KPIs under the faults real plants have (the reported cases), against the clean truth.

Each case runs the engine on a synthetic plant's samples with a fault injected and compares with the
same plant's clean samples (on which the engine is exact per device-day): the estimate is within 0.1
of the truth over the device-days the faulty data leaves valid, and the verdict is the clean one or
inconclusive — never one that clean data would not give.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pytest

from collector.kpi.claims import Claim, Period
from collector.kpi.engine import DeviceDays, PeriodData, Series, device_days, kpi_parts
from collector.kpi.stats import change
from collector.kpi.verify import ClaimResult, evaluate, share_text
from tests.kpi.synth import Plant, Regime, day_ns

BASE = Period(start=dt.date(2026, 1, 5), end=dt.date(2026, 2, 1))
REP = Period(start=dt.date(2026, 2, 2), end=dt.date(2026, 3, 1))
N = 4
TIMEOUT_S = 1800  # the synthetic plant's state heartbeat is 20 minutes
HOUR = 3600 * 10**9
Arrays = dict[str, tuple[np.ndarray, np.ndarray]]
Edit = Callable[[int, Arrays], Arrays]
ROLES = {"state": "state", "produced": "parts_total", "good": "parts_good", "energy": "energy"}


@pytest.fixture(scope="module")
def plant() -> Plant:
    plant = Plant(N, seed=3)
    plant.generate(BASE.start, BASE.days, Regime(stops_per_day=3.0, yield_=0.95))
    plant.generate(REP.start, REP.days, Regime(stops_per_day=2.6, yield_=0.955))
    return plant


def _data(plant: Plant, period: Period, edit: Edit | None = None) -> PeriodData:
    lo, hi = day_ns(period.start) - 24 * HOUR, day_ns(period.end) + 24 * HOUR
    cols: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {r: [] for r in ROLES}
    for d in range(N):
        arrays = plant.arrays(d)
        arrays = edit(d, arrays) if edit else arrays
        for role, name in ROLES.items():
            t, v = arrays[name]
            keep = (t >= lo) & (t < hi)
            cols[role].append((d, t[keep], v[keep]))

    def series(rows: list[tuple[int, np.ndarray, np.ndarray]]) -> Series:
        t = np.concatenate([t for _, t, _ in rows]).astype(np.int64)
        return Series(
            dev=np.concatenate([np.full(len(t), d) for d, t, _ in rows]).astype(np.int64),
            t=t,
            value=np.concatenate([v for _, _, v in rows]).astype(np.float64),
            quality=np.zeros(len(t), np.int16),
            wrap=np.full(len(t), 2.0**32),
        )

    return PeriodData(
        period.start,
        period.end,
        [f"d{i}" for i in range(N)],
        np.full(N, 40.0),
        *(series(cols[r]) for r in ROLES),
    )


def _valid(claim: Claim, dd: DeviceDays) -> np.ndarray:
    num, den = kpi_parts(claim, dd)
    return np.asarray((dd.timeline.coverage >= claim.gates.device_day_coverage) & np.isfinite(num + den))


def _check(plant: Plant, claim: Claim, edit: Edit) -> tuple[ClaimResult, ClaimResult]:
    """The faulty result against the truth over the device-days it keeps; (faulty, clean) results."""
    base = device_days(_data(plant, BASE), TIMEOUT_S)
    clean_rep = device_days(_data(plant, REP), TIMEOUT_S)
    faulty_rep = device_days(_data(plant, REP, edit), TIMEOUT_S)
    clean = evaluate(claim, base, clean_rep)
    faulty = evaluate(claim, base, faulty_rep)
    keep = _valid(claim, faulty_rep)
    nb, db = kpi_parts(claim, base)
    nr, dr = kpi_parts(claim, clean_rep)
    truth = change(
        float(nb.sum()), float(db.sum()), float(nr[keep].sum()), float(dr[keep].sum()), claim.change_kind
    )
    scale = 1.0 if claim.change_kind == "pp" else 100.0
    assert faulty.point_estimate == pytest.approx(truth * scale, abs=0.1), (faulty.to_json(), truth * scale)
    assert faulty.verdict in (clean.verdict, "inconclusive"), (faulty.verdict, clean.verdict)
    return faulty, clean


def test_a_daily_three_hour_state_gap_does_not_inflate_work_efficiency(plant: Plant) -> None:
    def gap(d: int, a: Arrays) -> Arrays:
        t, v = a["state"]
        hour = (t % (24 * HOUR)) / HOUR
        lost = (hour >= 6) & (hour < 9) & (t >= day_ns(REP.start))  # counters keep coming
        return {**a, "state": (t[~lost], v[~lost])}

    claim = Claim(id="we", title="we", kpi="work_efficiency", change_pct=3, baseline=BASE, reporting=REP)
    faulty, clean = _check(plant, claim, gap)
    # (before: the gap's three hours of production were credited to 15 hours of PBT: +22 %, verified)
    assert clean.verdict == faulty.verdict == "refuted"
    assert faulty.reporting is not None and faulty.reporting.excluded_steps["increments over no_data"] > 0
    assert faulty.reporting.time_coverage == pytest.approx(15 / 18, abs=0.01)  # coverage says so
    said = f"{share_text(faulty.reporting.time_coverage)} of planned time with state data"
    assert any("increments over no_data" in n and said in n for n in faulty.notes), faulty.notes


def test_two_hours_of_deleted_state_readings_do_not_verify_an_oee_claim(plant: Plant) -> None:
    def deleted(d: int, a: Arrays) -> Arrays:
        t, v = a["state"]
        hour = (t % (24 * HOUR)) / HOUR
        lost = (d == 0) & (hour >= 12) & (hour < 14) & (t >= day_ns(REP.start))
        return {**a, "state": (t[~lost], v[~lost])}

    claim = Claim(id="oee", title="oee", kpi="oee", change_pp=1.0, baseline=BASE, reporting=REP)
    faulty, clean = _check(plant, claim, deleted)
    # (before: +3.6 pp, verified, from an inconclusive +1.5 pp on clean data)
    assert clean.verdict == faulty.verdict == "inconclusive"
    assert faulty.reporting is not None and faulty.reporting.excluded == {"increments over no_data": REP.days}
    assert faulty.reporting.coverage < 1.0
    assert any("below 90%" in r and "increments over no_data" in r for r in faulty.reasons), faulty.reasons


def test_a_back_step_near_the_top_of_a_counter_is_a_discontinuity(plant: Plant) -> None:
    at = day_ns(REP.start) + 10 * 24 * HOUR + 12 * HOUR

    def overlap(d: int, a: Arrays) -> Arrays:
        if d != 1:
            return a
        t, v = a["parts_good"]
        v = v + 3_712_000_000.0
        v[np.searchsorted(t, at)] -= 48_812  # one value from an overlapping historian import
        return {**a, "parts_good": (t, v)}

    claim = Claim(id="we", title="we", kpi="work_efficiency", change_pct=3, baseline=BASE, reporting=REP)
    faulty, clean = _check(plant, claim, overlap)
    # (before: the whole register value was counted as units made: +5.75 million %)
    assert faulty.verdict == clean.verdict == "refuted"
    assert faulty.reporting is not None
    assert faulty.reporting.excluded == {
        "a counter stepping back (discontinuity)": 1,
        "implausible increments (beyond the ideal-rate limit)": 1,
    }
    assert faulty.reporting.coverage == pytest.approx(1 - 1 / (N * REP.days))
    assert any("99.1% of device-days valid" in n for n in faulty.notes), faulty.notes


def test_a_reset_to_zero_and_a_register_wrap_are_counted_exactly(plant: Plant) -> None:
    at = day_ns(REP.start) + 5 * 24 * HOUR + 12 * HOUR

    def reset_and_wrap(d: int, a: Arrays) -> Arrays:
        t, v = a["parts_good"]
        if d == 2:  # the device resets its counter: counting restarts from zero
            v = np.where(t >= at, v - v[np.searchsorted(t, at) - 1], v)
        if d == 3:  # a uint32 register wraps mid-period
            v = np.mod(v + 2.0**32 - v[np.searchsorted(t, at)], 2.0**32)
        return {**a, "parts_good": (t, v)}

    claim = Claim(id="we", title="we", kpi="work_efficiency", change_pct=3, baseline=BASE, reporting=REP)
    faulty, clean = _check(plant, claim, reset_and_wrap)
    assert (
        faulty.reporting is not None and faulty.reporting.excluded == {} and faulty.reporting.coverage == 1.0
    )
    assert faulty.point_estimate == pytest.approx(clean.point_estimate, abs=0.05)
