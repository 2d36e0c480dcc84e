"""Historian import at plant scale: `plantproof collector import` of a generated CSV, end to end.

Generates a long CSV (time, device, point, value, quality) of CNC machines, imports it with the
command a user runs (a subprocess, so its peak RSS is its own), and in the same run measures the
ceiling: the same file COPYed by PostgreSQL into a bare table (no validation, registry, ledger or
indexes). A small file is imported too, so that memory flat whatever the file size shows as two
peak RSS figures side by side.

    python -m bench.bench_import [--mb 1000] [--small-mb 20] [--plain]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.report import emit
from collector.migrate import migrate
from tests.servers import PostgresServer

DEVICES = [f"cnc-{i:02d}" for i in range(50)]
START = 1_735_689_600  # 2025-01-01T00:00:00Z: a year of months with no partition yet
ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, megabytes: float) -> int:
    """Rows for every device every 10 s, until the file reaches `megabytes`; returns the rows."""
    target = int(megabytes * 1_000_000)
    rows = 0
    with path.open("w", buffering=1 << 20) as fh:
        fh.write("time,device,point,value,quality\n")
        size, step = 0, 0
        while size < target:
            t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + step * 10))
            lines = []
            for k, dev in enumerate(DEVICES):
                lines.append(f"{t},{dev},state,{(step // 30 + k) % 10},0\n")
                lines.append(f"{t},{dev},parts_total,{step + k * 1000},0\n")
                lines.append(f"{t},{dev},spindle_temp,{40 + (step + k) % 150 / 10:.1f},0\n")
            block = "".join(lines)
            fh.write(block)
            size += len(block)
            rows += len(lines)
            step += 1
    return rows


def ceiling(dsn: str, path: Path) -> float:
    """Seconds for COPY of the same CSV into a bare table (the server parses it, nothing else)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bare (time timestamptz, device text, point text, value text, quality smallint)"
        )
        started = time.perf_counter()
        sql = "COPY bare FROM STDIN (FORMAT csv, HEADER true)"
        with conn.cursor() as cur, cur.copy(sql) as copy, path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        return time.perf_counter() - started


# The command as a user runs it, reporting its own peak RSS (KiB) when it exits.
_WRAPPED = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: print('PEAK-RSS-KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
    " file=sys.stderr))\n"
    "sys.argv = ['plantproof', *sys.argv[1:]]\n"
    "from plantproof.cli import main\n"
    "main()\n"
)


def run_import(dsn: str, path: Path, devices: Path) -> tuple[float, float, str]:
    """Seconds, peak RSS (MiB) of the import process, and its summary."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPED, "collector", "import", str(path), "--site", "bench",
         "--gateway-id", "historian", "--devices", str(devices), "--dsn", dsn, "--simulated"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("PEAK-RSS-KIB")]
    return elapsed, int(peak[-1]) / 1024, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1000.0, help="size of the large CSV, MB")
    ap.add_argument("--small-mb", type=float, default=20.0, help="size of the small CSV, MB")
    ap.add_argument("--plain", action="store_true", help="plain PostgreSQL where TimescaleDB is installed")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plantproof-bench-import-"))
    work.chmod(0o755)
    pg = PostgresServer(work / "pg", timescaledb=False if args.plain else None)
    pg.start()
    try:
        devices = work / "devices.yaml"
        devices.write_text("devices:\n" + "".join(f"  {d}: cnc_machine.yaml\n" for d in DEVICES))
        results = {}
        for label, mb in (("small", args.small_mb), ("large", args.mb)):  # small first: its RSS is its own
            path = work / f"{label}.csv"
            rows = generate(path, mb)
            dsn, bare = pg.create_database(), pg.create_database()
            migrate(dsn)
            seconds, rss, summary = run_import(dsn, path, devices)
            copy_s = ceiling(bare, path)
            results[label] = (rows, path.stat().st_size, seconds, rss, copy_s)
            print(f"{label}: {rows:,} rows, {path.stat().st_size / 1e6:,.0f} MB")
            print("\n".join("  " + line for line in summary.strip().splitlines()))
            path.unlink()
        storage = "TimescaleDB" if pg.timescaledb else "plain PostgreSQL"
        print(f"storage: {storage}")
        for label, (rows, size, seconds, rss, copy_s) in results.items():
            print(
                f"{label:5}: {size / 1e6:8,.0f} MB {rows:>12,} rows  import {seconds:7.1f} s"
                f" ({rows / seconds:>9,.0f} rows/s), peak RSS {rss:6.0f} MiB;"
                f" bare COPY {copy_s:6.1f} s ({rows / copy_s:>10,.0f} rows/s)"
            )
        rows, size, seconds, rss, copy_s = results["large"]
        emit(f"import of a {size / 1e6:,.0f} MB CSV", rows / seconds, "rows/s", rows / copy_s,
             "COPY of the same file into a bare table")  # fmt: skip
        small = f"peak RSS importing a {results['small'][1] / 1e6:,.0f} MB CSV"
        emit(f"import peak RSS, {size / 1e6:,.0f} MB CSV", rss, "MiB", results["small"][3], small,
             target="flat (ratio ~ 1)")  # fmt: skip
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
