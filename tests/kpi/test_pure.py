"""Time model, counters and interval statistics against hand-computed truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from collector.kpi.counters import BACK_STEP, IMPLAUSIBLE, OVER_NO_DATA, daily_increments, steps
from collector.kpi.stats import bootstrap_change, poisson_rate_ratio
from collector.kpi.timemodel import DAY_NS, NO_DATA, build_timeline, covered, sanitize_codes
from wire.states import STATE_CODES as C

S = 10**9
D0 = 20_000 * DAY_NS  # a UTC midnight


def tl(
    times_s: list[float],
    codes: list[int],
    days: int = 1,
    timeout_s: float = 300,
    devs: list[int] | None = None,
):
    t = np.array([D0 + int(x * S) for x in times_s], dtype=np.int64)
    dev = np.array(devs if devs else [0] * len(t), dtype=np.int64)
    return build_timeline(
        dev,
        t,
        np.array(codes, dtype=np.int64),
        n_devices=int(dev.max()) + 1 if len(dev) else 1,
        start=D0,
        end=D0 + days * DAY_NS,
        timeout_ns=timeout_s * S,
    )


def test_sample_holds_until_next_but_never_beyond_timeout() -> None:
    # running at 0 with heartbeats every 200 s until 1000, then silence until 5000 (unplanned_stop)
    r = tl([0, 200, 400, 600, 800, 1000, 5000], [C["running"]] * 6 + [C["unplanned_stop"]])
    secs = r.seconds[0, 0]
    assert secs[C["running"]] == pytest.approx(1000 + 300)  # last heartbeat holds one timeout
    assert secs[C["unplanned_stop"]] == pytest.approx(300)  # the last sample holds one timeout too
    assert secs[NO_DATA] == pytest.approx(86_400 - 1600)
    assert secs.sum() == pytest.approx(86_400)


def test_state_before_window_seeds_start_and_segments_split_at_midnight() -> None:
    r = tl([-100, 86_300, 86_500], [C["planned_stop"], C["running"], C["running"]], days=2, timeout_s=400)
    assert r.seconds[0, 0, C["planned_stop"]] == pytest.approx(300)  # from the window start only
    assert r.seconds[0, 0, C["running"]] == pytest.approx(100)
    assert r.seconds[0, 1, C["running"]] == pytest.approx(100 + 400)
    assert r.seconds.sum(axis=2) == pytest.approx(np.full((1, 2), 86_400.0))


def test_coverage_pbt_and_events() -> None:
    # 12 h planned stop, 6 h running, 1 h corrective maintenance (a failure and a maintenance event),
    # 5 h no data; heartbeat every 10 min, timeout 15 min.
    ts, cs = [], []
    for a, b, code in ((0, 12, "planned_stop"), (12, 18, "running"), (18, 19, "corrective_maintenance")):
        for x in np.arange(a * 3600, b * 3600, 600):
            ts.append(float(x))
            cs.append(C[code])
    r = tl(ts, cs, timeout_s=900)
    assert r.pbt[0, 0] == pytest.approx(7 * 3600 + 300)  # the last sample holds 15 min
    assert r.apt[0, 0] == pytest.approx(6 * 3600)
    assert r.no_data[0, 0] == pytest.approx(5 * 3600 - 300)
    assert r.coverage[0, 0] == pytest.approx(r.pbt[0, 0] / (r.pbt[0, 0] + r.no_data[0, 0]))
    assert r.failures[0, 0] == 1 and r.maintenance[0, 0] == 1


def test_a_repair_resuming_after_a_planned_stop_is_one_failure() -> None:
    seq = ["running", "unplanned_stop", "corrective_maintenance", "planned_stop", "corrective_maintenance",
           "running", "minor_stop", "running", "corrective_maintenance"]  # fmt: skip
    r = tl([60.0 * i for i in range(len(seq))], [C[s] for s in seq])
    assert r.failures[0, 0] == 2  # the first stop (split by the break) and the last one
    assert r.maintenance[0, 0] == 2


def test_an_episode_first_seen_after_a_gap_in_state_data_is_not_counted() -> None:
    # running, then 20 minutes without state data (timeout 5 min), then a stop already under way: it
    # began in the gap, where nothing is known; a bad sample is a gap too
    seq = ["running", "unplanned_stop", "corrective_maintenance", "running", "unplanned_stop"]
    r = tl([0.0, 1200.0, 1260.0, 1320.0, 1380.0], [C[s] for s in seq], timeout_s=300)
    assert r.failures[0, 0] == 1  # only the last stop; its repair began in sight: one maintenance
    assert r.maintenance[0, 0] == 1
    r = tl([0.0, 60.0, 120.0], [C["running"], NO_DATA, C["unplanned_stop"]], timeout_s=300)
    assert r.failures[0, 0] == 0


def test_devices_are_independent_and_bad_samples_are_no_data() -> None:
    values = np.array([C["running"], np.nan, 3.5, 42, C["idle"]], dtype=np.float64)
    q = np.array([0, 0, 0, 0, 2], dtype=np.int16)
    assert list(sanitize_codes(values, q)) == [C["running"], NO_DATA, NO_DATA, NO_DATA, NO_DATA]
    r = tl([0, 0], [C["running"], C["idle"]], devs=[0, 1])
    assert r.seconds[0, 0, C["running"]] == pytest.approx(300)
    assert r.seconds[1, 0, C["idle"]] == pytest.approx(300)
    assert r.seconds[0, 0, C["idle"]] == 0


def test_unsorted_input_and_unaligned_window_are_rejected() -> None:
    with pytest.raises(ValueError):
        tl([10, 5], [0, 0])
    with pytest.raises(ValueError):
        build_timeline(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            n_devices=1,
            start=D0 + 1,
            end=D0 + DAY_NS,
            timeout_ns=1,
        )


def _steps(v: list[float], **kw: object) -> tuple[list[float], list[int]]:
    """Increments and flags of one device's counter sampled once a minute."""
    values = np.array(v, dtype=np.float64)
    t = np.arange(len(values), dtype=np.int64) * 60 * S
    got = steps(np.zeros(len(values), np.int64), t, values, **kw)  # type: ignore[arg-type]
    return got.inc.tolist(), got.flags.tolist()


def test_counter_unwraps_uint32_wrap_and_reset() -> None:
    wrap = float(2**32)
    v = [wrap - 30, wrap - 10, 5, 25, 3, 10]  # wrap, then a reset to 0 (3 ≤ two hours' production)
    rate = np.full(len(v), 4000.0)
    inc, flags = _steps(v, wrap=np.full(len(v), wrap), rate_per_hour=rate)
    assert inc == [0, 20, 15, 20, 3, 7] and not any(flags)
    # without a declared wrap the drop to near zero is a reset
    assert _steps(v, rate_per_hour=rate)[0][2] == 5
    # a second device starts fresh
    dev2 = np.array([0, 0, 1, 1], dtype=np.int64)
    got = steps(dev2, np.arange(4, dtype=np.int64) * 60 * S, np.array([1.0, 4.0, 100.0, 130.0]))
    assert got.inc.tolist() == [0, 3, 0, 30]


def test_a_counter_stepping_back_is_a_discontinuity_not_a_reset() -> None:
    # the historian overlap: 3,712,865,923 → 3,712,817,111 is no reset to zero
    v = [3_712_865_900.0, 3_712_865_923, 3_712_817_111, 3_712_817_130]
    inc, flags = _steps(v, wrap=np.full(4, 2.0**32), rate_per_hour=np.full(4, 4000.0))
    assert inc == [0, 23, 0, 19] and flags == [0, 0, BACK_STEP, 0]
    # near zero is relative to the previous value, or to two ideal-rate hours of production
    assert _steps([500.0, 4.0])[1] == [0, 0]  # 4 ≤ 1 % of 500: a reset
    assert _steps([500.0, 60.0])[1] == [0, BACK_STEP]
    assert _steps([500.0, 60.0], rate_per_hour=np.full(2, 4000.0))[0] == [0, 60]  # two hours: 8000


def test_implausible_increments_are_excluded_and_flagged() -> None:
    rate = np.full(4, 40.0)  # 3 × 40/h over a minute is 2 units, plus one for the integer counter
    inc, flags = _steps([100.0, 103.0, 104.0, 1_000_104.0], rate_per_hour=rate)
    assert inc == [0, 3, 1, 0] and flags == [0, 0, 0, IMPLAUSIBLE]
    # a wrap whose unwrapped increment is implausible is read as what it is: a reset near zero
    inc, flags = _steps([2.0**32 - 3_000_000, 2.0], wrap=np.full(2, 2.0**32), rate_per_hour=rate[:2])
    assert inc == [0, 2] and flags == [0, 0]
    # devices without an ideal rate are not checked
    assert _steps([100.0, 1_000_000.0])[1] == [0, 0]


def test_increments_over_no_data_are_excluded_and_flag_the_days_whose_planned_time_they_hold() -> None:
    state_t = np.array([D0 - 3600 * S, D0 + 3600 * S], dtype=np.int64)  # no_data 10 min after the first
    state = covered(
        np.zeros(2, np.int64), state_t, np.ones(2, np.int64), end=D0 + 2 * DAY_NS, timeout_ns=600 * S
    )
    zero = np.zeros(1, np.int64)
    assert state.between(zero, np.array([D0 - 3600 * S]), np.array([D0 + 7200 * S])).tolist() == [1200 * S]
    t = np.array([-3600, -3000, 600, 1200, 3660, 3720], dtype=np.int64) * S + D0
    v = np.array([10.0, 15.0, 40.0, 50.0, 90.0, 91.0])
    got = daily_increments(
        np.zeros(len(t), np.int64), t, v, n_devices=1, start=D0 - DAY_NS, end=D0 + DAY_NS, covered=state
    )
    # 15 → 40 → 50 lie wholly in no_data (in no day's PBT): excluded, nothing flagged; 50 → 90 ends
    # in a minute of covered planned time of day 1: excluded and day 1 flagged; 90 → 91 is covered
    assert got.inc.tolist() == [[5.0, 1.0]] and got.invalid.tolist() == [[0, OVER_NO_DATA]]
    assert got.excluded["increments over no_data"].tolist() == [[0, 3]]


def test_daily_increments_use_lookback_and_drop_bad_samples() -> None:
    t = np.array([D0 - 60 * S, D0 + 60 * S, D0 + 120 * S, D0 + DAY_NS + 1], dtype=np.int64)
    v = np.array([100.0, 110.0, 1e9, 130.0])
    q = np.array([0, 0, 2, 0], dtype=np.int16)
    got = daily_increments(np.zeros(4, np.int64), t, v, n_devices=1, start=D0, end=D0 + 2 * DAY_NS, quality=q)
    assert got.inc.tolist() == [[10.0, 20.0]] and not got.invalid.any()


def test_bootstrap_is_seeded_and_brackets_the_truth() -> None:
    rng = np.random.default_rng(1)
    den_b, den_r = np.full(90, 100.0), np.full(90, 100.0)
    num_b = rng.normal(10, 1, 90)
    num_r = rng.normal(7, 1, 90)
    a = bootstrap_change(num_b, den_b, num_r, den_r, kind="relative")
    b = bootstrap_change(num_b, den_b, num_r, den_r, kind="relative")
    assert a == b
    assert a.low < a.estimate < a.high
    assert a.low < -0.3 < a.high and a.high - a.low < 0.1
    pp = bootstrap_change(num_b, den_b, num_r, den_r, kind="pp")
    assert pp.estimate == pytest.approx(100 * (num_r.sum() - num_b.sum()) / 9000)


def test_poisson_rate_ratio_matches_known_values() -> None:
    # equal exposure, 10 vs 10 events: ratio 1, exact 90 % interval from the binomial (n=20, k=10)
    iv = poisson_rate_ratio(10, 1.0, 10, 1.0, confidence=0.90)
    assert iv.estimate == 1.0
    # Clopper–Pearson by its definition: P(K >= 10 | p_lo) = 0.05 and P(K <= 10 | p_hi) = 0.05
    p_lo, p_hi = iv.low / (1 + iv.low), iv.high / (1 + iv.high)
    assert binom.sf(9, 20, p_lo) == pytest.approx(0.05, abs=1e-6)
    assert binom.cdf(10, 20, p_hi) == pytest.approx(0.05, abs=1e-6)
    assert iv.low * iv.high == pytest.approx(1.0)  # symmetric on the log scale
    zero = poisson_rate_ratio(5, 2.0, 0, 1.0)
    assert zero.low == 0.0 and math.isfinite(zero.high)
    # coverage check by simulation: the 90 % interval holds the true ratio ~90 % of the time
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(400):
        kb, kr = rng.poisson(30 * 2.0), rng.poisson(30 * 1.5)
        iv = poisson_rate_ratio(int(kb), 2.0, int(kr), 2.0)
        hits += iv.low <= 0.75 <= iv.high
    assert 0.85 <= hits / 400 <= 0.98


def test_device_chunking_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.kpi import engine

    rng = np.random.default_rng(9)
    n, per = 7, 3000
    dev = np.repeat(np.arange(n, dtype=np.int64), per)
    t = np.sort(rng.integers(D0 - DAY_NS, D0 + 5 * DAY_NS, size=(n, per)), axis=1).ravel().astype(np.int64)
    codes = rng.integers(0, 10, size=n * per).astype(np.float64)
    counter = np.cumsum(rng.poisson(3, size=(n, per)), axis=1).ravel().astype(np.float64)
    q = np.zeros(n * per, dtype=np.int16)
    state = engine.Series(dev, t, codes, q)
    cnt = engine.Series(dev, t, counter, q, np.full(n * per, np.nan))
    import datetime as dt

    first = dt.date(1970, 1, 1) + dt.timedelta(days=D0 // DAY_NS)
    data = engine.PeriodData(
        first,
        first + dt.timedelta(days=3),
        [f"d{i}" for i in range(n)],
        np.full(n, 1e6),
        state,
        cnt,
        cnt,
        cnt,
    )
    whole = engine.device_days(data, 3600)
    monkeypatch.setattr(engine, "CHUNK_ROWS", 500)
    parts = engine.device_days(data, 3600)
    assert np.array_equal(whole.timeline.seconds, parts.timeline.seconds)
    assert np.array_equal(whole.timeline.failures, parts.timeline.failures)
    assert np.array_equal(whole.produced, parts.produced, equal_nan=True) and np.nansum(whole.produced) > 0
    assert np.array_equal(whole.counter_flags["produced"], parts.counter_flags["produced"])
