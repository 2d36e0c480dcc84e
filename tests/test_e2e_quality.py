"""End to end: data quality of a simulated plant through a real broker, the collector and PostgreSQL.

Copies of the same two days of a plant: one clean, one with a known data gap (press-01, three
hours), a stuck sensor (pump-01 discharge_pressure, four hours) and a counter back-step (cnc-01
parts_good, six minutes). The clean plant scores full marks on every dimension; the faulty one loses
exactly completeness (the press's points) and validity (the two faulty points), names those points,
and counts what the simulator's ground truth says was withheld, frozen and stepped back. Two more
copies: one whose window of cnc-01 data arrives after newer data (only timeliness drops) and whose
overlap is re-delivered (repeats counted), one with a historian import that repeats and contradicts
stored readings (only uniqueness drops).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from collector.ingest import Pipeline
from collector.migrate import migrate
from collector.quality.rules import Settings
from collector.settings import load_settings
from plantproof.cli import app
from plantproof.embedded import MosquittoServer
from simulators.backfill import Counters, Shape, backfill_mqtt, device_samples
from simulators.faults import moment_ns
from simulators.plant import PlantModel
from simulators.plantfile import load_plant, parse_fault
from tests.plant_truth import count

SHAPE = Shape(interval_s=60, heartbeat_s=300)
DAY = 86_400 * 1_000_000_000
WINDOW = "2026-03-02..2026-03-03"
GAP = "{kind: data_gap, devices: [press-01], from: 2026-03-03T08:00, hours: 3}"
STUCK = "{kind: stuck, devices: [pump-01], points: [discharge_pressure], from: 2026-03-02T12:00, hours: 4}"
# cnc-01's readings of 10:00..13:00 reach the collector seconds after everything newer (an outage
# longer than the tolerance for batches committing side by side)
HELD = ("2026-03-02T10:00", 3)
OVERLAP = "{kind: overlap, devices: [pump-01], from: 2026-03-03T00:00, hours: 4}"
BACK_STEP = (
    "{kind: back_step, devices: [cnc-01], at: 2026-03-03T11:00, by: 48812, hours: 0.1, points: [parts_good]}"
)


@dataclass(frozen=True)
class Plant:
    dsn: str
    model: PlantModel
    sent: Counters


def _model(faults: list[str]) -> PlantModel:
    plant = load_plant("test-small", faults=[parse_fault(f) for f in faults])
    return PlantModel(plant, plant.start_ns, plant.start_ns + 2 * DAY)


def _held_back() -> tuple[PlantModel, PlantModel]:
    """The delivery plant as two sends: all but cnc-01's held window, then only that window."""
    at, hours = HELD
    first = _model([OVERLAP, f"{{kind: data_gap, devices: [cnc-01], from: {at}, hours: {hours}}}"])
    rest = ["meter-01", "press-01", "pump-01"]
    later = _model([
        f"{{kind: data_gap, devices: [{', '.join(rest)}], from: 2026-03-02T00:00, hours: 48}}",
        "{kind: data_gap, devices: [cnc-01], from: 2026-03-02T00:00, hours: 10}",
        "{kind: data_gap, devices: [cnc-01], from: 2026-03-02T13:00, hours: 35}",
    ])  # fmt: skip
    return first, later


async def _ingest(dsn: str, url: str, models: list[PlantModel], pause_s: float = 0.0) -> Counters:
    """Send each model's history in turn (`pause_s` apart, new seqs each time); the first one's counters."""
    settings = load_settings(
        None, dsn=dsn, metrics_port=None, batch={"max_age_ms": 50},
        mqtt={"url": url, "client_id": f"quality-{uuid.uuid4().hex[:8]}"},
    )  # fmt: skip
    pipeline = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while pipeline.source is None:  # noqa: ASYNC110 - created by the running task
        await asyncio.sleep(0.05)
    await asyncio.wait_for(pipeline.source.connected.wait(), 30)
    await asyncio.sleep(0.3)  # SUBACK: a QoS 1 message sent before it would not reach the collector
    sent: list[Counters] = []
    for i, model in enumerate(models):
        start = model.plant.start_ns
        await asyncio.sleep(pause_s if i else 0.0)
        sent.append(
            await asyncio.to_thread(backfill_mqtt, model, start, start + 2 * DAY, url, SHAPE, seq0=i * 10**6)
        )
        deadline = asyncio.get_running_loop().time() + 120
        while count(dsn, "SELECT count(*) FROM envelopes") < sum(c.envelopes for c in sent):
            assert asyncio.get_running_loop().time() < deadline, "the collector did not store every envelope"
            await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 30)
    return sent[0]


@pytest.fixture(scope="module")
def plants(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Plant]]:
    broker = MosquittoServer(tmp_path_factory.mktemp("quality-broker"))
    broker.start()
    try:
        out: dict[str, Plant] = {}
        sends = {
            "clean": [_model([])],
            "faulty": [_model([GAP, STUCK, BACK_STEP])],
            "delivery": list(_held_back()),
            "import": [_model([])],
        }
        for name, models in sends.items():
            dsn = pg_server.create_database()
            migrate(dsn)
            sent = asyncio.run(_ingest(dsn, broker.url, models, pause_s=Settings().late_after_s + 2))
            out[name] = Plant(dsn, models[0], sent)
        _import_history(out["import"].dsn, tmp_path_factory.mktemp("history"))
        yield out
    finally:
        broker.stop()


def _import_history(dsn: str, tmp: Path) -> None:
    """A historian export that overlaps the stored data: 5 readings of pump-01/flow as stored (repeats),
    10 with another value (conflicts, refused)."""
    with psycopg.connect(dsn) as conn:
        stored = conn.execute(
            "SELECT r.time, r.value FROM readings r JOIN points p USING (point_id)"
            " WHERE p.name = 'flow' ORDER BY r.time LIMIT 15"
        ).fetchall()
    lines = ["time,device,point,value,quality"]
    for i, (t, v) in enumerate(stored):
        stamp = t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(f"{stamp},pump-01,flow,{v if i < 5 else v + 1.0!r},0")
    (tmp / "history.csv").write_text("\n".join(lines) + "\n")
    (tmp / "devices.yaml").write_text("devices:\n  pump-01: {type: pump.yaml, area: utilities}\n")
    res = CliRunner().invoke(app, [
        "collector", "import", str(tmp / "history.csv"), "--site", "site-t", "--gateway-id", "historian-1",
        "--devices", str(tmp / "devices.yaml"), "--simulated", "--dsn", dsn,
    ])  # fmt: skip
    assert res.exit_code == 1, res.output  # imported, the conflicting values refused
    assert "conflicts      10" in res.output and "repeats        5" in res.output, res.output


def _quality(dsn: str, *args: str) -> dict[str, Any]:
    res = CliRunner().invoke(app, ["quality", "-w", WINDOW, "--dsn", dsn, "-j", *args])
    assert res.exit_code == 0, res.output
    return dict(json.loads(res.output))


def _points(site: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{d['device']}/{p['point']}": p for d in site["devices"] for p in d["points"]}


def test_a_clean_plant_scores_full_marks_on_every_dimension(
    plants: dict[str, Plant],
) -> None:
    dsn, model = plants["clean"].dsn, plants["clean"].model
    result = _quality(dsn)
    (site,) = result["sites"]
    assert site["site"] == "site-t"
    assert site["dimensions"] == dict.fromkeys(
        ("completeness", "validity", "timeliness", "uniqueness"), 1.0
    ), {n: (p["counts"], p["findings"]) for n, p in _points(site).items() if p["score"] != 100}
    assert site["score"] == 100.0
    assert site["affected_points"] == {"completeness": [], "validity": [], "timeliness": [], "uniqueness": []}
    sent = sum(len(device_samples(model, d.id, model.plant.start_ns, model.plant.start_ns + 2 * DAY, SHAPE))
               for d in model.plant.devices)  # fmt: skip
    assert site["counts"]["received"] == site["counts"]["expected"] == sent
    assert site["duplicates"]["repeats_dropped"] == 0
    assert "score = 100 × mean(completeness, validity, timeliness, uniqueness)" in result["formula"]


def test_gap_stuck_sensor_and_back_step_lower_exactly_their_dimensions(
    plants: dict[str, Plant],
) -> None:
    dsn, model = plants["faulty"].dsn, plants["faulty"].model
    (site,) = _quality(dsn)["sites"]
    dims = site["dimensions"]
    assert dims["completeness"] < 1 and dims["validity"] < 1
    assert dims["timeliness"] == dims["uniqueness"] == 1.0
    assert site["score"] < 100
    press = {f"press-01/{p.name}" for p in model.track("press-01").device.device_type.points}
    assert set(site["affected_points"]["completeness"]) == press
    assert site["affected_points"]["validity"] == sorted(
        ["pump-01/discharge_pressure", "cnc-01/parts_good"],
        key=lambda n: _points(site)[n]["dimensions"]["validity"],
    )
    assert site["affected_points"]["timeliness"] == site["affected_points"]["uniqueness"] == []
    points = _points(site)
    # completeness: what the simulator withheld from the press's grid points, exactly
    start = model.plant.start_ns
    clean = _model([])
    for name in ("strokes", "tonnage", "energy"):

        def rows(m: PlantModel, point: str = name) -> int:
            return sum(
                1 for r in device_samples(m, "press-01", start, start + 2 * DAY, SHAPE) if r[0] == point
            )

        p = points[f"press-01/{name}"]
        assert p["counts"]["expected"] - p["counts"]["received"] == rows(clean) - rows(model) == 180
        assert p["findings"]["gaps"] == [["2026-03-03T07:59:00Z", "2026-03-03T11:00:00Z"]]
        assert p["dimensions"]["validity"] == 1.0
    # validity: the frozen readings (the run's first is a true reading) and the two counter steps
    stuck = points["pump-01/discharge_pressure"]
    assert stuck["counts"]["stuck"] == 4 * 60 - 1
    assert stuck["findings"]["stuck_runs"] == [["2026-03-02T12:00:00Z", "2026-03-02T15:59:00Z"]]
    assert stuck["dimensions"]["completeness"] == 1.0
    step = points["cnc-01/parts_good"]
    assert (step["counts"]["back_steps"], step["counts"]["implausible_increments"]) == (1, 1)
    assert step["findings"]["counter_discontinuities"] == ["2026-03-03T11:00:00Z", "2026-03-03T11:06:00Z"]
    devices = {d["device"]: d for d in site["devices"]}
    assert devices["meter-01"]["score"] == 100.0
    assert devices["press-01"]["dimensions"]["validity"] == 1.0
    assert devices["cnc-01"]["dimensions"]["completeness"] == 1.0


def test_late_and_redelivered_data_lower_only_timeliness_and_are_counted(plants: dict[str, Plant]) -> None:
    plant = plants["delivery"]
    (site,) = _quality(plant.dsn)["sites"]
    dims = site["dimensions"]
    assert dims["timeliness"] < 1
    assert dims["completeness"] == dims["validity"] == dims["uniqueness"] == 1.0
    cnc = {f"cnc-01/{p.name}" for p in plant.model.track("cnc-01").device.device_type.points}
    assert set(site["affected_points"]["timeliness"]) == cnc
    # ground truth: every sample of the held window arrived after newer ones, and nothing else did
    start, (at, hours) = plant.model.plant.start_ns, HELD
    lo = moment_ns(dt.datetime.fromisoformat(at))
    held = [r for r in device_samples(_model([]), "cnc-01", start, start + 2 * DAY, SHAPE)
            if lo <= r[1] < lo + hours * 3600 * 10**9]  # fmt: skip
    assert held and site["counts"]["late"] == site["counts"]["untimely"] == len(held)
    points = _points(site)
    for name in cnc:
        mine = sum(1 for r in held if r[0] == name.split("/")[1])
        assert points[name]["counts"]["late"] == mine, name
    # the overlap came again in new envelopes: every sample a repeat of the stored one, dropped
    devices = {d["device"]: d for d in site["devices"]}
    assert plant.sent.redelivered > 0
    assert devices["pump-01"]["duplicates"]["repeats_dropped"] == plant.sent.redelivered
    assert site["duplicates"]["repeats_dropped"] == plant.sent.redelivered
    assert devices["pump-01"]["dimensions"]["uniqueness"] == 1.0


def test_repeats_are_counted_and_conflicts_lower_only_uniqueness(plants: dict[str, Plant]) -> None:
    (site,) = _quality(plants["import"].dsn)["sites"]
    dims = site["dimensions"]
    assert dims["uniqueness"] < 1
    assert dims["completeness"] == dims["validity"] == dims["timeliness"] == 1.0
    assert site["affected_points"]["uniqueness"] == ["pump-01/flow"]
    flow = _points(site)["pump-01/flow"]
    assert flow["counts"]["conflicts"] == 10
    assert flow["dimensions"]["uniqueness"] == round(2880 / 2890, 6)
    assert site["duplicates"] == {
        "samples_offered": site["duplicates"]["samples_offered"],
        "repeats_dropped": 5,
        "conflicts_refused": 10,
        "conflicts_replaced": 0,
    }


def test_one_site_text_output_and_errors(plants: dict[str, Plant]) -> None:
    dsn = plants["faulty"].dsn
    res = CliRunner().invoke(app, ["quality", "-w", WINDOW, "--dsn", dsn, "--site", "site-t"])
    assert res.exit_code == 0, res.output
    assert "site site-t: score" in res.output and "below full validity:" in res.output
    assert "pump-01/discharge_pressure stuck runs: 2026-03-02T12:00:00Z .. 2026-03-02T15:59:00Z" in res.output
    res = CliRunner().invoke(app, ["quality", "-w", WINDOW, "--dsn", dsn, "--site", "nowhere", "-j"])
    assert res.exit_code == 2 and "nowhere" in json.loads(res.output)["error"]
    res = CliRunner().invoke(app, ["quality", "-w", WINDOW, "--dsn", dsn, "--heartbeat-timeout", "0", "-j"])
    assert res.exit_code == 2 and "heartbeat" in json.loads(res.output)["error"]


def test_the_evidence_bundle_carries_the_assessment(plants: dict[str, Plant], tmp_path: Path) -> None:
    dsn = plants["faulty"].dsn
    out = tmp_path / "bundle"
    key = tmp_path / "key.pem"
    res = CliRunner().invoke(
        app, ["evidence", "export", "-w", WINDOW, "--dsn", dsn, "-o", str(out), "-k", str(key)]
    )
    assert res.exit_code == 0, res.output
    evidence = json.loads((out / "evidence.json").read_text())
    (site,) = evidence["quality"]["sites"]
    assert site["score"] == _quality(dsn)["sites"][0]["score"]
    report = (out / "report.html").read_text()
    assert "id='en-quality'" in report and "id='zh-quality'" in report
    assert "pump-01/discharge_pressure" in report and "数据质量" in report
    res = CliRunner().invoke(
        app,
        [
            "evidence",
            "verify",
            str(out),
            "--recompute",
            "--dsn",
            dsn,
            "--pubkey",
            str(out / "pubkey.pem"),
            "-j",
        ],
    )
    assert res.exit_code == 0, res.output
