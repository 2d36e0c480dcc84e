"""End to end against ground truth over Sparkplug B: a simulated plant's history sent by the gateway's
Sparkplug edge node (tests/sparkplug_replay.py) over a real Mosquitto into the collector as a
Sparkplug host and PostgreSQL; the figures and the claim estimates must equal the simulator's truth
exactly as they do for the JSON v1 path (tests/test_e2e_plant.py, the same checks).

What differs from v1 is only naming: a Sparkplug device is registered at site = group id, gateway =
`group/edge node`, so devices are compared by device id (the figures' members end in it), and each
Sparkplug message has its own ledger entry (`sparkplug_messages`), so counts are of messages, not of
the backfill's envelopes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from collector.migrate import migrate
from plantproof.embedded import MosquittoServer
from simulators.backfill import Shape
from simulators.plant import PlantModel
from simulators.plantfile import load_plant
from simulators.scenario import to_ns
from tests.plant_truth import check_claims, check_figures, collect, count
from tests.sparkplug_replay import Sent, edge_node, replay

GROUP, EDGE = "plant-t", "edge-1"
Ingested = tuple[str, PlantModel, Sent]


async def _ingest(dsn: str, broker: MosquittoServer, tmp: Path) -> tuple[PlantModel, Sent]:
    plant = load_plant("test-small")
    start, end = to_ns(plant.start), to_ns(plant.end)
    model = PlantModel(plant, start, end)
    node = edge_node(tmp, model, broker.url, GROUP, EDGE)
    shape = Shape(interval_s=600, batch=200)  # over 256 messages: seq wraps on the way

    def stored(sent: Sent) -> bool:  # every message in the ledger, the NDEATH included
        return count(dsn, "SELECT count(*) FROM sparkplug_messages") >= sent.messages + 1

    sent = await collect(
        dsn,
        broker.url,
        lambda: replay(node, model, start, end, broker.url, shape),
        stored,
        sources=["pp_v1", "sparkplug"],
    )
    return model, sent


@pytest.fixture(scope="module")
def ingested(pg_server: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    broker = MosquittoServer(tmp_path_factory.mktemp("sp-e2e-broker"))
    broker.start()
    try:
        dsn = pg_server.create_database()  # type: ignore[attr-defined]
        migrate(dsn)
        model, sent = asyncio.run(_ingest(dsn, broker, tmp_path_factory.mktemp("sp-e2e-edge")))
        yield dsn, model, sent
    finally:
        broker.stop()


def test_every_sample_is_stored_once(ingested: Ingested) -> None:
    dsn, model, sent = ingested
    stored = count(dsn, "SELECT count(*) FROM readings") + count(dsn, "SELECT count(*) FROM readings_text")
    assert stored == sent.samples > 0
    # one ledger entry per message: NBIRTH, a DBIRTH per device, the DDATA, the NDEATH
    assert count(dsn, "SELECT count(*) FROM sparkplug_messages") == sent.messages + 1
    assert sent.messages > 256  # seq wrapped 255 -> 0 and the host followed it
    types = count(dsn, "SELECT count(DISTINCT message_type) FROM sparkplug_messages")
    assert types == 4
    assert count(dsn, "SELECT count(*) FROM sparkplug_messages WHERE message_type = 'DBIRTH'") == len(
        model.plant.devices
    )
    assert count(dsn, "SELECT count(*) FROM dead_letters") == 0
    assert count(dsn, "SELECT count(*) FROM reading_conflicts") == 0
    gws = count(dsn, "SELECT count(*) FROM devices WHERE site = %s AND gw = %s", GROUP, f"{GROUP}/{EDGE}")
    assert gws == len(model.plant.devices)


@pytest.mark.parametrize("include_simulated", [False, True])
def test_figures_equal_the_plant_truth(ingested: Ingested, include_simulated: bool) -> None:
    dsn, model, _ = ingested
    check_figures(dsn, model, include_simulated)


def test_claim_estimates_equal_the_plant_truth(ingested: Ingested, tmp_path: Path) -> None:
    dsn, model, _ = ingested
    for kpi, (estimate, true_change) in check_claims(dsn, model, tmp_path).items():
        print(f"{kpi}: estimate {estimate:+.4f} %, truth {true_change:+.4f} %")


def test_the_registry_holds_what_a_json_birth_says(ingested: Ingested) -> None:
    """What the KPI engine and the figures read of a device: its DBIRTH carries it all."""
    dsn, model, _ = ingested
    with psycopg.connect(dsn) as conn:
        got = set(
            conn.execute(
                "SELECT d.dev, d.type, d.industry, d.sector, d.simulated, d.ideal_rate_per_hour, p.name,"
                " p.kind, p.wrap FROM points p JOIN devices d USING (device_id)"
            ).fetchall()
        )
    want = {
        (d.id, t.type, t.industry, t.sector, True, t.ideal_rate_per_hour or None, p.name, p.kind, p.wrap)
        for d in model.plant.devices
        for t in [d.device_type]
        for p in t.points
    }
    assert got == want
