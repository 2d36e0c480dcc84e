"""The platform service at registry scale: API and console latency on a 30,000-device registry.

Seeds a migrated database in bulk (SQL, no gateway): `--devices` devices of one tenant's site, two
points each, three good readings per point per day for `--days` days of October 2026. Starts
`plantproof api run` as a user does, then times `--requests` sequential requests of each route
after a warm-up, and reports p50 and p99. The ceiling is the same route's raw work measured in the
same run: the device-list SQL over a plain psycopg connection, and the figure queries
(`collector.figures.queries.load`) called directly.

    python -m bench.bench_api [--devices 30000] [--days 31] [--requests 30]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bench.report import emit
from collector.figures import queries
from collector.figures.window import parse_window
from collector.migrate import migrate
from tests.processes import ApiProcess
from tests.servers import PostgresServer, free_port

ROOT = Path(__file__).resolve().parent.parent
WINDOW = "2026-10"
SITE = "bench-site"
PAGE_TARGET_MS = 300.0

# The fleet's registry: 1,000 devices per gateway, two points each (bench_scale seeds the same).
REGISTRY_SEED = """
INSERT INTO gateways (gw, site, status)
SELECT 'gw-' || g, %(site)s, 'online' FROM generate_series(0, (%(n)s - 1) / 1000) g;
INSERT INTO devices (site, dev, gw, type, industry, sector, managed, online, first_seen, last_seen)
SELECT %(site)s, 'dev-' || lpad(i::text, 6, '0'), 'gw-' || (i / 1000),
       (ARRAY['cnc', 'press', 'pump'])[1 + i %% 3], 'C34',
       CASE WHEN i %% 3 = 2 THEN 'process' ELSE 'discrete' END, i %% 2 = 0, i %% 10 <> 0,
       timestamptz '2026-09-01', timestamptz '2026-10-31'
FROM generate_series(0, %(n)s - 1) i;
INSERT INTO points (device_id, name, kind, dtype)
SELECT d.device_id, v.name, v.kind, 'float64' FROM devices d,
       (VALUES ('temp', 'analog'), ('parts', 'counter')) v(name, kind);
"""
_SEED = (
    REGISTRY_SEED
    + """
SELECT ensure_readings_partitions(date '2026-10-01', 1);
INSERT INTO readings (time, point_id, value, quality, envelope_id)
SELECT timestamptz '2026-10-01' + d * interval '1 day' + h * interval '1 hour', p.point_id, 1.5, 0,
       p.point_id::bigint * 100 + d
FROM points p, generate_series(0, %(days)s - 1) d, (VALUES (1), (12), (23)) hv(h);
"""
)
# The device list's SQL, as the API runs it (api/app.py _DEVICES) for the tenant's one site.
_DEVICES = """
SELECT site, dev AS device, gw AS gateway, type, industry, sector, simulated, managed, online,
       first_seen, last_seen, protocol, area, line
FROM devices WHERE namespace = 'plant' AND site = ANY(%(sites)s) ORDER BY site, dev LIMIT %(limit)s
"""
API_PAGE = 1000  # the API's default page of the device list
FLEET_PAGE = 100  # the console's fleet page


def seed(dsn: str, devices: int, days: int) -> int:
    with psycopg.connect(dsn) as conn:
        params = {"site": SITE, "n": devices, "days": days}
        for statement in filter(str.strip, _SEED.split(";\n")):
            conn.execute(statement, params)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert row is not None
    return int(row[0])


def token(dsn: str) -> str:
    from api.store import create_tenant, create_token

    create_tenant(dsn, "bench", [SITE])
    return create_token(dsn, "bench", "operator", label="bench").token


def timings(call: Callable[[], object], requests: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        call()
    out = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p50(ms: list[float]) -> float:
    return statistics.median(ms)


def p99(ms: list[float]) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=30_000)
    ap.add_argument("--days", type=int, default=31, help="days of October 2026 with readings (1..31)")
    ap.add_argument("--requests", type=int, default=30, help="timed requests per route")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plantproof-bench-api-"))
    work.chmod(0o755)
    pg = PostgresServer(work / "pg")
    pg.start()
    api = None
    try:
        dsn = pg.create_database()
        migrate(dsn)
        started = time.perf_counter()
        readings = seed(dsn, args.devices, min(31, max(1, args.days)))
        took = time.perf_counter() - started
        print(f"seeded {args.devices:,} devices, {readings:,} readings in {took:.1f} s")
        bearer = {"Authorization": f"Bearer {token(dsn)}"}
        api = ApiProcess(dsn, free_port(), work)
        api.start_and_wait()
        base = api.base
        window = parse_window(WINDOW, datetime.now(UTC))
        with httpx.Client(base_url=base, headers=bearer, timeout=120) as http, psycopg.connect(dsn) as conn:

            def get(path: str) -> Callable[[], object]:
                def call() -> object:
                    res = http.get(path)
                    res.raise_for_status()
                    return res

                return call

            def raw_devices(limit: int) -> Callable[[], object]:
                return lambda: conn.execute(_DEVICES, {"sites": [SITE], "limit": limit}).fetchall()

            http.cookies.set("pp_session", bearer["Authorization"].split()[1])
            n = args.requests
            sql_page = timings(raw_devices(API_PAGE), n)
            sql_fleet = timings(raw_devices(FLEET_PAGE), n)
            api_devices = timings(get("/api/v1/devices"), n)
            raw_figures = timings(lambda: queries.load(dsn, window), max(3, n // 5), warmup=1)
            api_figures = timings(get(f"/api/v1/figures?window={WINDOW}"), max(3, n // 5), warmup=1)
            fleet = timings(get("/console/"), n)
            figures_page = timings(get(f"/console/figures?window={WINDOW}"), max(3, n // 5), warmup=1)
        scale, page = f"{args.devices:,} devices", f"< {PAGE_TARGET_MS:g} ms"
        for label, ms, ceiling, ceiling_label, target in (
            (f"API device list, {API_PAGE:,} a page, {scale}", api_devices, sql_page, "the page's SQL", ""),
            (f"API figures for a month, {scale}", api_figures, raw_figures, "figure queries alone", ""),
            (f"console fleet page, {scale}", fleet, sql_fleet, "its device page's SQL alone", page),
            (f"console figures page, {scale}", figures_page, raw_figures, "figure queries alone", page),
        ):  # fmt: skip
            print(f"  {label}: p50 {p50(ms):,.1f} ms, p99 {p99(ms):,.1f} ms over {len(ms)} requests")
            emit(f"{label}, p50", p50(ms), "ms", p50(ceiling), ceiling_label, target=target)
            emit(f"{label}, p99", p99(ms), "ms", p99(ceiling), ceiling_label, target=target)
    finally:
        if api is not None:
            api.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
