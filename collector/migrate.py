"""Versioned SQL migrations.

Files in collector/migrations are named `NNN_name.sql` (both storage paths),
`NNN_name.timescale.sql` or `NNN_name.plain.sql` (one of the two, chosen by whether the
`timescaledb` extension is installed in the database). Each version is applied once, in a
transaction, and recorded in `schema_migrations`.
"""

from dataclasses import dataclass
from importlib import resources

import psycopg

from collector import db
from collector.db import Storage
from collector.errors import CollectorError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available(storage: Storage) -> list[Migration]:
    wanted = "timescale" if storage == "timescaledb" else "plain"
    found: dict[int, Migration] = {}
    for entry in resources.files("collector.migrations").iterdir():
        name = entry.name
        if not name.endswith(".sql"):
            continue
        parts = name[:-4].split(".")
        variant = parts[1] if len(parts) > 1 else None
        if variant not in (None, wanted):
            continue
        version_text, _, label = parts[0].partition("_")
        version = int(version_text)
        if version in found:
            raise CollectorError(f"two migrations with version {version}: {found[version].name}, {name}")
        found[version] = Migration(version, label, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def migrate(dsn: str, *, try_timescaledb: bool = True) -> tuple[Storage, list[int]]:
    """Apply pending migrations; returns the storage path and the versions applied now."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if try_timescaledb:
            has_ext = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()
            if has_ext:
                # Installed but not preloaded, it cannot load (the backend exits): the plain path.
                preload = conn.execute("SHOW shared_preload_libraries").fetchone()
                if preload and "timescaledb" in str(preload[0]):
                    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        storage = db.storage_of(conn)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, storage text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied_now: list[int] = []
        for migration in available(storage):
            with conn.transaction():
                # Serialise concurrent migrators (several collectors starting at once).
                conn.execute("SELECT pg_advisory_xact_lock(7203114)")
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
                ).fetchone()
                if done:
                    continue
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, storage) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, storage),
                )
                applied_now.append(migration.version)
        return storage, applied_now
