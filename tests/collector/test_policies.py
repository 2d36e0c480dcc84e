"""Storage policies: retention drops whole monthly partitions on plain PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg

import wire
from collector.decode import Message
from collector.policies import drop_old_partitions
from collector.store import Store
from tests.collector.conftest import birth, topic

DAY_NS = 86_400 * 10**9


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


def test_old_partitions_are_dropped_for_retention(plain_db: str) -> None:
    db = plain_db
    _load(db, int(datetime(2024, 1, 10, tzinfo=UTC).timestamp()) * 10**9, range(0, 1), 1)
    with psycopg.connect(db, autocommit=True) as conn:
        assert drop_old_partitions(conn, date(2024, 2, 1)) == ["readings_202401"]
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (0,)


def test_no_rollup_is_left_to_maintain(plain_db: str) -> None:
    # figures and KPIs read the readings: migration 012 removes the daily aggregate and its bookkeeping
    with psycopg.connect(plain_db) as conn:
        names = ("daily_point_stats", "readings_daily", "rollup_dirty", "rollup_watermark")
        found = [conn.execute("SELECT to_regclass(%s)::text", (n,)).fetchone() for n in names]
        readings = conn.execute("SELECT to_regclass('readings')::text").fetchone()
    assert readings == ("readings",) and found == [(None,)] * len(names)
