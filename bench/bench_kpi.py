"""KPI verification over 10 million state events (1,000 devices × one year), computation only.

Run: python -m bench.bench_kpi [--devices N] [--events-per-device M] [--db-devices K]
(`python -m bench` runs it at full size without the database stage.)
Prints the time of each stage, the total against the 3 s target, and the ratio to a ceiling
measured in the same run: one weighted np.bincount over the same events (the least any per-day
aggregation of them can cost on this machine).

With --db-devices K (> 0) it also starts a PostgreSQL server, stores K devices of the same data and
times the loader (scope, points, binary COPY TO, parsing) against a bare binary COPY TO of the same
rows (the ceiling).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

from bench.report import emit
from collector.kpi.claims import Claim, Period
from collector.kpi.engine import EPOCH, PeriodData, Series, device_days
from collector.kpi.timemodel import DAY_NS
from collector.kpi.verify import evaluate
from wire.states import STATE_CODES

START = dt.date(2025, 1, 1)
HALF = 182  # days per period
TARGET_S = 3.0


def _states(rng: np.random.Generator, devices: int, per_dev: int, start: int, days: int) -> Series:
    gaps = rng.exponential(days * DAY_NS / per_dev, size=(devices, per_dev))
    t = (start + np.cumsum(gaps, axis=1)).astype(np.int64).ravel()
    dev = np.repeat(np.arange(devices, dtype=np.int64), per_dev)
    codes = rng.choice(
        [
            STATE_CODES[s]
            for s in ("running", "idle", "planned_stop", "unplanned_stop", "minor_stop", "setup")
        ],
        p=[0.6, 0.1, 0.1, 0.08, 0.1, 0.02],
        size=len(t),
    ).astype(np.float64)
    return Series(dev, t, codes, np.zeros(len(t), dtype=np.int16), None)


def _counter(rng: np.random.Generator, devices: int, start: int, days: int, every_h: int) -> Series:
    per_dev = days * 24 // every_h
    t = np.tile(start + np.arange(per_dev, dtype=np.int64) * every_h * 3600 * 10**9, devices)
    inc = rng.poisson(40 * every_h, size=(devices, per_dev))
    values = np.mod(np.cumsum(inc, axis=1).ravel() + 2**32 - 10_000, 2**32).astype(np.float64)
    dev = np.repeat(np.arange(devices, dtype=np.int64), per_dev)
    return Series(dev, t, values, np.zeros(len(t), dtype=np.int16), np.full(len(t), float(2**32)))


def _period(rng: np.random.Generator, devices: int, per_dev: int, first: dt.date) -> PeriodData:
    start = (first - EPOCH).days * DAY_NS
    counter = _counter(rng, devices, start, HALF, 6)
    return PeriodData(
        start=first,
        end=first + dt.timedelta(days=HALF - 1),
        devices=[f"dev-{i}" for i in range(devices)],
        ideal_rate_per_hour=np.full(devices, 40.0),
        state=_states(rng, devices, per_dev, start, HALF),
        produced=counter,
        good=counter,
        energy=_counter(rng, devices, start, HALF, 6),
    )


def _db_stage(periods: list[PeriodData], n_devices: int) -> None:
    import shutil
    import tempfile
    from pathlib import Path

    import psycopg

    from collector.kpi.claims import Points, Scope
    from collector.kpi.load import connect, load_period, resolve_scope
    from collector.migrate import migrate
    from tests.kpi.helpers import copy_readings, register_device
    from tests.servers import PostgresServer

    work = Path(tempfile.mkdtemp(prefix="plantproof-bench-kpi-"))
    work.chmod(0o755)
    pg = PostgresServer(work / "pg")
    pg.start()
    try:
        dsn = pg.create_database()
        migrate(dsn)
        rows = 0
        with psycopg.connect(dsn, autocommit=True) as conn:
            for i in range(n_devices):
                ids = register_device(conn, f"dev-{i}", site="bench")
                for p in periods:
                    for role, name in (("state", "state"), ("produced", "parts_total"), ("energy", "energy")):
                        s = getattr(p, role)
                        sel = s.dev == i
                        rows += copy_readings(
                            conn, np.full(int(sel.sum()), ids[name]), s.t[sel], s.value[sel]
                        )
            conn.execute("ANALYZE readings")
        span = Period(start=periods[0].start, end=periods[1].end)
        with connect(dsn) as conn:
            t0 = time.perf_counter()
            devices = resolve_scope(conn, Scope(site="bench"))
            data = load_period(conn, devices, Points(), span, 3 * 3600)
            loaded = time.perf_counter() - t0
            t0 = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY (SELECT point_id, time, value, quality FROM readings ORDER BY point_id, time)"
                    " TO STDOUT (FORMAT binary)"
                ) as copy,
            ):
                for _ in copy:
                    pass
            bare = time.perf_counter() - t0
        got = len(data.state.t) + len(data.produced.t) + len(data.good.t) + len(data.energy.t)
        print(f"db: {rows:,} rows stored; loader read {got:,} (state, counters, energy)")
        print(f"loader (scope, points, COPY, parse): {loaded:.3f} s = {got / loaded / 1e6:.2f} M rows/s")
        print(f"bare binary COPY TO (ceiling):       {bare:.3f} s, ratio loader/ceiling {loaded / bare:.2f}x")
        emit(f"db loader, {n_devices} devices", loaded, "s", bare, "bare binary COPY TO")
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--events-per-device", type=int, default=10_000, help="state events per device-year")
    ap.add_argument("--db-devices", type=int, default=0, help="also time the database loader on K devices")
    args = ap.parse_args()
    rng = np.random.default_rng(2026)
    half = args.events_per_device // 2
    print(f"generating {args.devices} devices x {2 * half} state events ...", flush=True)
    periods = [
        _period(rng, args.devices, half, START),
        _period(rng, args.devices, half, START + dt.timedelta(HALF)),
    ]
    n_events = sum(len(p.state.t) for p in periods)
    claim = Claim(
        id="bench", title="bench", kpi="unplanned_downtime", change_pct=-20, heartbeat_timeout_s=3 * 3600,
        baseline=Period(start=periods[0].start, end=periods[0].end),
        reporting=Period(start=periods[1].start, end=periods[1].end),
    )  # fmt: skip

    began = time.perf_counter()
    series = [device_days(p, claim.heartbeat_timeout_s) for p in periods]
    built = time.perf_counter()
    result = evaluate(claim, series[0], series[1])
    done = time.perf_counter()

    # Ceiling: one weighted bincount of the same events into device-day bins.
    keys = np.concatenate([p.state.dev * HALF + (p.state.t - p.start_ns) // DAY_NS for p in periods])
    w = np.ones(len(keys))
    c0 = time.perf_counter()
    np.bincount(np.clip(keys, 0, None), weights=w)
    ceiling = time.perf_counter() - c0

    total = done - began
    print(f"state events:               {n_events:,}")
    print(f"counter samples:            {sum(3 * len(p.produced.t) for p in periods):,}")
    print(f"time model + counters:      {built - began:.3f} s")
    verdict = f"{result.verdict}, estimate {result.point_estimate:+.2f} %"
    print(f"verdict (bootstrap 2000):   {done - built:.3f} s  -> {verdict}")
    met = "met" if total < TARGET_S else "MISSED"
    print(f"total computation:          {total:.3f} s  (target < {TARGET_S:.0f} s: {met})")
    print(f"ceiling (one bincount):     {ceiling:.3f} s  -> ratio total/ceiling = {total / ceiling:.1f}x")
    print(f"throughput:                 {n_events / total / 1e6:.1f} M state events/s")
    figure = f"KPI over {n_events / 1e6:.0f} M events"
    emit(figure, total, "s", ceiling, "one np.bincount", target=f"< {TARGET_S:.0f} s")
    if args.db_devices > 0:
        _db_stage(periods, min(args.db_devices, args.devices))


if __name__ == "__main__":
    main()
