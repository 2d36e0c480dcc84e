"""A synthetic plant with known truth in PostgreSQL, shared by the KPI tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from collector.kpi.claims import Period
from collector.migrate import migrate
from tests.kpi.helpers import copy_readings, register_device
from tests.kpi.synth import Plant, Regime, Truth

__all__ = ["BASE", "REP", "Truth"]

BASE = Period(start=dt.date(2026, 1, 5), end=dt.date(2026, 3, 1))  # 56 days
REP = Period(start=dt.date(2026, 3, 2), end=dt.date(2026, 4, 26))  # 56 days
BASE_REGIME = Regime(stops_per_day=3.0, yield_=0.95, run_kw=11.0)
LINES = {
    # line: (reporting regime, share of reporting device-days without state data,
    #        hours of state data missing from every reporting day's planned time)
    "big": (Regime(stops_per_day=1.8, yield_=0.98, run_kw=9.5), 0.0, 0.0),
    "small": (Regime(stops_per_day=3.0, yield_=0.955, run_kw=11.0), 0.0, 0.0),
    "gap": (Regime(stops_per_day=1.8, yield_=0.98, run_kw=9.5), 0.4, 0.0),
    "holes": (Regime(stops_per_day=1.8, yield_=0.98, run_kw=9.5), 0.0, 7.5),
}
DEVICES_PER_LINE = 4


@pytest.fixture(scope="session")
def plant_db(pg_server: Any) -> Iterator[tuple[str, dict[str, tuple[Truth, Truth]]]]:
    dsn = pg_server.create_database()
    migrate(dsn)
    truths: dict[str, tuple[Truth, Truth]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for li, (line, (reg, drop, holes)) in enumerate(LINES.items()):
            plant = Plant(DEVICES_PER_LINE, seed=100 * li)
            tb = plant.generate(BASE.start, BASE.days, BASE_REGIME)
            tr = plant.generate(REP.start, REP.days, reg, drop_state_days=drop, hole_hours=holes)
            truths[line] = (tb, tr)
            for d in range(DEVICES_PER_LINE):
                ids = register_device(conn, f"{line}-{d}", line=line, ideal_rate_per_hour=40.0)
                # parts_total starts just below the uint32 wrap, so it wraps during the baseline
                arrays = plant.arrays(d, parts_offset=2.0**32 - 20_000)
                pid = np.concatenate([np.full(len(t), ids[name]) for name, (t, _) in arrays.items()])
                t = np.concatenate([t for t, _ in arrays.values()])
                v = np.concatenate([v for _, v in arrays.values()])
                copy_readings(conn, pid, t, v)
    yield dsn, truths
