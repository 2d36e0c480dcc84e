"""Storage cost: bytes on disk per stored point after the demo plant's history, imported as a user would.

Writes the demo plant's history (configs/plants/demo.yaml, every non-state point each `--interval`
seconds) as CSV with `plantproof sim backfill`, imports it with `plantproof collector import` (the
bulk path, the (point, time) rule in force), VACUUMs, and sums heap, indexes and TOAST of every
relation that holds readings. On TimescaleDB the chunks are then compressed (segmented by point, the
collector's settings) and measured again.

The ceiling is the cheapest row PostgreSQL can store for a reading: the same readings COPYed into a
bare heap table (point_id, time, value) with no index, measured in the same run. A value below the
ceiling is only possible with a packed (array or columnar) layout.

    python -m bench.bench_storage [--hours 24] [--interval 1] [--plain]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from bench.report import emit
from collector.migrate import migrate
from tests.servers import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
DAY = "2026-03-02"  # a weekday of the demo plant: both shifts run
PLAIN_TARGET = 40.0  # bytes per point
COMPRESSED_TARGET = 4.0

# Every relation that holds readings: numeric readings (partitions or chunks), string readings and
# the status codes of bad readings. Ledger tables (envelopes, births) are reported apart.
_READING_RELATIONS = """
SELECT c.relname, pg_relation_size(c.oid) AS heap,
       pg_indexes_size(c.oid) AS indexes,
       coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND (c.relname LIKE 'readings%%' OR c.relname = 'reading_status'
       OR (n.nspname = '_timescaledb_internal' AND c.relname LIKE '%%chunk%%'))
"""


@dataclass(frozen=True)
class Footprint:
    rows: int
    heap: int
    indexes: int
    toast: int

    @property
    def total(self) -> int:
        return self.heap + self.indexes + self.toast

    def per_row(self) -> float:
        return self.total / self.rows if self.rows else float("nan")

    def describe(self) -> str:
        return (
            f"{self.rows:,} rows: heap {self.heap / 1e6:,.1f} MB, indexes {self.indexes / 1e6:,.1f} MB,"
            f" TOAST {self.toast / 1e6:,.1f} MB = {self.per_row():.1f} B/point"
        )


def backfill_csv(path: Path, hours: float, interval: float) -> None:
    start = datetime.fromisoformat(DAY)
    end = start + timedelta(hours=hours)
    cmd = [sys.executable, "-m", "plantproof", "sim", "backfill", "-p", "demo", "--from", start.isoformat(),
           "--to", end.isoformat(), "--interval", str(interval), "--csv", str(path)]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)


def import_csv(dsn: str, path: Path) -> float:
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "plantproof", "collector", "import", str(path), "--site", "suzhou-1",
           "--gateway-id", "historian", "--devices", str(ROOT / "configs/imports/demo-devices.yaml"),
           "--dsn", dsn, "--simulated"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.perf_counter() - started


def footprint(conn: psycopg.Connection, rows: int) -> Footprint:
    conn.execute("VACUUM (ANALYZE)")
    heap = indexes = toast = 0
    for _name, h, i, t in conn.execute(_READING_RELATIONS).fetchall():
        heap, indexes, toast = heap + h, indexes + i, toast + t
    return Footprint(rows, heap, indexes, toast)


def stored_rows(conn: psycopg.Connection) -> int:
    sql = "SELECT (SELECT count(*) FROM readings) + (SELECT count(*) FROM readings_text)"
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def ledger_bytes(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        " AND c.relname NOT LIKE 'readings%%' AND c.relname <> 'reading_status'"
    ).fetchone()
    assert row is not None
    return int(row[0])


def bare_heap(dsn: str, conn: psycopg.Connection) -> Footprint:
    """The same numeric readings in a bare heap (no index, no ledger columns): PostgreSQL's floor."""
    with psycopg.connect(dsn, autocommit=True) as bare:
        bare.execute("CREATE TABLE bare (point_id integer, time timestamptz, value double precision)")
        out_sql = "COPY (SELECT point_id, time, value FROM readings) TO STDOUT"
        with conn.cursor().copy(out_sql) as out, bare.cursor().copy("COPY bare FROM STDIN") as into:
            for chunk in out:
                into.write(chunk)
        bare.execute("VACUUM (ANALYZE) bare")
        row = bare.execute("SELECT count(*), pg_relation_size('bare') FROM bare").fetchone()
        assert row is not None
        return Footprint(int(row[0]), int(row[1]), 0, 0)


def compress(conn: psycopg.Connection) -> None:
    conn.execute("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('readings') c")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0, help="hours of the demo plant's history")
    ap.add_argument("--interval", type=float, default=1.0, help="sample interval of non-state points, s")
    ap.add_argument("--plain", action="store_true", help="plain PostgreSQL where TimescaleDB is installed")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plantproof-bench-storage-"))
    work.chmod(0o755)
    pg = PostgresServer(work / "pg", timescaledb=False if args.plain else None)
    pg.start()
    try:
        csv = work / "history.csv"
        backfill_csv(csv, args.hours, args.interval)
        dsn, bare_dsn = pg.create_database(), pg.create_database()
        migrate(dsn)
        seconds = import_csv(dsn, csv)
        csv_bytes = csv.stat().st_size
        csv.unlink()
        storage = "TimescaleDB" if pg.timescaledb else "plain PostgreSQL"
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = stored_rows(conn)
            stored = footprint(conn, rows)
            floor = bare_heap(bare_dsn, conn)
            ledger = ledger_bytes(conn)
            print(f"storage: {storage}; {args.hours:g} h of the demo plant at {args.interval:g} s")
            rate = rows / seconds
            print(f"  CSV {csv_bytes / 1e6:,.0f} MB imported in {seconds:,.1f} s ({rate:,.0f} rows/s)")
            print(f"  readings  {stored.describe()}")
            print(f"  bare heap {floor.describe()}")
            print(f"  ledger, registry and the rest: {ledger / 1e6:,.2f} MB ({ledger / rows:.2f} B/point)")
            emit(f"storage per point, {storage}", stored.per_row(), "B", floor.per_row(),
                 "bare heap row (point_id, time, value)", target=f"<= {PLAIN_TARGET:g} B")  # fmt: skip
            if pg.timescaledb:
                compress(conn)
                packed = footprint(conn, rows)
                print(f"  compressed {packed.describe()}")
                emit("storage per point, TimescaleDB compressed", packed.per_row(), "B", floor.per_row(),
                     "bare heap row", target=f"<= {COMPRESSED_TARGET:g} B")  # fmt: skip
            else:
                print("  compressed: skipped (TimescaleDB is not installed; compression needs it)")
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
