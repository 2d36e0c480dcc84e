"""What the end-to-end plant tests check, whatever carried the history to the collector: the figures
and the claim estimates computed from the database against what the simulator knows it generated.
Shared by the JSON v1 test (tests/test_e2e_plant.py) and the Sparkplug one (tests/test_e2e_sparkplug.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import yaml

from collector.figures import queries
from collector.figures.compute import Parameters
from collector.figures.window import Window
from collector.ingest import Pipeline
from collector.kpi.claimfile import load_claims
from collector.kpi.verify import verify_claims
from collector.settings import load_settings
from simulators.plant import PlantModel
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
T = TypeVar("T")


def count(dsn: str, sql: str, *args: object) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, args).fetchone()
    return int(row[0]) if row else 0


async def collect(dsn: str, url: str, send: Callable[[], T], stored: Callable[[T], bool], **mqtt: Any) -> T:
    """Run the collector, `send` the history (in a thread), wait until `stored` says all of it is."""
    settings = load_settings(
        None,
        dsn=dsn,
        metrics_port=None,
        mqtt={"url": url, "client_id": f"e2e-{uuid.uuid4().hex[:8]}", **mqtt},
        batch={"max_age_ms": 50},
    )
    pipeline = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while pipeline.source is None:  # noqa: ASYNC110 - created by the running task
        await asyncio.sleep(0.05)
    await asyncio.wait_for(pipeline.source.connected.wait(), 30)
    await asyncio.sleep(0.3)  # SUBACK: a QoS 1 message sent before it would not reach the collector
    sent = await asyncio.to_thread(send)
    deadline = asyncio.get_running_loop().time() + 120
    while not await asyncio.to_thread(stored, sent):
        assert asyncio.get_running_loop().time() < deadline, "the collector did not store everything sent"
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 30)
    return sent


def expected_figures(model: PlantModel) -> dict[str, int]:
    devices = model.plant.devices
    return {
        "connected": len(devices),
        "points": sum(
            1 for d in devices if d.device_type.sector == "process"
            for p in d.device_type.points if p.kind in COUNTED_KINDS
        ),
        "types": len({d.device_type.type for d in devices}),
        "industries": len({d.device_type.industry for d in devices}),
    }  # fmt: skip


def check_figures(dsn: str, model: PlantModel, include_simulated: bool) -> None:
    """Figures over the plant's window equal the plant's devices; the devices are registered as
    simulated, so without `include_simulated` they are in the simulated column only."""
    plant = model.plant
    window = Window(plant.start, plant.end)
    now = dt.datetime.combine(plant.end, dt.time(), dt.UTC) + dt.timedelta(days=40)
    figures, _ = queries.figures(dsn, Parameters(window, now, 0.5, include_simulated))
    expected = expected_figures(model)
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
    assert {m.split("/")[-1] for m in members} == {d.id for d in plant.devices}


def claims_file(path: Path, model: PlantModel) -> Path:
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


def check_claims(dsn: str, model: PlantModel, tmp_path: Path) -> dict[str, tuple[float, float]]:
    """Each claim's estimate within 1 percentage point of the true change; (estimate, truth) by KPI."""
    plant = model.plant
    middle = to_ns(plant.interventions[0].from_)
    start, end = to_ns(plant.start), to_ns(plant.end)
    known = truth(model, start, end)
    scoped = [d.id for d in plant.devices if d.device_type.type in ("cnc_machine", "press")]
    results = {
        r.to_json()["kpi"]: r.to_json()
        for r in verify_claims(dsn, load_claims(claims_file(tmp_path / "c.yaml", model)))
    }
    out = {}
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
        out[kpi] = (estimate, true_change)
    return out
