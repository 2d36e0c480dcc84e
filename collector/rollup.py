"""Daily rollups and storage policies.

Plain PostgreSQL: `roll_up` aggregates closed UTC days (and days that received late data) into
readings_daily and moves the watermark, under an exclusive lock that ingest batches hold shared.
TimescaleDB: the continuous aggregate does this; `roll_up` refreshes it. Both expose
`daily_point_stats`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg

from collector import db
from collector.store import ROLLUP_LOCK


def roll_up(dsn: str, through: date | None = None) -> int:
    """Roll up every closed day before `through` (default: today, UTC); returns days recomputed."""
    through = through or datetime.now(UTC).date()
    with psycopg.connect(dsn, autocommit=True) as conn:
        if db.storage_of(conn) == "timescaledb":
            return _refresh_cagg(conn, through)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROLLUP_LOCK,))
            watermark, dirty = _pending(conn, through)
            new_days = [watermark + timedelta(days=i) for i in range(max(0, (through - watermark).days))]
            days = sorted(set(dirty) | set(new_days))
            if days:
                conn.execute("DELETE FROM readings_daily WHERE day = ANY(%s)", (days,))
                conn.execute(
                    "INSERT INTO readings_daily (day, point_id, n, n_good, min, max, avg, first, last)"
                    " SELECT (time AT TIME ZONE 'UTC')::date, point_id, count(*),"
                    " count(*) FILTER (WHERE quality = 0), min(value), max(value), avg(value),"
                    " (array_agg(value ORDER BY time, value))[1],"
                    " (array_agg(value ORDER BY time DESC, value DESC))[1]"
                    " FROM readings WHERE (time >= %s AND time < %s)"
                    " OR (time AT TIME ZONE 'UTC')::date = ANY(%s)"
                    " GROUP BY 1, 2",
                    (_utc(watermark), _utc(through), dirty),
                )
            conn.execute("DELETE FROM rollup_dirty WHERE day < %s", (through,))
            conn.execute("UPDATE rollup_watermark SET watermark = greatest(watermark, %s)", (through,))
            return len(days)


def _pending(conn: psycopg.Connection, through: date) -> tuple[date, list[date]]:
    """The rollup watermark (the first day with readings, before any rollup) and the days before
    `through` that received late data since the last rollup."""
    row = conn.execute("SELECT watermark FROM rollup_watermark").fetchone()
    assert row is not None
    watermark: date = row[0]
    if watermark == date(1970, 1, 1):
        first = conn.execute("SELECT min(time) FROM readings").fetchone()
        if first is not None and first[0] is not None:
            watermark = first[0].astimezone(UTC).date()
    dirty = [r[0] for r in conn.execute("SELECT day FROM rollup_dirty WHERE day < %s", (through,))]
    return watermark, dirty


def _refresh_cagg(conn: psycopg.Connection, through: date) -> int:
    """TimescaleDB: refresh the continuous aggregate over dirty and new days, then move the watermark.

    A refresh cannot run inside a transaction, so ingest is held off by a session-level lock instead.
    """
    conn.execute("SELECT pg_advisory_lock(%s)", (ROLLUP_LOCK,))
    try:
        watermark, dirty = _pending(conn, through)
        start = min([watermark, *dirty])
        days = len(set(dirty) | {start + timedelta(days=i) for i in range(max(0, (through - start).days))})
        if start < through:
            conn.execute(
                "CALL refresh_continuous_aggregate('readings_daily_cagg', %s, %s)",
                (_utc(start), _utc(through)),
            )
        conn.execute("DELETE FROM rollup_dirty WHERE day < %s", (through,))
        conn.execute("UPDATE rollup_watermark SET watermark = greatest(watermark, %s)", (through,))
        return days
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (ROLLUP_LOCK,))


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def apply_policies(dsn: str, compress_after_days: int, retention_days: int | None) -> None:
    """Compression (TimescaleDB) and retention (both paths; None keeps everything)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if db.storage_of(conn) == "timescaledb":
            conn.execute("SELECT remove_compression_policy('readings', if_exists => true)")
            conn.execute(
                "SELECT add_compression_policy('readings', make_interval(days => %s))", (compress_after_days,)
            )
            conn.execute("SELECT remove_retention_policy('readings', if_exists => true)")
            if retention_days is not None:
                conn.execute(
                    "SELECT add_retention_policy('readings', make_interval(days => %s))", (retention_days,)
                )
            return
        if retention_days is not None:
            drop_old_partitions(conn, datetime.now(UTC).date() - timedelta(days=retention_days))


def drop_old_partitions(conn: psycopg.Connection, before: date) -> list[str]:
    """Drop monthly partitions that end on or before `before` (plain PostgreSQL retention)."""
    dropped: list[str] = []
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'readings'::regclass AND c.relname ~ '^readings_[0-9]{6}$'"
    ).fetchall()
    for (name,) in rows:
        year, month = int(name[9:13]), int(name[13:15])
        end = date(year + (month == 12), month % 12 + 1, 1)
        if end <= before:
            conn.execute(f'DROP TABLE "{name}"')
            dropped.append(name)
    return dropped
