"""The data-quality core over many points, computation only (collector.quality.assess).

Run: python -m bench.bench_quality [--points N] [--readings-per-point M]
Prints the readings judged per second against a ceiling measured in the same run: one np.diff and
one comparison over the same arrays (the least any pass over each point's readings costs here).
Each point is an analog with every rule declared (range, rate of change, stuck runs) and a few
gaps, so every check runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.report import emit
from collector.quality.assess import Series, assess
from collector.quality.rules import PointRules, Settings

S = 1_000_000_000
T0 = 1_772_409_600 * S
RULES = PointRules("analog", True, low=-10.0, high=110.0, max_rate_per_s=5.0, stuck_after_s=1800)


def _series(rng: np.random.Generator, n: int) -> Series:
    t = T0 + np.cumsum(rng.choice([60, 60, 60, 60, 3600], size=n, p=[0.25, 0.25, 0.25, 0.249, 0.001])) * S
    value = 50 + rng.normal(0, 1, n)
    value[n // 3 : n // 3 + 60] = value[n // 3]  # one stuck run
    return Series(t, value, np.zeros(n, dtype=np.int16), t + S, np.arange(n, dtype=np.int64))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--readings-per-point", type=int, default=10_080)  # a week at one per minute
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    points = [_series(rng, args.readings_per_point) for _ in range(args.points)]
    total = args.points * args.readings_per_point
    settings = Settings()
    t0 = time.perf_counter()
    for s in points:
        assess(s, RULES, (int(s.t[0]), int(s.t[-1]) + S), settings)
    judged = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in points:
        int(np.count_nonzero(np.diff(s.t) > 600 * S))
    ceiling = time.perf_counter() - t0
    print(f"{args.points:,} points x {args.readings_per_point:,} readings: {judged:.2f} s")
    emit("readings judged/s", total / judged, "readings/s", total / ceiling, "one np.diff and compare")


if __name__ == "__main__":
    main()
