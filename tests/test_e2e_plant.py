"""End to end against ground truth: a simulated plant's history goes over a real broker into the
collector, and the figures, claim estimates and the evidence bundle computed from the database are
compared with what the simulator knows it generated."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.evidence.bundle import export
from collector.evidence.verify import verify_bundle
from collector.figures.compute import Parameters
from collector.figures.declared import load_declared
from collector.figures.window import Window
from collector.migrate import migrate
from plantproof.embedded import MosquittoServer
from simulators.backfill import Shape, backfill_mqtt
from simulators.plant import PlantModel
from simulators.plantfile import load_plant
from simulators.scenario import to_ns
from tests.application_truth import check_application, check_application_bundle, check_scenarios
from tests.plant_truth import check_claims, check_figures, claims_file, collect, count


async def _ingest_history(dsn: str, broker: MosquittoServer) -> tuple[PlantModel, int, int]:
    plant = load_plant("test-small")
    start, end = to_ns(plant.start), to_ns(plant.end)
    model = PlantModel(plant, start, end)
    gw = f"backfill-{plant.name}"
    counters = await collect(
        dsn,
        broker.url,
        lambda: backfill_mqtt(model, start, end, broker.url, Shape(interval_s=600)),
        lambda sent: count(dsn, "SELECT count(*) FROM envelopes WHERE gw = %s", gw) >= sent.envelopes,
    )
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
    stored = count(dsn, "SELECT count(*) FROM readings") + count(dsn, "SELECT count(*) FROM readings_text")
    data_samples = count(dsn, "SELECT coalesce(sum(n), 0) FROM envelopes WHERE kind = 'data'")
    assert stored == data_samples == samples
    assert count(dsn, "SELECT count(*) FROM envelopes") == envelopes
    assert count(dsn, "SELECT count(*) FROM dead_letters") == 0


@pytest.mark.parametrize("include_simulated", [False, True])
def test_figures_equal_the_plant_truth(
    ingested: tuple[str, PlantModel, int, int], include_simulated: bool
) -> None:
    dsn, model, _, _ = ingested
    check_figures(dsn, model, include_simulated)


def test_claim_estimates_equal_the_plant_truth(
    ingested: tuple[str, PlantModel, int, int], tmp_path: Path
) -> None:
    dsn, model, _, _ = ingested
    check_claims(dsn, model, tmp_path)


def test_evidence_bundle_verifies_and_recomputes(
    ingested: tuple[str, PlantModel, int, int], tmp_path: Path
) -> None:
    dsn, model, _, _ = ingested
    plant = model.plant
    now = dt.datetime.combine(plant.end, dt.time(), dt.UTC) + dt.timedelta(days=40)
    params = Parameters(Window(plant.start, plant.end), now, 0.5, False)
    out = tmp_path / "bundle"
    claims = claims_file(tmp_path / "c.yaml", model)
    export(dsn, params, out, declared=load_declared(None), claims_path=claims, key_path=tmp_path / "key.pem")
    result = verify_bundle(out, recompute_dsn=dsn)
    assert result.ok, result.problems
    assert result.recomputed
    (out / "devices.csv").write_text((out / "devices.csv").read_text().replace(",31,", ",30,") + " ")
    tampered = verify_bundle(out)
    assert not tampered.ok
    assert any("devices.csv" in str(p) for p in tampered.problems)


def test_application_table_is_the_kpi_engine_on_the_same_periods(
    ingested: tuple[str, PlantModel, int, int], tmp_path: Path
) -> None:
    dsn, model, _, _ = ingested
    check_application(dsn, model, tmp_path)


def test_application_table_page_in_the_bundle_recomputes(
    ingested: tuple[str, PlantModel, int, int], tmp_path: Path
) -> None:
    dsn, model, _, _ = ingested
    check_application_bundle(dsn, model, tmp_path)


def test_scenario_evidence_is_what_the_plant_generated(ingested: tuple[str, PlantModel, int, int]) -> None:
    dsn, model, _, _ = ingested
    check_scenarios(dsn, model)
