"""`daily_point_stats` equals an aggregate over readings whatever the rollup state, on both storage paths."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

import wire
from collector.migrate import migrate
from collector.rollup import drop_old_partitions, roll_up
from collector.store import Message, Store
from tests.collector.conftest import birth, topic
from tests.servers import PostgresServer

DAY_NS = 86_400 * 10**9
FIGURES = (
    "SELECT day, count(*) AS points, sum(n)::bigint, sum(n_good)::bigint, min(min), max(max),"
    " round((sum(avg * n) / sum(n))::numeric, 6),"
    " string_agg(first::text || '/' || last::text, ',' ORDER BY point_id)"
    " FROM daily_point_stats WHERE day >= %s AND day < %s GROUP BY day ORDER BY day"
)
TRUTH = (
    "SELECT (time AT TIME ZONE 'UTC')::date AS day, count(DISTINCT point_id), count(*),"
    " count(*) FILTER (WHERE quality = 0), min(value), max(value), round(avg(value)::numeric, 6), NULL"
    " FROM readings WHERE time >= %s AND time < %s GROUP BY 1 ORDER BY 1"
)


def _start() -> int:
    today = datetime.now(UTC).date()
    first = datetime.combine(today - timedelta(days=5), datetime.min.time(), tzinfo=UTC)
    return int(first.timestamp()) * 10**9


def _load(dsn: str, start_ns: int, days: range, seq0: int) -> None:
    store = Store(dsn)
    msgs = [Message(topic("birth"), wire.encode(birth(seq=0)))] if seq0 == 1 else []
    late = 0 if seq0 == 1 else 1_800 * 10**9  # late data half an hour after the first load's readings
    for k, d in enumerate(days):
        samples = [
            (
                "temp",
                start_ns + d * DAY_NS + i * 3_600 * 10**9 + late,
                float((d * 7 + i * 3) % 11),
                i % 3 == 0,
            )
            for i in range(24)
        ] + [("parts", start_ns + d * DAY_NS + 60 * 10**9 + late, float(d * 100), 0)]
        samples = [(p, t, v, int(q)) for p, t, v, q in samples]
        msgs.append(Message(topic("data"), wire.encode(wire.Data("gw1", "m1", seq0 + k, start_ns, samples))))
    res = store.write(msgs)
    assert not res.dead_letters, res.dead_letters
    store.close()


def _figures(dsn: str, lo: date, hi: date) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(FIGURES, (lo, hi)).fetchall()


def _truth(dsn: str, lo: date, hi: date) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return [r[:7] for r in conn.execute(TRUTH, (lo, hi)).fetchall()]


@pytest.mark.parametrize("storage", ["postgresql", "timescaledb"])
def test_rollup_matches_readings_before_and_after_rollup_and_late_data(
    storage: str, pg_server: PostgresServer, request: pytest.FixtureRequest
) -> None:
    if storage == "timescaledb" and not pg_server.timescaledb:
        pytest.skip(
            "TimescaleDB is not installed for this PostgreSQL (no timescaledb*.so in pg_config --pkglibdir)"
        )
    db = request.getfixturevalue("plain_db" if storage == "postgresql" else "db")
    start = _start()
    d0 = datetime.fromtimestamp(start / 1e9, UTC).date()
    lo, hi = d0, d0 + timedelta(days=6)
    _load(db, start, range(0, 4), 1)
    live = _figures(db, lo, hi)
    assert [r[:7] for r in live] == _truth(db, lo, hi) and len(live) == 4
    assert roll_up(db) >= 4
    assert _figures(db, lo, hi) == live
    table = "readings_daily" if storage == "postgresql" else "readings_daily_cagg"
    with psycopg.connect(db) as conn:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (8,)
    _load(db, start, range(1, 2), 100)  # late data for a day already rolled up
    late = _figures(db, lo, hi)
    assert [r[:7] for r in late] == _truth(db, lo, hi)
    assert late[1][2] == 2 * live[1][2]
    roll_up(db)
    assert _figures(db, lo, hi) == late
    assert _figures(db, lo + timedelta(days=1), lo + timedelta(days=3)) == late[1:3]  # any window, same rows


def test_old_partitions_are_dropped_for_retention(plain_db: str) -> None:
    db = plain_db
    _load(db, int(datetime(2024, 1, 10, tzinfo=UTC).timestamp()) * 10**9, range(0, 1), 1)
    with psycopg.connect(db, autocommit=True) as conn:
        assert drop_old_partitions(conn, date(2024, 2, 1)) == ["readings_202401"]
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (0,)


def test_same_figures_on_timescaledb_and_plain(pg_server: PostgresServer) -> None:
    if not pg_server.timescaledb:
        pytest.skip(
            "TimescaleDB is not installed for this PostgreSQL (no timescaledb*.so in pg_config --pkglibdir)"
        )
    plain, tsdb = pg_server.create_database(), pg_server.create_database()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP EXTENSION IF EXISTS timescaledb")
    assert migrate(plain, try_timescaledb=False)[0] == "postgresql"
    assert migrate(tsdb)[0] == "timescaledb"
    start = _start()
    d0 = datetime.fromtimestamp(start / 1e9, UTC).date()
    for dsn in (plain, tsdb):
        _load(dsn, start, range(0, 4), 1)
        roll_up(dsn)
        _load(dsn, start, range(1, 2), 100)
    lo, hi = d0, d0 + timedelta(days=6)
    assert _figures(plain, lo, hi) == _figures(tsdb, lo, hi)
    for dsn in (plain, tsdb):
        roll_up(dsn)
    assert _figures(plain, lo, hi) == _figures(tsdb, lo, hi)
