"""What the end-to-end test checks of the application's results table: its measured rows are the KPI
engine's claims over the same periods (estimate, interval, verdict, before and after), and their
change rates are the plant's true changes."""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from collector.application.declared import parse_application
from collector.application.measure import application_table
from collector.application.rows import BY_KEY, ROWS
from collector.application.scenario_queries import scenario_evidence
from collector.application.scenarios import SCENARIOS
from collector.application.table import Periods
from collector.evidence.bundle import export, rendered_report
from collector.evidence.verify import verify_bundle
from collector.figures.compute import Parameters
from collector.figures.declared import load_declared
from collector.figures.window import Window
from collector.kpi.claimfile import load_claims
from collector.kpi.claims import Period, Scope
from collector.kpi.verify import verify_claims
from collector.models.ledger import invoke
from simulators.plant import PlantModel
from simulators.scenario import to_ns
from simulators.truth import truth
from tests.plant_truth import count
from wire.states import UNPLANNED_DOWN

FACTOR = 0.5703
SCOPE = ["cnc_machine", "press"]
# row key -> (KPI, ground-truth key or None, the truth as a share shown in %)
MEASURED = {
    "production_efficiency": ("work_efficiency", "good_units_per_pbt_hour"),
    "defect_rate": ("defect_rate", None),
    "oee": ("oee", "oee_of_totals"),
    "energy_per_unit": ("energy_per_unit", "kwh_per_good_unit"),
    "co2_per_unit": ("co2_per_unit", "co2_kg_per_good_unit"),
}
DECLARED = {
    "documents": {"grid": "Grid emission factor 2022", "hr": "Attendance export", "mes": "MES report"},
    "values": {"emission_factor_kg_per_kwh": {"value": FACTOR, "source": "grid"}},
    "application": {
        "labour_hours": {"before": 1000, "after": 900, "source": "hr"},
        "claimed": {"oee": 1},
        "rows": {"nc_rate": {"before": 60, "after": 80, "source": "mes"}},
    },
}


def periods_of(model: PlantModel) -> Periods:
    plant = model.plant
    middle = plant.interventions[0].from_
    return Periods(
        baseline=Period(start=plant.start, end=middle - dt.timedelta(days=1)),
        reporting=Period(start=middle, end=plant.end - dt.timedelta(days=1)),
        scope=Scope(type=SCOPE),
    )


def _claims(path: Path, periods: Periods) -> Path:
    claims = [
        {"id": key, "title": key, "kpi": kpi, "scope": {"type": SCOPE},
         "change_pct": 1 if key == "oee" else 0, "direction": BY_KEY[key].better, "source": "s",
         **({"emission_factor_kg_per_kwh": FACTOR} if kpi == "co2_per_unit" else {})}
        for key, (kpi, _) in MEASURED.items()
    ]  # fmt: skip
    body = {
        "periods": {k: getattr(periods, k).model_dump() for k in ("baseline", "reporting")},
        "claims": claims,
    }
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def check_application(dsn: str, model: PlantModel, tmp_path: Path) -> dict[str, Any]:
    periods = periods_of(model)
    table = application_table(dsn, periods, parse_application(DECLARED, "declared.yaml"))
    rows = {r["key"]: r for r in table["rows"]}
    assert [r["zh"] for r in table["rows"]] == [r.zh for r in ROWS]
    claims = {r.id: r for r in verify_claims(dsn, load_claims(_claims(tmp_path / "c.yaml", periods)))}
    start, end = to_ns(periods.baseline.start), to_ns(model.plant.end)
    middle = to_ns(periods.reporting.start)
    known = truth(model, start, end)
    scoped = [d.id for d in model.plant.devices if d.device_type.type in SCOPE]
    base, rep = known.kpis(start, middle, scoped, FACTOR), known.kpis(middle, end, scoped, FACTOR)
    for key, (_kpi, truth_key) in MEASURED.items():
        row, claim = rows[key], claims[key].to_json()
        assert row["status"] == "measured", row
        for field in ("point_estimate", "ci_low", "ci_high", "claimed_change"):
            ours = row[
                "change_pct"
                if field == "point_estimate"
                else field.replace("claimed_change", "claimed_change_pct")
            ]
            assert ours == claim[field], (key, field, ours, claim[field])
        assert row["verdict"] == claim["verdict"] and row["reasons"] == claim["reasons"]
        scale = 100 if key in ("oee", "defect_rate") else 1
        for ours, period in (
            (row["before"], "baseline"),
            (row["after"], "reporting"),
        ):  # both rounded to 1e-6
            assert abs(ours - claim["coverage"][period]["value"] * scale) <= 1e-6 * scale, (key, period)
        if truth_key is None:  # defect rate = 1 - quality
            tb, tr = 1 - base["quality"], 1 - rep["quality"]  # type: ignore[operator]
        else:
            tb, tr = base[truth_key], rep[truth_key]
        assert tb and tr
        assert abs(row["change_pct"] - (tr / tb - 1) * 100) < 1.0, (key, row["change_pct"], tr / tb - 1)
    labour = rows["labour_productivity"]
    good_b, good_r = base["good_units"], rep["good_units"]
    assert labour["status"] == "measured"
    assert good_b and good_r
    assert abs(labour["before"] - good_b / 1000) / (good_b / 1000) < 0.01, (labour, good_b)
    assert abs(labour["change_pct"] - ((good_r / 900) / (good_b / 1000) - 1) * 100) < 1.0
    assert rows["nc_rate"]["status"] == "declared" and rows["nc_rate"]["change_pct"] == round(100 / 3, 6)
    assert rows["order_on_time"]["status"] == "not_declared"
    return table


def check_application_bundle(dsn: str, model: PlantModel, tmp_path: Path) -> None:
    """A bundle with the table: its page shows every row in the original's wording, and recomputing
    from the database gives the same table."""
    plant = model.plant
    now = dt.datetime.combine(plant.end, dt.time(), dt.UTC) + dt.timedelta(days=40)
    params = Parameters(Window(plant.start, plant.end), now, 0.5, False)
    periods = periods_of(model)
    app = parse_application(DECLARED, "declared.yaml")
    out = tmp_path / "bundle"
    export(
        dsn,
        params,
        out,
        declared=load_declared(None),
        key_path=tmp_path / "k.pem",
        application=(periods, app),
    )
    evidence = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    table = evidence["application"]["table"]
    assert table == application_table(dsn, periods, app)
    scenarios = evidence["application"]["scenarios"]
    assert scenarios["window"] == table["reporting"]
    assert [s["number"] for s in scenarios["scenarios"]] == list(SCENARIOS)
    assert evidence["application"]["simulated_devices"] == table["devices"]  # the simulator's devices
    page = (out / "report.html").read_text(encoding="utf-8")
    for row in ROWS:
        assert html.escape(row.zh, quote=True) in page, row.zh
    assert html.escape("设备综合利用率提升（%）（overall equipment utilisation (OEE) increase (%)）") in page
    assert (
        "16 设备运行监控" not in page
        and html.escape("设备运行监控（equipment operation monitoring）") in page
    )
    assert rendered_report(out) == page  # `evidence render` gives the same bytes
    result = verify_bundle(out, recompute_dsn=dsn)
    assert result.ok and result.recomputed, result.problems
    # orders imported after the export change the on-time row: the recomputation names it
    due = periods.baseline.start
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO orders (site, order_id, due, delivered, source) VALUES (%s, 'o1', %s, %s, 't'),"
            " (%s, 'o2', %s, NULL, 't')",
            (plant.devices[0].site, due, due, plant.devices[0].site, periods.reporting.start),
        )
    try:
        changed = verify_bundle(out, recompute_dsn=dsn)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM orders WHERE source = 't'")
    assert any(p.where.startswith("application table.rows[12]") for p in changed.problems), changed.problems


ALARMS = """
CREATE TABLE IF NOT EXISTS alarms (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, rule text NOT NULL, subject text NOT NULL,
    site text, severity text NOT NULL, message text NOT NULL, value double precision,
    raised_at timestamptz NOT NULL, cleared_at timestamptz, acked_at timestamptz,
    ack_note text NOT NULL DEFAULT ''
)"""


def check_scenarios(dsn: str, model: PlantModel) -> None:
    """Scenario facts over the plant's window equal what the simulator generated; models invoked and
    alarms raised and cleared are counted by when they happened."""
    plant = model.plant
    period = Period(start=plant.start, end=plant.end - dt.timedelta(days=1))
    known = truth(model, to_ns(plant.start), to_ns(plant.end))
    totals = known.totals()
    out = scenario_evidence(dsn, period, (FACTOR, "grid"))
    facts = {s["number"]: {f["key"]: f["value"] for f in s["facts"]} for s in out["scenarios"]}
    numeric = [p for d in plant.devices for p in d.device_type.points if p.dtype != "string"]
    assert facts[16]["devices_monitored"] == facts[16]["simulated_devices"] == len(plant.devices)
    assert facts[16]["points_collected"] == len(numeric)
    assert facts[16]["readings"] == count(dsn, "SELECT count(*) FROM readings WHERE quality = 0")
    assert facts[17]["unplanned_stops"] == totals["failures"]
    assert facts[17]["unplanned_downtime_hours"] == pytest.approx(
        sum(totals["state_hours"][s] for s in UNPLANNED_DOWN), rel=0.01
    )
    inspected = known.totals(devices=[d.id for d in plant.devices if d.device_type.type in SCOPE])
    assert facts[14]["devices_inspected"] == len(SCOPE)
    assert facts[14]["units_good"] == pytest.approx(inspected["good_units"], rel=0.005)
    assert facts[14]["units_produced"] == pytest.approx(inspected["total_units"], rel=0.005)
    assert facts[22]["energy_kwh"] == pytest.approx(totals["energy_kwh"], rel=0.005)
    assert facts[22]["kwh_per_good_unit"] == pytest.approx(
        inspected["energy_kwh"] / inspected["good_units"], rel=0.005
    )
    assert facts[23]["co2_kg"] == pytest.approx(totals["energy_kwh"] * FACTOR, rel=0.005)
    assert facts[22]["energy_meters"] == sum(1 for p in numeric if p.kind == "energy")
    assert facts[12]["setpoint_points"] == sum(1 for p in numeric if p.kind == "setpoint")
    assert facts[24]["pollution_points"] == 0  # no concentration points in this plant
    assert facts[33]["devices_registered"] == len(plant.devices)
    evidenced = {s["number"] for s in out["scenarios"] if s["evidenced"]}
    assert evidenced == {16, 17, 12, 14, 22, 23, 33} - ({12} if not facts[12]["setpoint_points"] else set())

    today = dt.datetime.now(dt.UTC).date()
    device = f"{plant.devices[0].site}/{plant.devices[0].id}"
    for name in ("oee", "state_timeline"):
        invoke(dsn, name, device=device, window=period, caller="e2e")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(ALARMS)
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            "INSERT INTO alarms (rule, subject, severity, message, raised_at, cleared_at) VALUES"
            " ('device_offline', 'a', 'warning', 'm', %s, %s),"
            " ('device_offline', 'b', 'warning', 'm', %s, NULL)",
            (now - dt.timedelta(minutes=5), now - dt.timedelta(minutes=1), now - dt.timedelta(minutes=2)),
        )
    later = scenario_evidence(dsn, Period(start=plant.start, end=today), None)
    by = {s["number"]: {f["key"]: f for f in s["facts"]} for s in later["scenarios"]}
    assert by[16]["model_invocations"]["by_model"] == {"oee": 1}
    assert by[33]["model_invocations"]["by_model"] == {"state_timeline": 1}
    assert later["alarms_table"]
    assert (by[17]["alarms_raised"]["value"], by[17]["alarms_cleared"]["value"]) == (2, 1)
    assert by[23]["co2_kg"]["value"] is None  # no emission factor declared
