"""Storage policies: compression (TimescaleDB) and retention (both storage paths).

Figures and KPIs read the readings themselves (per-envelope counts, first and last times and string
readings, which a daily aggregate would not hold), so there are no rollups to maintain.
"""

from datetime import UTC, date, datetime, timedelta

import psycopg

from collector import db


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
