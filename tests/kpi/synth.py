"""A synthetic plant with known truth: state intervals, counters and energy per device-day.

Each day: 00:00–06:00 planned stop, 06:00–24:00 planned time with running interrupted by unplanned
stops placed in distinct hourly slots. Samples: every transition plus a heartbeat every 20 minutes.
Counters are cumulative functions of running time, sampled on the heartbeat grid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from wire.states import STATE_CODES

DAY = 86_400 * 10**9
MIN = 60 * 10**9
HEARTBEAT = 20 * MIN
EPOCH = dt.date(1970, 1, 1)
RUN, PSTOP, USTOP = STATE_CODES["running"], STATE_CODES["planned_stop"], STATE_CODES["unplanned_stop"]


@dataclass(frozen=True)
class Regime:
    stops_per_day: float = 3.0  # mean unplanned stops per device-day
    yield_: float = 0.95
    run_kw: float = 11.0
    rate_per_hour: float = 36.0


@dataclass
class DeviceData:
    state_t: list[np.ndarray] = field(default_factory=list)
    state_code: list[np.ndarray] = field(default_factory=list)
    grid: list[np.ndarray] = field(default_factory=list)
    run_s: list[np.ndarray] = field(default_factory=list)  # running seconds since the previous grid point
    other_s: list[np.ndarray] = field(default_factory=list)


@dataclass
class Truth:
    unplanned_s: float = 0.0
    pbt_s: float = 0.0
    produced: float = 0.0
    good: float = 0.0
    kwh: float = 0.0


def day_ns(d: dt.date) -> int:
    return (d - EPOCH).days * DAY


def simulate_day(rng: np.random.Generator, t0: int, reg: Regime) -> tuple[np.ndarray, np.ndarray, float]:
    """Transitions (times, codes) of one day and its unplanned seconds."""
    k = min(rng.poisson(reg.stops_per_day), 18)
    slots = np.sort(rng.choice(18, size=k, replace=False)) + 6
    durs = rng.integers(5 * MIN, 40 * MIN, size=k)
    ts, cs = [t0, t0 + 6 * 3600 * 10**9], [PSTOP, RUN]
    for slot, d in zip(slots, durs, strict=True):
        a = t0 + int(slot) * 3600 * 10**9 + 10 * MIN + int(rng.integers(0, MIN))
        ts += [a, a + int(d)]
        cs += [USTOP, RUN]
    return np.array(ts, dtype=np.int64), np.array(cs, dtype=np.int64), float(durs.sum()) / 1e9


def run_seconds(trans_t: np.ndarray, trans_c: np.ndarray, grid: np.ndarray, end: int) -> np.ndarray:
    """Cumulative running seconds at each grid time (since the first transition)."""
    bounds = np.append(trans_t, end)
    running = (trans_c == RUN).astype(np.float64)
    cum = np.concatenate([[0.0], np.cumsum(running * np.diff(bounds))])
    i = np.searchsorted(trans_t, grid, side="right") - 1
    return (cum[i] + running[i] * (grid - trans_t[i])) / 1e9


@dataclass
class Plant:
    """Samples for `n` devices over consecutive periods with their own regimes."""

    n: int
    seed: int = 7
    samples: dict[int, dict[str, list[np.ndarray]]] = field(default_factory=dict)

    def generate(
        self, start: dt.date, days: int, reg: Regime, drop_state_days: float = 0.0, hole_hours: float = 0.0
    ) -> Truth:
        """Samples for `days` days; `drop_state_days` loses whole days of state data at random,
        `hole_hours` loses every day's state samples from 06:00 on for that long."""
        rng = np.random.default_rng(self.seed + day_ns(start) // DAY)
        truth = Truth()
        for dev in range(self.n):
            s = self.samples.setdefault(
                dev, {"st": [], "sc": [], "gt": [], "prod": [], "good": [], "kwh": [], "prev": []}
            )
            for i in range(days):
                t0 = day_ns(start) + i * DAY
                tt, tc, unplanned = simulate_day(rng, t0, reg)
                grid = t0 + np.arange(0, DAY, HEARTBEAT, dtype=np.int64)
                hb_code = tc[np.searchsorted(tt, grid, side="right") - 1]
                if rng.random() >= drop_state_days:
                    allt = np.concatenate([tt, grid])
                    allc = np.concatenate([tc, hb_code])
                    order = np.argsort(allt, kind="stable")
                    allt, allc = allt[order], allc[order]
                    # a heartbeat on a transition's instant repeats it: one (point, time), one value
                    first = np.concatenate([[True], np.diff(allt) != 0])
                    allt, allc = allt[first], allc[first]
                    hole = (allt >= t0 + 6 * 3600 * 10**9) & (
                        allt < t0 + int((6 + hole_hours) * 3600 * 10**9)
                    )
                    s["st"].append(allt[~hole])
                    s["sc"].append(allc[~hole])
                truth.unplanned_s += unplanned
                truth.pbt_s += 18 * 3600
                # counters on the grid (+ the next midnight so the day's production lands in the day)
                g = np.append(grid[1:], t0 + DAY)
                run = run_seconds(tt, tc, g, t0 + DAY)
                run_inc = np.diff(np.concatenate([[0.0], run]))
                prod = np.floor(run_inc / 3600 * reg.rate_per_hour + rng.random(len(g)))
                good = rng.binomial(prod.astype(np.int64), reg.yield_).astype(np.float64)
                other_h = (HEARTBEAT / 1e9 - run_inc) / 3600
                kwh = np.round((run_inc / 3600 * reg.run_kw + other_h * 0.4) * 100) / 100
                s["gt"].append(g)
                s["prod"].append(prod)
                s["good"].append(good)
                s["kwh"].append(kwh)
                in_period = g < day_ns(start) + days * DAY
                truth.produced += float(prod[in_period].sum())
                truth.good += float(good[in_period].sum())
                truth.kwh += float(kwh[in_period].sum())
        return truth

    def arrays(self, dev: int, parts_offset: float = 0.0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per point: (times, values); counters cumulative and wrapped like a uint32 register."""
        s = self.samples[dev]
        gt = np.concatenate(s["gt"])
        out = {"state": (np.concatenate(s["st"]), np.concatenate(s["sc"]).astype(np.float64))}
        out["parts_total"] = (gt, np.mod(parts_offset + np.cumsum(np.concatenate(s["prod"])), 2.0**32))
        out["parts_good"] = (gt, np.cumsum(np.concatenate(s["good"])))
        out["energy"] = (gt, np.round(np.cumsum(np.concatenate(s["kwh"])) * 100) / 100)
        return out
