"""Migrations apply once, on whichever storage path the database offers."""

from __future__ import annotations

import psycopg

from collector.migrate import migrate


def test_migrate_is_idempotent_and_creates_the_core_tables(pg_dsn: str) -> None:
    storage, first = migrate(pg_dsn)
    assert first[:2] == [1, 2]
    again_storage, second = migrate(pg_dsn)
    assert (again_storage, second) == (storage, [])
    with psycopg.connect(pg_dsn) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    for name in (
        "gateways",
        "devices",
        "points",
        "envelopes",
        "readings",
        "dead_letters",
        "model_invocations",
        "management_ops",
        "capacity_runs",
    ):
        assert name in tables
