"""A model window that reaches into the future stops at the invocation time (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import psycopg
import pytest

from collector.kpi.claims import Period
from collector.migrate import migrate
from collector.models.ledger import invoke
from tests.kpi.helpers import copy_readings, register_device
from wire.states import STATE_CODES

DAY = dt.date(2026, 2, 2)
T0 = (DAY - dt.date(1970, 1, 1)).days * 86_400 * 10**9
MIN = 60 * 10**9
H = 3600 * 10**9


def test_state_timeline_for_today_stops_at_now(pg_dsn: str) -> None:
    migrate(pg_dsn)
    # running from 06:00, one sample a minute up to 11:59; "now" is 12:00:30
    t = T0 + 6 * H + np.arange(360, dtype=np.int64) * MIN
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        ids = register_device(conn, "cnc-1", site="s1")
        copy_readings(conn, np.full(len(t), ids["state"]), t, np.full(len(t), float(STATE_CODES["running"])))
    now = T0 + 12 * H + 30 * 10**9
    today = Period(start=DAY, end=DAY)
    res = invoke(pg_dsn, "state_timeline", device="cnc-1", window=today, caller="api", now_ns=now).result
    assert res["running_h"] == pytest.approx(6 + 30 / 3600)  # the last state ends at now, not 10 min on
    assert res["no_data_h"] == pytest.approx(6.0)  # 00:00-06:00 only: the afternoon has not happened
    assert res["future_h_excluded"] == pytest.approx(12 - 30 / 3600)
    assert sum(v for k, v in res.items() if k.endswith("_h") and k != "future_h_excluded") == pytest.approx(
        12 + 30 / 3600
    )
    # a window wholly in the past is unchanged: the whole day, no_data after the last heartbeat
    later = T0 + 3 * 24 * H
    past = invoke(pg_dsn, "state_timeline", device="cnc-1", window=today, caller="api", now_ns=later).result
    assert past["running_h"] == pytest.approx(6 + 9 / 60)  # 11:59 plus one heartbeat timeout (600 s)
    assert past["future_h_excluded"] == 0.0
    assert sum(v for k, v in past.items() if k.endswith("_h") and k != "future_h_excluded") == pytest.approx(
        24
    )
