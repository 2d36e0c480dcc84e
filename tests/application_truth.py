"""What the end-to-end test checks of the application's results table: its measured rows are the KPI
engine's claims over the same periods (estimate, interval, verdict, before and after), and their
change rates are the plant's true changes."""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import yaml

from collector.application.declared import parse_application
from collector.application.measure import application_table
from collector.application.rows import BY_KEY, ROWS
from collector.application.table import Periods
from collector.evidence.bundle import export
from collector.evidence.verify import verify_bundle
from collector.figures.compute import Parameters
from collector.figures.declared import load_declared
from collector.figures.window import Window
from collector.kpi.claimfile import load_claims
from collector.kpi.claims import Period, Scope
from collector.kpi.verify import verify_claims
from simulators.plant import PlantModel
from simulators.scenario import to_ns
from simulators.truth import truth

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
    assert evidence["application"]["simulated_devices"] == table["devices"]  # the simulator's devices
    page = (out / "report.html").read_text(encoding="utf-8")
    for row in ROWS:
        assert html.escape(row.zh, quote=True) in page, row.zh
    assert html.escape("设备综合利用率提升（%）（overall equipment utilisation (OEE) increase (%)）") in page
    result = verify_bundle(out, recompute_dsn=dsn)
    assert result.ok and result.recomputed, result.problems
