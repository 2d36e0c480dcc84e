"""End to end under real plant conditions: a simulated plant's history with every fault at once goes
over a real broker into the collector and PostgreSQL, and every KPI claim is compared with truth.

Each estimate must lie within 0.1 (percentage point, or % of change) of the truth over the time the
data covers (what really happened in the device-days the engine keeps, in the time state data
explains), device-days that faults make invalid must be excluded with the reason, and the verdict
must be the one clean data gives, or inconclusive.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import yaml

from collector.ingest import Pipeline
from collector.kpi.claimfile import load_claims
from collector.kpi.claims import Claim
from collector.kpi.counters import CounterRules
from collector.kpi.engine import EPOCH, PeriodData, Series, device_days, kpi_parts
from collector.kpi.load import _pick, connect, load_period, resolve_scope
from collector.kpi.timemodel import DAY_NS, covered, sanitize_codes
from collector.kpi.verify import ClaimResult, evaluate, verify_claims
from collector.migrate import migrate
from collector.settings import load_settings
from plantproof.embedded import MosquittoServer
from simulators.backfill import Shape, backfill_mqtt, device_samples
from simulators.plant import PlantModel
from simulators.plantfile import load_plant, parse_fault
from simulators.truth import fault_days, truth_within
from wire.states import STATE_CODES

SHAPE = Shape(interval_s=600, heartbeat_s=300)
TIMEOUT_S = 600.0
SCOPE = ("cnc_machine", "press")
# Every condition at once, placed so that each period keeps ≥ 90 % of its device-days valid (the
# faults that invalidate a day share one device-day per period) and the verdicts stay decidable.
FAULTS = [
    # baseline (2026-03-02 .. 03-08)
    "{kind: steady, devices: [cnc-01], from: 2026-03-03T06:00, hours: 8}",
    "{kind: counter_reset, devices: [press-01], at: 2026-03-04T03:00}",
    "{kind: jump, devices: [press-01], at: 2026-03-05T12:00, by: 30000, points: [strokes]}",
    "{kind: state_gap, devices: [press-01], from: 2026-03-05T07:00, hours: 3}",
    "{kind: duplicate, from: 2026-03-06T00:00, hours: 6}",
    "{kind: late, devices: [press-01], from: 2026-03-07T00:00, hours: 12}",
    "{kind: clock_skew, devices: [press-01], seconds: 45}",
    # reporting (2026-03-09 .. 03-15)
    "{kind: wrap, devices: [cnc-01], at: 2026-03-10T09:00, points: [parts_total]}",
    "{kind: heartbeat_loss, devices: [cnc-01], from: 2026-03-12T00:00, hours: 24}",
    "{kind: back_step, devices: [cnc-01], at: 2026-03-12T11:00, by: 48812, hours: 0.1, points: [parts_good]}",
    "{kind: unreadable, devices: [cnc-01], from: 2026-03-12T14:00, hours: 2}",
    "{kind: overlap, devices: [cnc-01], from: 2026-03-13T00:00, hours: 12}",
]
# claim KPI -> (truth key, percentage points?, the claimed change: some decided either way)
KPIS = {
    "availability": ("availability", True, 10.0),
    "performance": ("performance", True, 2.0),
    "quality": ("quality", True, 0.5),
    "oee": ("oee_of_totals", True, 10.0),
    "unplanned_downtime": ("unplanned_downtime_per_pbt_hour", False, -20.0),
    "mtbf": ("mtbf_hours", False, 20.0),
    "mttr": ("mttr_hours", False, -10.0),
    "maintenance_events": ("maintenance_per_1000_apt_hours", False, -20.0),
    "work_efficiency": ("good_units_per_pbt_hour", False, 5.0),
    "energy_per_unit": ("kwh_per_good_unit", False, -1.0),
    "co2_per_unit": ("co2_kg_per_good_unit", False, -1.0),
    "cost_per_unit": ("cost_per_good_unit", False, -1.0),
}
EMISSION, TARIFF = 0.5703, 0.8


def _count(dsn: str, sql: str, *args: object) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, args).fetchone()
    return int(row[0]) if row else 0


async def _ingest(dsn: str, broker: MosquittoServer, model: PlantModel) -> None:
    settings = load_settings(
        None,
        dsn=dsn,
        metrics_port=None,
        mqtt={"url": broker.url, "client_id": f"faults-{uuid.uuid4().hex[:8]}"},
        batch={"max_age_ms": 50},
    )
    pipeline = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while pipeline.source is None:  # noqa: ASYNC110 - created by the running task
        await asyncio.sleep(0.05)
    await asyncio.wait_for(pipeline.source.connected.wait(), 30)
    start, end = model.plant.start_ns, model.plant.end_ns
    sent = await asyncio.to_thread(backfill_mqtt, model, start, end, broker.url, SHAPE)
    assert sent.duplicated and sent.late and sent.redelivered
    distinct = sent.envelopes - sent.duplicated  # a duplicate repeats a (gw, seq) the ledger has
    deadline = asyncio.get_running_loop().time() + 120
    while _count(dsn, "SELECT count(*) FROM envelopes") < distinct:
        assert asyncio.get_running_loop().time() < deadline, "the collector did not store every envelope"
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 30)


@pytest.fixture(scope="module")
def faulty(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, PlantModel]]:
    plant = load_plant("test-small", faults=[parse_fault(f) for f in FAULTS])
    model = PlantModel(plant, plant.start_ns, plant.end_ns)
    broker = MosquittoServer(tmp_path_factory.mktemp("faults-broker"))
    broker.start()
    try:
        dsn = pg_server.create_database()
        migrate(dsn)
        asyncio.run(_ingest(dsn, broker, model))
        yield dsn, model
    finally:
        broker.stop()


def _claims(path: Path, model: PlantModel) -> list[Claim]:
    plant = model.plant
    middle = plant.interventions[0].from_
    extra = {"emission_factor_kg_per_kwh": EMISSION, "tariff_per_kwh": TARIFF}  # read where they apply
    claims = [
        {"id": kpi, "title": kpi, "kpi": kpi, "scope": {"type": list(SCOPE)},
         **({"change_pp": change} if pp else {"change_pct": change}),
         "gates": {"min_days": 5}, "bootstrap": {"block_days": 1, "resamples": 400},
         "heartbeat_timeout_s": TIMEOUT_S, **extra}
        for kpi, (_key, pp, change) in KPIS.items()
    ]  # fmt: skip
    periods = {
        "baseline": {"start": plant.start, "end": middle - dt.timedelta(days=1)},
        "reporting": {"start": middle, "end": plant.end - dt.timedelta(days=1)},
    }
    path.write_text(yaml.safe_dump({"periods": periods, "claims": claims}, sort_keys=False))
    return load_claims(path)


def _covered_truth(dsn: str, model: PlantModel, claim: Claim) -> tuple[dict[str, Any], dict[str, Any]]:
    """Truth over the time the data covers: the covered intervals of the device-days the engine keeps."""
    out = []
    with connect(dsn) as conn:
        devices = resolve_scope(conn, claim.scope)
        for period in (claim.baseline, claim.reporting):
            assert period is not None
            data = load_period(conn, devices, claim.points, period, claim.heartbeat_timeout_s)
            dd = device_days(data, claim.heartbeat_timeout_s, CounterRules())
            num, den = kpi_parts(claim, dd)
            keep = (
                (dd.timeline.coverage >= claim.gates.device_day_coverage)
                & np.isfinite(num)
                & np.isfinite(den)
            )
            s = data.state
            cov = covered(
                s.dev, s.t, sanitize_codes(s.value, s.quality), end=data.end_ns, timeout_ns=600 * 10**9
            )
            intervals: dict[str, list[tuple[int, int]]] = {}
            for d, a, b in zip(cov.dev.tolist(), cov.start.tolist(), cov.end.tolist(), strict=True):
                dev = data.devices[d].split("/")[-1]
                for day in range((a - data.start_ns) // DAY_NS, (b - 1 - data.start_ns) // DAY_NS + 1):
                    lo, hi = data.start_ns + day * DAY_NS, data.start_ns + (day + 1) * DAY_NS
                    if 0 <= day < keep.shape[1] and keep[d, day] and min(b, hi) > max(a, lo):
                        intervals.setdefault(dev, []).append((max(a, lo), min(b, hi)))
            # a skewed device's stamps are true time plus its skew: truth reads the true time
            true = {
                dev: [(a - skew, b - skew) for a, b in iv]
                for dev, iv in intervals.items()
                for skew in [model.plant.device(dev).faults.skew_ns]
            }
            known = truth_within(model, data.start_ns, data.end_ns, true)
            names = [d.split("/")[-1] for d in data.devices]
            out.append(known.kpis(devices=names, emission_factor=EMISSION, tariff_per_kwh=TARIFF))
    return out[0], out[1]


def _clean_results(model: PlantModel, claims: list[Claim]) -> dict[str, ClaimResult]:
    """The verdicts clean data gives: the same plant without faults, sampled the same way."""
    plant = load_plant("test-small")
    clean = PlantModel(plant, plant.start_ns, plant.end_ns)
    devices = [d for d in plant.devices if d.device_type.type in SCOPE]
    results: dict[str, ClaimResult] = {}
    for claim in claims:
        parts = []
        for period in (claim.baseline, claim.reporting):
            assert period is not None
            start, end = (period.start - EPOCH).days * DAY_NS, ((period.end - EPOCH).days + 1) * DAY_NS
            roles: dict[str, list[tuple[int, list[int], list[float], float]]] = {
                r: [] for r in ("state", "produced", "good", "energy")
            }
            for i, device in enumerate(devices):
                rows = device_samples(clean, device.id, start, end, SHAPE)
                pts = [(j, p.name, p.kind, p.wrap) for j, p in enumerate(device.device_type.points)]
                for role in roles:
                    picked = _pick(pts, role, None)
                    assert picked is not None
                    name = pts[picked[0]][1]
                    sel = [(t, v) for n, t, v, _ in rows if n == name]
                    values = [float(STATE_CODES[v]) if role == "state" else float(v) for _, v in sel]  # type: ignore[arg-type,index]
                    wrap = math.nan if picked[1] is None else picked[1]
                    roles[role].append((i, [t for t, _ in sel], values, wrap))

            def series(rows: list[tuple[int, list[int], list[float], float]]) -> Series:
                n = sum(len(t) for _, t, _, _ in rows)
                return Series(
                    dev=np.concatenate([np.full(len(t), i) for i, t, _, _ in rows]).astype(np.int64),
                    t=np.concatenate([t for _, t, _, _ in rows]).astype(np.int64),
                    value=np.concatenate([v for _, _, v, _ in rows]).astype(np.float64),
                    quality=np.zeros(n, np.int16),
                    wrap=np.concatenate([np.full(len(t), w) for _, t, _, w in rows]),
                )

            data = PeriodData(
                period.start,
                period.end,
                [d.id for d in devices],
                np.array([d.device_type.ideal_rate_per_hour for d in devices], dtype=np.float64),
                *(series(roles[r]) for r in ("state", "produced", "good", "energy")),
            )
            parts.append(device_days(data, claim.heartbeat_timeout_s))
        results[claim.id] = evaluate(claim, parts[0], parts[1])
    return results


def test_every_kpi_estimate_under_faults_equals_the_truth_of_the_covered_time(
    faulty: tuple[str, PlantModel], tmp_path: Path
) -> None:
    dsn, model = faulty
    claims = _claims(tmp_path / "claims.yaml", model)
    results = {r.id: r for r in verify_claims(dsn, claims)}
    clean = _clean_results(model, claims)
    decided = 0
    for claim in claims:
        got = results[claim.id]
        key, pp, _ = KPIS[claim.kpi]
        base, rep = _covered_truth(dsn, model, claim)
        b, r = base[key], rep[key]
        if b is None or r is None or (not pp and b == 0):
            assert not math.isfinite(got.point_estimate) or got.verdict == "inconclusive", got.to_json()
            continue
        true_change = 100 * (r - b) if pp else 100 * (r / b - 1)
        assert got.point_estimate == pytest.approx(true_change, abs=0.1), (
            claim.kpi,
            got.to_json(),
            true_change,
        )
        assert got.verdict in (clean[claim.id].verdict, "inconclusive"), (
            claim.kpi,
            got.verdict,
            clean[claim.id],
        )
        decided += got.verdict != "inconclusive"
    assert decided >= 3  # faults exclude what they must and still leave verdicts to be reached


def test_faulty_device_days_are_excluded_with_the_reason(
    faulty: tuple[str, PlantModel], tmp_path: Path
) -> None:
    dsn, model = faulty
    claims = {c.kpi: c for c in _claims(tmp_path / "claims.yaml", model)}
    (we,) = verify_claims(dsn, [claims["work_efficiency"]])
    (perf,) = verify_claims(dsn, [claims["performance"]])
    assert we.reporting is not None and perf.baseline is not None and perf.reporting is not None
    # the back-step of cnc-01's good counter: a discontinuity, and the return an implausible jump (on
    # a day that heartbeat loss already leaves under the state coverage gate)
    steps = we.reporting.excluded_steps
    assert steps.get("a counter stepping back (discontinuity)") == 1
    assert steps.get("implausible increments (beyond the ideal-rate limit)", 0) >= 1
    # the press's stroke counter jumping by 30,000 (the produced counter of performance)
    assert perf.baseline.excluded.get("implausible increments (beyond the ideal-rate limit)") == 1
    # gaps: increments over no_data excluded, and the coverage says so
    assert we.reporting.excluded_steps.get("increments over no_data", 0) > 0
    assert we.reporting.time_coverage < 1.0 and we.reporting.coverage < 1.0
    assert any("counter steps excluded" in text for text in we.notes + we.reasons)
    # what the excluded device-days could have held is weighed before any verdict
    assert any("excluded device-days could put the estimate" in text for text in we.notes + we.reasons)
    # a reset and a register wrap are not faults of the data: nothing excluded for them
    days = fault_days(model, model.plant.start_ns, model.plant.end_ns)
    assert days["counter_reset"].sum() == 1 and days["wrap"].sum() == 1
    # duplicates, a late and an overlapping delivery: one reading per (point, time) in the figures
    # is the collector's rule; the KPIs above read each (point, time) once whatever is stored
    assert _count(dsn, "SELECT count(*) FROM dead_letters") == 0
