"""The data-quality core (pure): each dimension counts what its rule says, nothing else moves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collector.quality.assess import LATENCY_EDGES, PointQuality, Series, assess, percentile
from collector.quality.rules import PointRules, Settings
from collector.quality.score import DIMENSIONS, Duplicates, PointResult, Tally, score, site_json

S = 1_000_000_000
T0 = 1_772_409_600 * S  # 2026-03-02T00:00Z
HOUR = 3600 * S
ANALOG = PointRules("analog", True)


def series(t: list[int] | np.ndarray, values: list[float] | np.ndarray, **kw: np.ndarray) -> Series:
    t = np.asarray(t, dtype=np.int64)
    n = len(t)
    return Series(
        t=t,
        value=np.asarray(values, dtype=np.float64),
        quality=kw.get("quality", np.zeros(n, dtype=np.int16)),
        stored=kw.get("stored", t + S),  # stored one second after the source time
        envelope=kw.get("envelope", np.arange(n, dtype=np.int64)),
    )


def grid(hours: float = 1.0, step_s: int = 60) -> np.ndarray:
    return T0 + np.arange(0, round(hours * 3600), step_s, dtype=np.int64) * S


def noisy(n: int, level: float = 5.0) -> np.ndarray:
    return level + 0.01 * np.sin(np.arange(n) * 1.3)  # never the same value twice in a row


def dims(q: PointQuality) -> dict[str, float | None]:
    tally = Tally()
    tally.add(q)
    return tally.dimensions()


def test_a_clean_point_scores_one_on_every_dimension() -> None:
    t = grid(2)
    q = assess(series(t, noisy(len(t))), ANALOG, (T0, T0 + 2 * HOUR), Settings())
    assert (q.received, q.expected, q.invalid, q.untimely) == (120, 120, 0, 0)
    assert dims(q) == dict.fromkeys(DIMENSIONS, 1.0)
    assert q.cadence_s == 60.0


def test_a_silence_longer_than_the_heartbeat_timeout_holds_missing_readings_at_the_cadence() -> None:
    t = grid(3)
    keep = (t < T0 + HOUR) | (t >= T0 + 2 * HOUR)  # the second hour is missing: 60 readings
    q = assess(series(t[keep], noisy(int(keep.sum()))), ANALOG, (T0, T0 + 3 * HOUR), Settings())
    # the silence from 00:59 to 02:00 is 61 minutes: ⌈61⌉ − 1 = 60 missing readings
    assert (q.received, q.expected) == (120, 180)
    assert q.gaps == [(T0 + HOUR - 60 * S, T0 + 2 * HOUR)]
    d = dims(q)
    assert d["completeness"] == pytest.approx(120 / 180, abs=1e-6)
    assert d["validity"] == d["timeliness"] == d["uniqueness"] == 1.0


def test_a_point_reporting_by_exception_misses_nothing_within_its_heartbeat() -> None:
    t = T0 + np.array([0, 5, 7, 300, 900, 1500, 2100, 2700, 3300], dtype=np.int64) * S  # ≤ 600 s apart
    q = assess(series(t, noisy(len(t))), ANALOG, (T0, T0 + HOUR), Settings(heartbeat_timeout_s=600))
    assert q.expected == q.received == 9
    # a point silent for the whole span misses span / H − 1 readings
    empty = assess(series([], []), ANALOG, (T0, T0 + HOUR), Settings(heartbeat_timeout_s=600))
    assert (empty.received, empty.expected) == (0, 5)
    assert dims(empty) == {"completeness": 0.0, "validity": None, "timeliness": None, "uniqueness": None}


def test_quality_shares_and_range() -> None:
    t = grid(1)
    v = noisy(len(t))
    v[10], v[20] = 99.0, -3.0
    quality = np.zeros(len(t), dtype=np.int16)
    quality[30], quality[31], quality[40] = 1, 1, 2
    rules = PointRules("analog", True, low=0.0, high=50.0)
    q = assess(series(t, v, quality=quality), rules, (T0, T0 + HOUR), Settings())
    assert (q.good, q.uncertain, q.bad, q.out_of_range) == (57, 2, 1, 2)
    assert q.out_of_range_at == [int(t[10]), int(t[20])]
    assert q.invalid == 5
    assert dims(q)["validity"] == pytest.approx(55 / 60, abs=1e-6)
    assert dims(q)["completeness"] == 1.0
    tally = Tally()
    tally.add(q)
    assert tally.to_json()["quality_shares"] == {
        "good": 0.95,
        "uncertain": round(2 / 60, 6),
        "bad": round(1 / 60, 6),
    }


def test_rate_of_change_is_judged_over_at_least_a_second() -> None:
    t = grid(1)
    v = noisy(len(t))
    v[25:] += 100.0  # one jump of 100 in 60 s: 1.67 /s
    q = assess(series(t, v), PointRules("analog", True, max_rate_per_s=1.0), (T0, T0 + HOUR), Settings())
    assert (q.too_fast, q.too_fast_at) == (1, [int(t[25])])
    fast = T0 + np.array([0, 1_000_000, 2_000_000], dtype=np.int64)  # 1 ms apart, noise of 0.5
    q = assess(series(fast, [1.0, 1.5, 1.0]), PointRules("analog", True, max_rate_per_s=1.0),
               (T0, T0 + S), Settings())  # fmt: skip
    assert q.too_fast == 0


def test_a_stuck_sensor_is_named_with_its_run() -> None:
    t = grid(3)
    v = noisy(len(t))
    v[60:120] = v[60]  # frozen for 59 minutes
    rules = PointRules("analog", True, stuck_after_s=1800)
    q = assess(series(t, v), rules, (T0, T0 + 3 * HOUR), Settings())
    assert q.stuck == 59  # the run's first reading is a true one
    assert q.stuck_runs == [(int(t[60]), int(t[119]))]
    short = PointRules("analog", True, stuck_after_s=3600)
    assert assess(series(t, v), short, (T0, T0 + 3 * HOUR), Settings()).stuck == 0


def test_counter_steps_reuse_the_counter_rules() -> None:
    t = grid(2)
    n = len(t)
    v = 1_000_000.0 + np.arange(n) * 0.5  # 30 per hour
    v[50:56] -= 48_812  # a back-step for six minutes, then back up (an implausible increment)
    v[90:] -= v[90] - 2.0  # a reset to near zero: counting restarted, not a fault
    rules = PointRules("counter", True, wrap=2.0**32, ideal_rate_per_hour=40.0)
    q = assess(series(t, v), rules, (T0, T0 + 2 * HOUR), Settings())
    assert (q.back_steps, q.implausible_increments) == (1, 1)
    assert q.discontinuities == [int(t[50]), int(t[56])]
    assert q.invalid == 2
    wrapped = np.mod(2.0**32 - 30 + np.arange(n) * 0.5, 2.0**32)  # the register wraps through zero
    w = assess(series(t, wrapped), rules, (T0, T0 + 2 * HOUR), Settings())
    assert (w.back_steps, w.implausible_increments) == (0, 0)
    v[50:56] += 48_812 + 48_812  # now a jump up for six minutes, then back down
    j = assess(series(t, v), rules, (T0, T0 + 2 * HOUR), Settings())
    assert (j.back_steps, j.implausible_increments) == (1, 1)


def test_late_arrivals_by_ledger_order_and_latency_limit() -> None:
    t = grid(1)
    n = len(t)
    stored = t + 2 * S
    stored[10:15] = t[-1] + 10 * S  # stored after every newer reading
    stored[20:23] = t[23] + 2 * S  # stored in the same transaction as the next newer one: not late
    stored[30] = stored[31] + 4 * S  # a commit 4 s after a newer one's: batches side by side, not late
    stored[-1] = t[-1] + 400 * S  # slow, but nothing newer was stored before it
    s = series(t, noisy(n), stored=stored)
    q = assess(s, ANALOG, (T0, T0 + HOUR), Settings())
    assert (q.late, q.over_latency, q.untimely) == (5, 0, 5)
    q = assess(s, ANALOG, (T0, T0 + HOUR), Settings(max_latency_s=300))
    assert (q.late, q.over_latency, q.untimely) == (5, 6, 6)  # the late five are also slow
    assert percentile(q.latency, 0.5) == pytest.approx(2.0, rel=0.13)
    assert percentile(q.latency, 1.0) == pytest.approx((t[-1] + 10 * S - t[10]) / S, rel=0.13)
    assert percentile(np.zeros(len(LATENCY_EDGES), dtype=np.int64), 0.5) is None
    strict = assess(s, ANALOG, (T0, T0 + HOUR), Settings(late_after_s=0))
    assert strict.late == 5 + 1  # the side-by-side commit counts; one transaction never does


def test_uniqueness_counts_conflicts_and_repeats_do_not_lower_it() -> None:
    t = grid(1)
    q = assess(series(t, noisy(len(t))), ANALOG, (T0, T0 + HOUR), Settings(), conflicts=3)
    assert dims(q)["uniqueness"] == pytest.approx(60 / 63, abs=1e-6)
    d = Duplicates(offered=200, stored=150, refused=3, replaced=2)
    assert d.repeats == 45
    assert d.to_json()["repeats_dropped"] == 45


def test_readings_outside_the_span_are_not_judged() -> None:
    t = np.concatenate([grid(1) - HOUR, grid(1)])
    q = assess(series(t, noisy(len(t))), ANALOG, (T0, T0 + HOUR), Settings())
    assert q.received == q.expected == 60


def test_the_site_score_is_the_mean_of_its_dimensions_and_names_the_points() -> None:
    t = grid(2)
    clean = assess(series(t, noisy(len(t))), ANALOG, (T0, T0 + 2 * HOUR), Settings())
    gap = assess(series(t[:60], noisy(60)), ANALOG, (T0, T0 + 2 * HOUR), Settings())
    points = [PointResult("m-1", "a", ANALOG, clean), PointResult("m-2", "b", ANALOG, gap)]
    out = site_json("s", {"m-1": "pump", "m-2": "press"}, points, {"m-2": Duplicates(100, 60, 0, 0)})
    c = out["dimensions"]["completeness"]
    assert c == pytest.approx(180 / 240, abs=1e-6)
    assert out["score"] == pytest.approx(100 * (c + 3) / 4, abs=0.01)
    assert out["affected_points"] == {"completeness": ["m-2/b"], "validity": [], "timeliness": [],
                                      "uniqueness": []}  # fmt: skip
    assert [d["device"] for d in out["devices"]] == ["m-1", "m-2"]
    assert out["devices"][1]["duplicates"]["repeats_dropped"] == 40
    assert out["devices"][1]["points"][0]["findings"]["gaps"][0][1] == "2026-03-02T02:00:00Z"
    assert score({"a": None, "b": None}) is None
    assert math.isclose(score({"a": 0.5, "b": None}) or 0, 50.0)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        Settings(heartbeat_timeout_s=0)
    with pytest.raises(ValueError, match="latency"):
        Settings(max_latency_s=-1)
    with pytest.raises(ValueError, match="late"):
        Settings(late_after_s=-1)
