"""The data quality of one point over a span: rows in, counts and named findings out (pure numpy).

Four dimensions, each a share in [0, 1] (README, "Data quality"):
- completeness: received / expected readings. A silence of d > H (the heartbeat timeout) — between
  two readings, or at either end of the span — holds ⌈d / c⌉ − 1 missing readings, c the point's
  cadence: its median spacing in the span (its scan interval), at most H. A point that reports by
  exception is silent at most one heartbeat, so it misses nothing.
- validity: valid / received. A reading is invalid when its quality is not good, it lies outside
  the declared `range`, it changed faster than `max_rate_per_s` since the previous good reading,
  it belongs to a run of one unchanged value longer than `stuck_after_s` (after the run's first),
  or — counters and energy registers — its step is a back-step or an implausible increment by the
  counter rules of `collector.kpi.counters`.
- timeliness: timely / received. A reading is late when it was stored more than `late_after_s`
  (5 s) after a newer reading of the same point (its envelope entered the ledger in a later
  transaction); with a latency limit, also when it was stored more than that after its source
  time. Latency percentiles come from `LATENCY_EDGES`.
- uniqueness: received / (received + conflicts): offers of another value at a stored (point, time)
  (refused or replaced by the one-value rule, `reading_conflicts`). Repeats of the stored value are
  dropped and counted per device (`collector.quality.score`), and do not lower the share.
"""

# layering: pure

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from collector.kpi.counters import BACK_STEP, IMPLAUSIBLE, steps
from collector.quality.rules import MAX_LISTED, MIN_RATE_SPAN_S, NS_PER_S, PointRules, Settings

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
I16 = npt.NDArray[np.int16]
Span = tuple[int, int]  # [start, end) in ns
# Latency histogram: 0, then 20 bins per decade from 1 ms to 10^8 s (about 12 % wide).
LATENCY_EDGES = np.concatenate([[0.0], 10.0 ** np.linspace(-3, 8, 11 * 20 + 1)])


@dataclass(frozen=True, slots=True)
class Series:
    """One point's stored readings in a span, sorted by time."""

    t: I64  # source time, ns
    value: F64  # NaN: text point or no value
    quality: I16
    stored: I64  # when the reading's envelope entered the ledger (its transaction's time), ns
    envelope: I64  # its envelope id

    def __post_init__(self) -> None:
        n = len(self.t)
        if not all(len(a) == n for a in (self.value, self.quality, self.stored, self.envelope)):
            raise ValueError("the columns of a series differ in length")


@dataclass(slots=True)
class PointQuality:
    received: int = 0
    expected: int = 0
    good: int = 0
    uncertain: int = 0
    bad: int = 0
    out_of_range: int = 0
    too_fast: int = 0
    stuck: int = 0
    back_steps: int = 0
    implausible_increments: int = 0
    invalid: int = 0
    late: int = 0
    over_latency: int = 0
    untimely: int = 0
    conflicts: int = 0
    cadence_s: float | None = None
    latency: I64 = field(default_factory=lambda: np.zeros(len(LATENCY_EDGES), dtype=np.int64))
    # named findings, at most MAX_LISTED each: [start, end) of gaps and stuck runs, times of steps
    gaps: list[Span] = field(default_factory=list)
    stuck_runs: list[Span] = field(default_factory=list)
    discontinuities: list[int] = field(default_factory=list)
    out_of_range_at: list[int] = field(default_factory=list)
    too_fast_at: list[int] = field(default_factory=list)


def assess(
    series: Series, rules: PointRules, span: Span, settings: Settings, conflicts: int = 0
) -> PointQuality:
    """Judge one point's readings in `span` (readings outside it are ignored)."""
    inside = (series.t >= span[0]) & (series.t < span[1])
    t, v, q = series.t[inside], series.value[inside], series.quality[inside]
    out = PointQuality(received=len(t), conflicts=conflicts)
    _completeness(out, t, span, settings.heartbeat_timeout_s * NS_PER_S)
    _validity(out, t, v, q, rules)
    _timeliness(out, t, series.stored[inside], settings)
    return out


def _completeness(out: PointQuality, t: I64, span: Span, heartbeat_ns: float) -> None:
    cadence = float(np.median(np.diff(t))) if len(t) >= 2 else heartbeat_ns
    cadence = min(max(cadence, 1.0), heartbeat_ns)
    edges = np.concatenate([[span[0]], t, [span[1]]])
    silence = np.diff(edges)
    long = np.flatnonzero(silence > heartbeat_ns)
    missing = np.ceil(silence[long] / cadence) - 1
    out.expected = out.received + int(missing.sum())
    out.cadence_s = cadence / NS_PER_S
    out.gaps = [(int(edges[i]), int(edges[i + 1])) for i in long[:MAX_LISTED]]


def _validity(out: PointQuality, t: I64, v: F64, q: I16, rules: PointRules) -> None:
    out.good = int(np.count_nonzero(q == 0))
    out.uncertain = int(np.count_nonzero(q == 1))
    out.bad = int(np.count_nonzero(q >= 2))
    invalid = q != 0
    judged = (q == 0) & np.isfinite(v) if rules.numeric else np.zeros(len(t), dtype=bool)
    idx = np.flatnonzero(judged)
    tg, vg = t[idx], v[idx]
    if rules.has_range:
        bad_range = (vg < rules.low) | (vg > rules.high)
        out.out_of_range = int(bad_range.sum())
        out.out_of_range_at = tg[bad_range][:MAX_LISTED].tolist()
        invalid[idx[bad_range]] = True
    if rules.max_rate_per_s is not None and len(idx) >= 2:
        span_s = np.maximum(np.diff(tg) / NS_PER_S, MIN_RATE_SPAN_S)
        fast = np.concatenate([[False], np.abs(np.diff(vg)) / span_s > rules.max_rate_per_s])
        out.too_fast = int(fast.sum())
        out.too_fast_at = tg[fast][:MAX_LISTED].tolist()
        invalid[idx[fast]] = True
    if rules.stuck_after_s is not None and len(idx) >= 2:
        frozen, runs = _stuck(tg, vg, rules.stuck_after_s * NS_PER_S)
        out.stuck = int(frozen.sum())
        out.stuck_runs = runs[:MAX_LISTED]
        invalid[idx[frozen]] = True
    if rules.kind in ("counter", "energy") and len(idx) >= 2:
        n = len(idx)
        wrap = np.full(n, rules.wrap if rules.wrap else np.nan)
        rate = np.full(n, rules.ideal_rate_per_hour or np.nan)
        flags = steps(np.zeros(n, dtype=np.int64), tg, vg, wrap=wrap, rate_per_hour=rate).flags
        out.back_steps = int(np.count_nonzero(flags & BACK_STEP))
        out.implausible_increments = int(np.count_nonzero(flags & IMPLAUSIBLE))
        out.discontinuities = tg[flags != 0][:MAX_LISTED].tolist()
        invalid[idx[flags != 0]] = True
    out.invalid = int(invalid.sum())


def _stuck(t: I64, v: F64, limit_ns: float) -> tuple[npt.NDArray[np.bool_], list[Span]]:
    """Readings in runs of one unchanged value spanning more than `limit_ns` (each run's first excepted)."""
    new_run = np.concatenate([[True], v[1:] != v[:-1]])
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], len(v)) - 1  # index of each run's last reading
    long = (t[ends] - t[starts]) > limit_ns
    frozen = np.zeros(len(v), dtype=bool)
    for s, e in zip(starts[long].tolist(), ends[long].tolist(), strict=True):
        frozen[s + 1 : e + 1] = True
    runs = [(int(t[s]), int(t[e])) for s, e in zip(starts[long], ends[long], strict=True)]
    return frozen, runs


def _timeliness(out: PointQuality, t: I64, stored: I64, settings: Settings) -> None:
    if not len(t):
        return
    # stored after a newer reading: later than the earliest storing of every newer reading, by more
    # than batches committing side by side can invert (readings of one transaction share its time)
    first_newer = np.minimum.accumulate(stored[::-1])[::-1]
    late = np.concatenate([stored[:-1] > first_newer[1:] + settings.late_after_s * NS_PER_S, [False]])
    latency_s = (stored - t) / NS_PER_S
    over = (
        latency_s > settings.max_latency_s
        if settings.max_latency_s is not None
        else np.zeros(len(t), dtype=bool)
    )
    out.late = int(late.sum())
    out.over_latency = int(over.sum())
    out.untimely = int((late | over).sum())
    bins = np.searchsorted(LATENCY_EDGES, np.maximum(latency_s, 0.0), side="right") - 1
    out.latency = np.bincount(bins, minlength=len(LATENCY_EDGES)).astype(np.int64)


def percentile(histogram: I64, share: float) -> float | None:
    """The upper edge of the bin holding the `share` quantile (None without readings)."""
    total = int(histogram.sum())
    if total == 0:
        return None
    i = int(np.searchsorted(np.cumsum(histogram), math.ceil(share * total)))
    return float(LATENCY_EDGES[min(i + 1, len(LATENCY_EDGES) - 1)])
