"""End to end against ground truth: a simulated plant's history goes over a real broker into the
collector, and the figures, claim estimates and the evidence bundle computed from the database are
compared with what the simulator knows it generated."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from collector.evidence.bundle import export
from collector.evidence.verify import verify_bundle
from collector.figures import queries
from collector.figures.compute import Parameters
from collector.figures.declared import load_declared
from collector.figures.window import Window
from collector.ingest import Pipeline
from collector.kpi.claimfile import load_claims
from collector.kpi.verify import verify_claims
from collector.migrate import migrate
from collector.settings import load_settings
from plantproof.embedded import MosquittoServer
from simulators.backfill import Shape, backfill_mqtt
from simulators.plant import PlantModel
from simulators.plantfile import load_plant
from simulators.scenario import to_ns
from simulators.truth import truth

COUNTED_KINDS = {"analog", "state", "counter", "energy", "switch"}
# Claim KPI -> ground-truth key, and whether the claim is in percentage points.
CLAIMS = {
    "unplanned_downtime": ("unplanned_downtime_per_pbt_hour", False),
    "availability": ("availability", True),
    "quality": ("quality", True),
    "energy_per_unit": ("kwh_per_good_unit", False),
    "work_efficiency": ("good_units_per_pbt_hour", False),
}


def _count(dsn: str, sql: str, *args: object) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, args).fetchone()
    return int(row[0]) if row else 0


async def _ingest_history(dsn: str, broker: MosquittoServer) -> tuple[PlantModel, int, int]:
    plant = load_plant("test-small")
    start, end = to_ns(plant.start), to_ns(plant.end)
    model = PlantModel(plant, start, end)
    settings = load_settings(
        None,
        dsn=dsn,
        metrics_port=None,
        mqtt={"url": broker.url, "client_id": f"e2e-{uuid.uuid4().hex[:8]}"},
        batch={"max_age_ms": 50},
    )
    pipeline = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while pipeline.source is None:  # noqa: ASYNC110 - created by the running task
        await asyncio.sleep(0.05)
    await asyncio.wait_for(pipeline.source.connected.wait(), 30)
    counters = await asyncio.to_thread(backfill_mqtt, model, start, end, broker.url, Shape(interval_s=600))
    gw = f"backfill-{plant.name}"
    deadline = asyncio.get_running_loop().time() + 120
    while _count(dsn, "SELECT count(*) FROM envelopes WHERE gw = %s", gw) < counters.envelopes:
        assert asyncio.get_running_loop().time() < deadline, "the collector did not store every envelope"
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 30)
    return model, counters.envelopes, counters.samples


@pytest.fixture(scope="module")
def ingested(
    pg_server: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, PlantModel, int, int]]:
    # A broker of its own: the session broker holds other tests' retained births.
    broker = MosquittoServer(tmp_path_factory.mktemp("e2e-broker"))
    broker.start()
    try:
        dsn = pg_server.create_database()  # type: ignore[attr-defined]
        migrate(dsn)
        model, envelopes, samples = asyncio.run(_ingest_history(dsn, broker))
        yield dsn, model, envelopes, samples
    finally:
        broker.stop()


def test_every_backfilled_sample_is_stored_once(ingested: tuple[str, PlantModel, int, int]) -> None:
    dsn, _model, envelopes, samples = ingested
    stored = _count(dsn, "SELECT count(*) FROM readings") + _count(dsn, "SELECT count(*) FROM readings_text")
    data_samples = _count(dsn, "SELECT coalesce(sum(n), 0) FROM envelopes WHERE kind = 'data'")
    assert stored == data_samples == samples
    assert _count(dsn, "SELECT count(*) FROM envelopes") == envelopes
    assert _count(dsn, "SELECT count(*) FROM dead_letters") == 0


@pytest.mark.parametrize("include_simulated", [False, True])
def test_figures_equal_the_plant_truth(
    ingested: tuple[str, PlantModel, int, int], include_simulated: bool
) -> None:
    dsn, model, _, _ = ingested
    plant = model.plant
    window = Window(plant.start, plant.end)
    now = dt.datetime.combine(plant.end, dt.time(), dt.UTC) + dt.timedelta(days=40)
    figures, _ = queries.figures(dsn, Parameters(window, now, 0.5, include_simulated))
    devices = plant.devices
    expected = {
        "connected": len(devices),
        "points": sum(
            1 for d in devices if d.device_type.sector == "process"
            for p in d.device_type.points if p.kind in COUNTED_KINDS
        ),
        "types": len({d.device_type.type for d in devices}),
        "industries": len({d.device_type.industry for d in devices}),
    }  # fmt: skip
    headline = "value" if include_simulated else "simulated"
    for rule in ("default", "any_day", "every_day"):
        assert getattr(figures.connected_equipment.rule(rule), headline) == expected["connected"]
        assert getattr(figures.data_collection_points.rule(rule), headline) == expected["points"]
    assert getattr(figures.equipment_types, headline) == expected["types"]
    assert getattr(figures.industries, headline) == expected["industries"]
    if not include_simulated:  # simulated devices never reach a headline figure
        assert figures.connected_equipment.default.value == 0
        assert figures.data_collection_points.default.value == 0
    members = {m.device for m in figures.connected_equipment.every_day.simulated_members}
    assert {m.split("/")[-1] for m in members} == {d.id for d in devices}


def _claims_file(path: Path, model: PlantModel) -> Path:
    plant = model.plant
    middle = plant.interventions[0].from_
    claims = [
        {"id": f"e2e-{kpi}", "title": kpi, "kpi": kpi, "scope": {"type": ["cnc_machine", "press"]},
         **({"change_pp": 1} if pp else {"change_pct": -10}), "gates": {"min_days": 5},
         "bootstrap": {"block_days": 1}}
        for kpi, (_key, pp) in CLAIMS.items()
    ]  # fmt: skip
    periods = {
        "baseline": {"start": plant.start, "end": middle - dt.timedelta(days=1)},
        "reporting": {"start": middle, "end": plant.end - dt.timedelta(days=1)},
    }
    path.write_text(yaml.safe_dump({"periods": periods, "claims": claims}, sort_keys=False))
    return path


def test_claim_estimates_equal_the_plant_truth(
    ingested: tuple[str, PlantModel, int, int], tmp_path: Path
) -> None:
    dsn, model, _, _ = ingested
    plant = model.plant
    middle = to_ns(plant.interventions[0].from_)
    start, end = to_ns(plant.start), to_ns(plant.end)
    known = truth(model, start, end)
    scoped = [d.id for d in plant.devices if d.device_type.type in ("cnc_machine", "press")]
    results = {
        r.to_json()["kpi"]: r.to_json()
        for r in verify_claims(dsn, load_claims(_claims_file(tmp_path / "c.yaml", model)))
    }
    for kpi, (key, pp) in CLAIMS.items():
        base = known.kpis(start, middle, scoped)[key]
        rep = known.kpis(middle, end, scoped)[key]
        assert base is not None and rep is not None
        true_change = (rep - base) * 100 if pp else (rep / base - 1) * 100
        estimate = results[kpi]["point_estimate"]
        assert estimate is not None, results[kpi]
        # Within 1 percentage point of the truth (the engine works from the same state changes).
        assert abs(estimate - true_change) < 1.0, (kpi, estimate, true_change)
        assert results[kpi]["verdict"] in ("verified", "refuted", "inconclusive")


def test_evidence_bundle_verifies_and_recomputes(
    ingested: tuple[str, PlantModel, int, int], tmp_path: Path
) -> None:
    dsn, model, _, _ = ingested
    plant = model.plant
    now = dt.datetime.combine(plant.end, dt.time(), dt.UTC) + dt.timedelta(days=40)
    params = Parameters(Window(plant.start, plant.end), now, 0.5, False)
    out = tmp_path / "bundle"
    claims = _claims_file(tmp_path / "c.yaml", model)
    export(dsn, params, out, declared=load_declared(None), claims_path=claims, key_path=tmp_path / "key.pem")
    result = verify_bundle(out, recompute_dsn=dsn)
    assert result.ok, result.problems
    assert result.recomputed
    (out / "devices.csv").write_text((out / "devices.csv").read_text().replace(",31,", ",30,") + " ")
    tampered = verify_bundle(out)
    assert not tampered.ok
    assert any("devices.csv" in str(p) for p in tampered.problems)
