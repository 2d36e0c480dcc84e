"""Queries at platform scale: a year-long claim, a month's figures and evidence, the fleet page.

Data is loaded once in bulk (SQL generate_series, no per-row Python) into two databases of one
PostgreSQL server, then each query is timed once, as a user runs it:

- claim: `--claim-devices` CNC machines for 2025 (baseline H1, reporting H2). Per device-day 30
  state readings (a state change or heartbeat every 48 min, a few stops a shift; the claim's
  heartbeat timeout is 1 h) and the counters parts_total, parts_good and energy hourly (24 each):
  102 readings a device-day, what the KPI engine reads (states for the time model, counters for
  output and energy). Timed: `verify_claims` end to end (scope, points, binary COPY, time model,
  bootstrap). Ceilings: a bare binary COPY-out of the same rows; the pure computation
  (`device_days` + `evaluate`) on the loaded arrays.
- figures and evidence: `--fleet-devices` devices for `--fleet-days` days of October 2026, two
  points each (an analog and a counter) reported hourly, one gateway batch (envelope) per device-day:
  48 readings a device-day, the density a 30,000-device registry holds on this machine's disk and
  load time (figure queries scan every reading of the window, so time grows with it linearly; the
  rows/s printed lets one scale). Timed: `queries.figures` (load + compute) and `evidence export`
  for the month. Ceilings: a bare COPY-out of the rows each reads; the figures' pure computation.
- fleet page: `plantproof api run` as a user starts it, GET /console/ (p50 of `--requests`);
  ceiling: its two statements (device page, fleet summary) over a plain connection.

    python -m bench.bench_scale [--claim-devices 1000] [--fleet-devices 30000] [--fleet-days 31]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import httpx
import psycopg

from bench.bench_api import _DEVICES, FLEET_PAGE, REGISTRY_SEED, p50, timings
from bench.report import emit
from collector.migrate import migrate
from tests.processes import ApiProcess
from tests.servers import PostgresServer, free_port
from wire.states import STATE_CODES

CLAIM_SITE, FLEET_SITE = "claim-site", "fleet-site"
YEAR = dt.date(2025, 1, 1)
WINDOW = "2026-10"
TARGETS_S = {"claim": 10.0, "figures": 5.0, "export": 30.0}
PAGE_TARGET_MS = 300.0
STATE_EVERY_MIN = 48
T = TypeVar("T")
_S = {k: STATE_CODES[k] for k in ("running", "idle", "planned_stop", "unplanned_stop", "minor_stop", "setup")}

_CLAIM_SEED = f"""
INSERT INTO gateways (gw, site, status) VALUES ('gw-claim', '{CLAIM_SITE}', 'online');
INSERT INTO devices (site, dev, gw, line, type, industry, sector, ideal_rate_per_hour, online,
                     first_seen, last_seen)
SELECT '{CLAIM_SITE}', 'cnc-' || lpad(i::text, 5, '0'), 'gw-claim', 'L' || (i / 50), 'cnc_machine', 'C34',
       'discrete', 40, true, timestamptz '2025-01-01', timestamptz '2025-12-31'
FROM generate_series(0, %(n)s - 1) i;
INSERT INTO points (device_id, name, kind, dtype, wrap)
SELECT d.device_id, v.name, v.kind, v.dtype, v.wrap FROM devices d,
       (VALUES ('state', 'state', 'uint16', NULL), ('parts_total', 'counter', 'uint32', 4294967296),
               ('parts_good', 'counter', 'uint32', 4294967296), ('energy', 'energy', 'float64', NULL))
       v(name, kind, dtype, wrap);
SELECT ensure_readings_partitions(date '2025-01-01', 12);
INSERT INTO readings (time, point_id, value, quality, envelope_id)
SELECT timestamptz '2025-01-01' + k * interval '{STATE_EVERY_MIN} minutes' + (h %% 300) * interval '1 second',
       point_id,
       CASE WHEN u < 600 THEN {_S["running"]} WHEN u < 700 THEN {_S["idle"]}
            WHEN u < 800 THEN {_S["planned_stop"]}
            WHEN u < 880 - CASE WHEN k >= 181 * 30 THEN 16 ELSE 0 END THEN {_S["unplanned_stop"]}
            WHEN u < 880 THEN {_S["running"]} WHEN u < 980 THEN {_S["minor_stop"]} ELSE {_S["setup"]} END,
       0, point_id::bigint * 10000 + k / 30
FROM (SELECT point_id, k, h, h %% 1000 AS u
      FROM (SELECT p.point_id, k, (((p.point_id::bigint * 7919 + k) * 2654435761) & 2147483647) AS h
            FROM points p, generate_series(0, 365 * 1440 / {STATE_EVERY_MIN} - 1) k
            WHERE p.kind = 'state') hashed) s;
INSERT INTO readings (time, point_id, value, quality, envelope_id)
SELECT timestamptz '2025-01-01' + k * interval '1 hour', p.point_id,
       CASE p.name WHEN 'parts_total' THEN floor(k * 40 + 3 * sin(k * 0.7 + p.point_id))
                   WHEN 'parts_good' THEN floor(k * 38.8 + 3 * sin(k * 0.7 + p.point_id))
                   ELSE k * 12.5 END,
       0, p.device_id::bigint * 10000 + k / 24
FROM points p, generate_series(0, 365 * 24 - 1) k WHERE p.kind <> 'state'
"""
_FLEET_SEED = (
    REGISTRY_SEED
    + """
SELECT ensure_readings_partitions(date '2026-10-01', 1);
INSERT INTO envelopes (envelope_id, gw, seq, kind, site, dev, received_at, sent_at, n, sha256)
OVERRIDING SYSTEM VALUE
SELECT d.device_id::bigint * 100 + day, d.gw, d.device_id::bigint * 100 + day, 'data', d.site, d.dev,
       timestamptz '2026-10-01' + (day + 1) * interval '1 day' + interval '2 seconds',
       timestamptz '2026-10-01' + (day + 1) * interval '1 day', 48, md5(d.dev || day)
FROM devices d, generate_series(0, %(days)s - 1) day;
INSERT INTO readings (time, point_id, value, quality, envelope_id)
SELECT timestamptz '2026-10-01' + day * interval '1 day' + h * interval '1 hour', p.point_id,
       CASE p.name WHEN 'parts' THEN (day * 24 + h) * 40 ELSE 20 + (h %% 5) END, 0,
       p.device_id::bigint * 100 + day
FROM points p, generate_series(0, %(days)s - 1) day, generate_series(0, 23) h
"""
)
_CLAIMS_YAML = """claims:
  - id: ud-scale
    title: Unplanned downtime -10 %
    kpi: unplanned_downtime
    scope: {{site: {site}}}
    baseline: {{start: 2025-01-01, end: 2025-06-30}}
    reporting: {{start: 2025-07-01, end: 2025-12-31}}
    change_pct: -10
    heartbeat_timeout_s: 3600
"""


def _seed(dsn: str, script: str, params: dict[str, object]) -> tuple[int, float]:
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        for statement in filter(str.strip, script.split(";\n")):
            conn.execute(statement.encode(), params)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert row is not None
    return int(row[0]), time.perf_counter() - started


def _copy_out(dsn: str, select: str, params: Mapping[str, object]) -> tuple[float, int]:
    """Seconds and bytes of a bare binary `COPY (select) TO STDOUT`, the data read and dropped."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        size = 0
        with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT binary)", params) as copy:
            for chunk in copy:
                size += len(chunk)
        return time.perf_counter() - started, size


def _copy_server(dsn: str, select: str, params: Mapping[str, object]) -> float:
    """Seconds of the same COPY written by the server to /dev/null: the database's part alone, no
    client (psycopg hands COPY data over one row at a time, a few microseconds of Python each)."""
    with psycopg.connect(dsn, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        started = time.perf_counter()
        conn.execute(f"COPY ({select}) TO '/dev/null' (FORMAT binary)", params)
        return time.perf_counter() - started


def _judge(what: str, value: float, target: float, unit: str) -> None:
    verdict = "PASS" if value < target else "MISS"
    print(f"  {what}: {value:,.2f} {unit} against < {target:g} {unit}: {verdict}")


def _timed(call: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    out = call()
    return time.perf_counter() - started, out


def _claim(dsn: str, work: Path, devices: int) -> None:
    from collector.kpi.claimfile import load_claims
    from collector.kpi.counters import CounterRules
    from collector.kpi.engine import device_days
    from collector.kpi.load import connect, load_period, resolve_scope
    from collector.kpi.verify import ClaimResult, evaluate, verify_claims

    rows, took = _seed(dsn, _CLAIM_SEED, {"n": devices})
    print(f"claim data: {devices:,} devices x 2025, {rows:,} readings loaded in {took:.1f} s", flush=True)
    path = work / "claims.yaml"
    path.write_text(_CLAIMS_YAML.format(site=CLAIM_SITE))
    claims = load_claims(path)
    end_to_end, results = _timed(lambda: verify_claims(dsn, claims))
    (result,) = results
    claim = claims[0]
    assert claim.baseline is not None and claim.reporting is not None
    with connect(dsn) as conn:  # the same loads, kept, for the computation alone
        scope = resolve_scope(conn, claim.scope)
        data = [load_period(conn, scope, claim.points, p, claim.heartbeat_timeout_s)
                for p in (claim.baseline, claim.reporting)]  # fmt: skip
    rules = CounterRules(max_rate_multiple=claim.gates.max_rate_multiple)

    def compute() -> ClaimResult:
        parts = [device_days(d, claim.heartbeat_timeout_s, rules) for d in data]
        return evaluate(claim, parts[0], parts[1])

    computation, again = _timed(compute)
    assert again.verdict == result.verdict
    read = sum(len(d.state.t) + len(d.produced.t) + len(d.good.t) + len(d.energy.t) for d in data)
    # The loader's statement per period (collector.kpi.load.copy_readings), bare.
    select = (
        "SELECT point_id, time, COALESCE(value, 'NaN'::float8), quality FROM readings r"
        " JOIN points p USING (point_id) JOIN devices d USING (device_id)"
        " WHERE d.site = %(site)s AND r.time >= %(lo)s AND r.time < %(hi)s ORDER BY point_id, time"
    )
    copy_s = server_s = 0.0
    for period in (claim.baseline, claim.reporting):
        lo = dt.datetime.combine(period.start - dt.timedelta(days=1), dt.time(), dt.UTC)
        hi = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), dt.UTC)
        copy_s += _copy_out(dsn, select, {"site": CLAIM_SITE, "lo": lo, "hi": hi})[0]
        server_s += _copy_server(dsn, select, {"site": CLAIM_SITE, "lo": lo, "hi": hi})
    print(
        f"  claim: {result.verdict}, estimate {result.point_estimate:+.2f} % over {len(result.devices):,} "
        f"devices; {read:,} readings read; end to end {end_to_end:.2f} s = COPY-out {copy_s:.2f} s + "
        f"computation {computation:.2f} s + {end_to_end - copy_s - computation:.2f} s of parsing and arrays; "
        f"the same COPY server-side to /dev/null {server_s:.2f} s"
    )
    label = f"claim, {devices:,} devices x 1 year, end to end"
    _judge(label, end_to_end, TARGETS_S["claim"], "s")
    target = f"< {TARGETS_S['claim']:g} s"
    emit(label, end_to_end, "s", copy_s, "COPY-out of the same rows", target=target)
    emit(f"{label} vs computation", end_to_end, "s", computation, "device_days + evaluate", target=target)


def _figures_and_export(dsn: str, work: Path, devices: int, days: int) -> None:
    from collector.evidence.bundle import export
    from collector.figures import queries
    from collector.figures.compute import Parameters, compute
    from collector.figures.declared import load_declared
    from collector.figures.window import parse_window

    rows, took = _seed(dsn, _FLEET_SEED, {"site": FLEET_SITE, "n": devices, "days": days})
    print(f"fleet data: {devices:,} devices x {days} days, {rows:,} readings in {took:.1f} s", flush=True)
    now = dt.datetime.now(dt.UTC)
    params = Parameters(parse_window(WINDOW, now), now)
    figures_s, (_, loaded) = _timed(lambda: queries.figures(dsn, params))
    computation, _ = _timed(lambda: compute(loaded.results, params))
    start, end = params.window.bounds()
    bare = "SELECT time, point_id, envelope_id FROM readings WHERE quality = 0 AND value IS NOT NULL"
    window = {"lo": start, "hi": end}
    copy_s, size = _copy_out(dsn, f"{bare} AND time >= %(lo)s AND time < %(hi)s", window)
    server_s = _copy_server(dsn, f"{bare} AND time >= %(lo)s AND time < %(hi)s", window)
    print(
        f"  figures: {len(loaded.results.devices):,} active devices; {figures_s:.2f} s = "
        f"{rows / figures_s / 1e6:.2f} M readings/s; COPY-out {copy_s:.2f} s ({size / 1e6:,.0f} MB), "
        f"computation {computation:.3f} s; the same COPY server-side to /dev/null {server_s:.2f} s"
    )
    label = f"figures for a month, {devices:,} devices x {days} days"
    _judge(label, figures_s, TARGETS_S["figures"], "s")
    target = f"< {TARGETS_S['figures']:g} s"
    emit(label, figures_s, "s", copy_s, "COPY-out of the window's readings", target=target)
    emit(f"{label} vs computation", figures_s, "s", computation, "compute() alone", target=target)

    steps: list[tuple[str, float]] = []
    began = time.perf_counter()

    def progress(_stage: str, _done: int, _total: int, what: str | None = None) -> None:
        steps.append((what or "", time.perf_counter() - began))

    export_s, _ = _timed(
        lambda: export(dsn, params, work / "bundle", declared=load_declared(None), key_path=work / "key.pem",
                       now=now, progress=progress)
    )  # fmt: skip
    # What the export reads: the figures' readings and, for the data-quality section, every point's
    # readings a day either side of the window with their envelopes.
    reach = dt.timedelta(days=1)
    full = "SELECT point_id, time, value, quality, envelope_id FROM readings"
    ceiling, _ = _copy_out(dsn, f"{full} WHERE time >= %(lo)s AND time < %(hi)s ORDER BY point_id, time",
                           {"lo": start - reach, "hi": end + reach})  # fmt: skip
    marks = ", ".join(f"{what or 'end'} at {at:.1f} s" for what, at in steps)
    print(f"  evidence export: {export_s:.1f} s ({marks})")
    _judge("evidence export", export_s, TARGETS_S["export"], "s")
    emit(f"evidence export for the month, {devices:,} devices", export_s, "s", ceiling,
         "COPY-out of the rows it reads", target=f"< {TARGETS_S['export']:g} s")  # fmt: skip


def _fleet_page(dsn: str, work: Path, requests: int) -> None:
    from api.console.pages import _FLEET_SUMMARY
    from api.store import create_tenant, create_token

    create_tenant(dsn, "bench", [FLEET_SITE])
    bearer = create_token(dsn, "bench", "operator", label="bench").token
    api = ApiProcess(dsn, free_port(), work)
    api.start_and_wait()
    try:
        with httpx.Client(base_url=api.base, timeout=60) as http, psycopg.connect(dsn) as conn:
            http.cookies.set("pp_session", bearer)

            def page() -> None:
                http.get("/console/").raise_for_status()

            def raw() -> None:
                conn.execute(_DEVICES, {"sites": [FLEET_SITE], "limit": FLEET_PAGE}).fetchall()
                conn.execute(_FLEET_SUMMARY, {"sites": [FLEET_SITE]}).fetchall()

            ms = timings(page, requests)
            ceiling = timings(raw, requests)
    finally:
        api.stop()
    _judge("console fleet page, p50", p50(ms), PAGE_TARGET_MS, "ms")
    emit("console fleet page, p50", p50(ms), "ms", p50(ceiling), "its two statements alone",
         target=f"< {PAGE_TARGET_MS:g} ms")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claim-devices", type=int, default=1000)
    ap.add_argument("--fleet-devices", type=int, default=30_000)
    ap.add_argument("--fleet-days", type=int, default=31, help="days of October 2026 with readings (1..31)")
    ap.add_argument("--requests", type=int, default=30, help="timed fleet-page requests")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plantproof-bench-scale-"))
    work.chmod(0o755)
    pg = PostgresServer(work / "pg")
    pg.start()
    try:
        claim_db, fleet_db = pg.create_database(), pg.create_database()
        migrate(claim_db)
        migrate(fleet_db)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        _claim(claim_db, work, args.claim_devices)
        _figures_and_export(fleet_db, work, args.fleet_devices, min(31, max(1, args.fleet_days)))
        _fleet_page(fleet_db, work, args.requests)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
