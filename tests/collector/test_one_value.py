"""One (point, time) holds one value; integers up to 64 bits are stored exactly (real PostgreSQL)."""

from __future__ import annotations

import time
from decimal import Decimal

import psycopg
import pytest

import wire
from collector.db import storage_of as detect_storage
from collector.migrate import available, migrate
from collector.store import Message, Store
from tests.collector.conftest import birth, data, topic

BIG = 9_007_199_254_740_993  # 2^53 + 1: the nearest double is ...992
POINTS = [
    wire.PointInfo("temp", "analog", "float32", "degC"),
    wire.PointInfo("total", "counter", "int64", "pcs"),
    wire.PointInfo("program", "analog", "string"),
]


def _msg(kind: str, env: wire.Envelope) -> Message:
    return Message(topic(kind), wire.encode(env))


def _rows(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return list(conn.execute(sql).fetchall())


def test_repeats_from_new_envelopes_are_counted_and_dropped(db: str) -> None:
    store = Store(db)
    t0 = time.time_ns() - 10_000_000_000
    samples = [("temp", t0 + i * 1000, 20.0 + i, 0) for i in range(5)] + [("program", t0, "O1", 0)]
    first = store.write([_msg("birth", birth(points=POINTS)), _msg("data", data("gw1", "m1", 1, samples))])
    assert (first.rows, first.text_rows, first.repeats) == (5, 1, 0)
    # A gateway restart re-sends the steady values with their old source timestamps, in new envelopes,
    # mixed with one new reading.
    again = [*samples[:3], ("temp", t0 + 99_000, 30.0, 0), *samples[5:]]
    res = store.write([_msg("data", data("gw1", "m1", 2, again))])
    assert (res.envelopes_new, res.rows, res.text_rows, res.repeats, res.conflicts) == (1, 1, 0, 4, 0)
    assert res.dead_letters == []
    assert _rows(db, "SELECT count(*), count(DISTINCT (point_id, time)) FROM readings") == [(6, 6)]
    assert _rows(db, "SELECT count(*) FROM readings_text") == [(1,)]
    assert _rows(db, "SELECT count(*) FROM reading_conflicts") == [(0,)]


def test_another_value_is_refused_by_default_and_replaced_on_request(db: str) -> None:
    store = Store(db)
    t0 = time.time_ns() - 10_000_000_000
    store.write(
        [
            _msg("birth", birth(points=POINTS)),
            _msg("data", data("gw1", "m1", 1, [("temp", t0, 20.0, 0), ("program", t0, "O1", 0)])),
        ]
    )
    other = [("temp", t0, 21.0, 0), ("program", t0, "O2", 0), ("temp", t0 + 1000, 5.0, 0)]
    res = store.write([_msg("data", data("gw1", "m1", 2, other))])
    assert (res.rows, res.text_rows, res.repeats, res.conflicts, res.replaced) == (1, 0, 0, 2, 0)
    assert _rows(db, "SELECT value FROM readings ORDER BY time") == [(20.0,), (5.0,)]
    assert _rows(db, "SELECT value FROM readings_text") == [("O1",)]
    audit = "SELECT stored_value, stored_text, offered_value, offered_text, resolution, source"
    assert sorted(_rows(db, f"{audit} FROM reading_conflicts"), key=str) == sorted(
        [(20.0, None, 21.0, None, "refused", "mqtt"), (None, "O1", None, "O2", "refused", "mqtt")], key=str
    )
    # The corrected values supersede the stored ones only when asked; the old ones stay in the audit.
    parsed, dead = store.prepare([_msg("data", data("gw1", "m1", 3, other))])
    res = store.write_parsed(parsed, dead, source="import:x", policy="replace")
    assert (res.rows, res.repeats, res.conflicts, res.replaced) == (0, 1, 0, 2)
    assert _rows(db, "SELECT value FROM readings ORDER BY time") == [(21.0,), (5.0,)]
    assert _rows(db, "SELECT value FROM readings_text") == [("O2",)]
    replaced = _rows(db, f"{audit} FROM reading_conflicts WHERE resolution = 'replaced' ORDER BY 1")
    assert replaced == [
        (20.0, None, 21.0, None, "replaced", "import:x"),
        (None, "O1", None, "O2", "replaced", "import:x"),
    ]


def test_int64_is_stored_exactly_and_out_of_range_integers_are_refused(db: str) -> None:
    store = Store(db)
    now = time.time_ns() - 1_000_000_000
    samples = [("total", now, BIG, 0), ("total", now + 1000, 2**63 - 1, 0), ("total", now + 2000, 41, 0)]
    res = store.write([_msg("birth", birth(points=POINTS)), _msg("data", data("gw1", "m1", 1, samples))])
    assert res.rows == 3 and res.dead_letters == []
    got = _rows(
        db, "SELECT coalesce(value_int::numeric, value::numeric), value_int FROM readings ORDER BY time"
    )
    assert got == [(Decimal(BIG), BIG), (Decimal(2**63 - 1), 2**63 - 1), (Decimal(41), None)]
    # the same exact value again is a repeat, another exact value one apart is a conflict
    again = [("total", now, BIG, 0), ("total", now + 1000, 2**63 - 2, 0)]
    res = store.write([_msg("data", data("gw1", "m1", 2, again))])
    assert (res.rows, res.repeats, res.conflicts) == (0, 1, 1)
    assert _rows(db, "SELECT stored_value_int, offered_value_int FROM reading_conflicts") == [
        (2**63 - 1, 2**63 - 2)
    ]
    res = store.write([_msg("data", data("gw1", "m1", 3, [("total", now + 5000, 2**64 + 1, 0)]))])
    assert res.rows == 0
    why = f"$.samples[0]: integer {2**64 + 1} for 'total' does not fit 64 bits (int64); it cannot be"
    assert [d.error for d in res.dead_letters] == [f"{why} stored exactly"]


def _apply_until(dsn: str, version: int) -> None:
    """Apply migrations before `version` only, as a database made by an older release."""
    older = [m for m in available(_storage(dsn)) if m.version < version]  # type: ignore[arg-type]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " storage text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for m in older:
            with conn.transaction():
                conn.execute(m.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, storage) VALUES (%s, %s, %s)",
                    (m.version, m.name, _storage(dsn)),
                )


def _storage(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return detect_storage(conn)


def test_migration_removes_stored_twice_rows_and_records_differences(pg_dsn: str) -> None:
    _apply_until(pg_dsn, 7)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SELECT ensure_readings_partitions(now()::date, 1)")
        rows = [
            (1, 10.0, 0, 1),
            (1, 10.0, 0, 2),
            (1, 10.0, 0, 3),
            (2, 5.0, 0, 1),
            (2, 6.0, 0, 2),
            (3, 1.0, 0, 1),
        ]
        for pid, value, q, env in rows:
            conn.execute(
                "INSERT INTO readings (time, point_id, value, quality, envelope_id)"
                " VALUES (date_trunc('hour', now()), %s, %s, %s, %s)",
                (pid, value, q, env),
            )
        conn.execute(
            "INSERT INTO readings_text (time, point_id, value, quality, envelope_id) VALUES"
            " (now(), 9, 'a', 0, 1), (now(), 9, 'b', 0, 2)"
        )
    assert 7 in migrate(pg_dsn)[1]
    assert _rows(pg_dsn, "SELECT point_id, value, envelope_id FROM readings ORDER BY 1") == [
        (1, 10.0, 1),
        (2, 5.0, 1),
        (3, 1.0, 1),
    ]
    assert _rows(pg_dsn, "SELECT value FROM readings_text") == [("a",)]
    assert _rows(
        pg_dsn,
        "SELECT point_id, stored_value, offered_value, stored_text, offered_text, source, resolution"
        " FROM reading_conflicts ORDER BY 1",
    ) == [
        (2, 5.0, 6.0, None, None, "migration", "refused"),
        (9, None, None, "a", "b", "migration", "refused"),
    ]
    with psycopg.connect(pg_dsn) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "INSERT INTO readings (time, point_id, value, quality, envelope_id)"
            " VALUES (date_trunc('hour', now()), 1, 11, 0, 9)"
        )
