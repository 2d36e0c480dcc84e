"""`plantproof application-table` against the synthetic plant in PostgreSQL: the measured rows are
`plantproof verify`'s claims over the same periods and scope; errors follow the CLI dialect."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from plantproof.cli import app
from tests.kpi.conftest import BASE, REP

runner = CliRunner()
PERIODS = ["--baseline", f"{BASE.start}..{BASE.end}", "--reporting", f"{REP.start}..{REP.end}"]
DECLARED = """
documents: {grid: "Grid emission factor 2022", hr: "Attendance export 2026"}
values:
  emission_factor_kg_per_kwh: {value: 0.5703, source: grid}
application:
  labour_hours: {before: 4000, after: 3900, source: hr}
"""


def _claims(tmp_path: Path) -> Path:
    rows = "".join(
        f"  - {{id: {kpi}, title: t, kpi: {kpi}, scope: {{line: big}}, change_pct: 0, direction: {way},"
        " heartbeat_timeout_s: 1800}\n"
        for kpi, way in (("oee", "increase"), ("energy_per_unit", "decrease"), ("defect_rate", "decrease"))
    )
    path = tmp_path / "c.yaml"
    path.write_text(
        f"periods: {{baseline: {{start: {BASE.start}, end: {BASE.end}}},"
        f" reporting: {{start: {REP.start}, end: {REP.end}}}}}\nclaims:\n{rows}",
        encoding="utf-8",
    )
    return path


def test_measured_rows_equal_verify_on_the_same_periods(plant_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dsn, _ = plant_db
    declared = tmp_path / "declared.yaml"
    declared.write_text(DECLARED, encoding="utf-8")
    common = [*PERIODS, "--line", "big", "--heartbeat-timeout", "1800", "--dsn", dsn]
    res = runner.invoke(app, ["application-table", *common, "--declared", str(declared), "--json"])
    assert res.exit_code == 0, res.output
    table = json.loads(res.output)
    rows = {r["key"]: r for r in table["rows"]}
    verified = runner.invoke(app, ["verify", str(_claims(tmp_path)), "--dsn", dsn, "--json"])
    claims = {c["id"]: c for c in json.loads(verified.output)}
    for key in ("oee", "energy_per_unit", "defect_rate"):
        row, claim = rows[key], claims[key]
        assert (row["change_pct"], row["ci_low"], row["ci_high"], row["verdict"]) == (
            claim["point_estimate"], claim["ci_low"], claim["ci_high"], claim["verdict"],
        ), key  # fmt: skip
    # the big line's reporting regime has fewer stops, better yield and less power: all established
    assert {rows[k]["verdict"] for k in ("oee", "energy_per_unit", "defect_rate")} == {"verified"}
    assert rows["co2_per_unit"]["status"] == rows["labour_productivity"]["status"] == "measured"
    assert len(table["devices"]) == 4

    zh = runner.invoke(app, ["application-table", *common, "--declared", str(declared)])
    en = runner.invoke(app, ["application-table", *common, "--lang", "en"])
    assert zh.exit_code == en.exit_code == 0
    assert zh.output.splitlines()[0].startswith("工厂整体建设成效")
    assert "设备综合利用率提升（%）（overall equipment utilisation (OEE) increase (%)）" in zh.output
    assert "overall equipment utilisation (OEE) increase (%) (设备综合利用率提升（%）)" in en.output
    assert "no emission factor declared" in en.output  # no --declared: the CO₂ row says why


def test_errors_are_one_line_or_one_json_object_with_exit_2(tmp_path: Path) -> None:
    dsn = "postgresql://nobody@127.0.0.1:1/none"
    bad = runner.invoke(
        app, ["application-table", "--baseline", "2026-13", "--reporting", "2026-02", "--dsn", dsn, "-j"]
    )
    assert bad.exit_code == 2 and "2026-13" in json.loads(bad.output)["error"]
    lang = runner.invoke(app, ["application-table", *PERIODS, "--lang", "fr", "--dsn", dsn])
    assert lang.exit_code == 2 and "--lang 'fr'" in lang.output
    declared = tmp_path / "d.yaml"
    declared.write_text(
        "documents: {}\napplication:\n  rows:\n    nc: {change: 1, source: x}\n", encoding="utf-8"
    )
    res = runner.invoke(app, ["application-table", *PERIODS, "--declared", str(declared), "--dsn", dsn, "-j"])
    assert res.exit_code == 2
    assert json.loads(res.output)["error"].startswith(f"{declared}: application.rows.nc: unknown row")
    down = runner.invoke(app, ["application-table", *PERIODS, "--dsn", dsn, "-j"])
    assert down.exit_code == 2 and "cannot connect" in json.loads(down.output)["error"]


def test_scenarios_evidence_prints_measured_facts(plant_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dsn, _ = plant_db
    window = ["--window", f"{REP.start}..{REP.end}", "--heartbeat-timeout", "1800", "--dsn", dsn]
    res = runner.invoke(app, ["scenarios-evidence", *window, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    facts = {s["number"]: {f["key"]: f["value"] for f in s["facts"]} for s in out["scenarios"]}
    devices = 4 * 4  # four lines of four devices
    assert facts[16]["devices_monitored"] == facts[33]["devices_registered"] == devices
    assert facts[16]["points_collected"] == devices * 4  # state, two counters, energy (no temperatures)
    assert facts[14]["devices_inspected"] == devices and facts[14]["units_good"] > 0
    text = runner.invoke(app, ["scenarios-evidence", *window, "--lang", "en"])
    assert text.exit_code == 0
    assert f"devices with valid readings: {devices}" in text.output
    bad = runner.invoke(app, ["scenarios-evidence", "-w", "2026-03..x", "--dsn", dsn, "-j"])
    assert bad.exit_code == 2 and "'x'" in json.loads(bad.output)["error"]


def _orders(path: Path, late_every: dict[str, int]) -> Path:
    rows = ["order_id,due,delivered"]
    for name, period in (("b", BASE), ("r", REP)):
        for i in range(period.days):
            due = period.start + dt.timedelta(days=i)
            for k in range(10):
                late = k % late_every[name] == 0
                rows.append(
                    f"{name}-{i}-{k},{due},{'' if late and k == 0 else due + dt.timedelta(days=late)}"
                )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_imported_orders_measure_on_time_delivery(plant_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dsn, _ = plant_db
    orders = _orders(tmp_path / "orders.csv", {"b": 5, "r": 10})  # 80 % then 90 % on time
    first = runner.invoke(
        app, ["collector", "import-orders", str(orders), "--site", "plant1", "--dsn", dsn, "-j"]
    )
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["inserted"] == 10 * (BASE.days + REP.days)
    again = runner.invoke(app, ["collector", "import-orders", str(orders), "--site", "plant1", "--dsn", dsn])
    assert again.exit_code == 0 and "0 orders new, 0 updated, 1,120 unchanged" in again.output
    common = [*PERIODS, "--line", "big", "--heartbeat-timeout", "1800", "--dsn", dsn, "-j"]
    table = json.loads(runner.invoke(app, ["application-table", *common]).output)
    row = next(r for r in table["rows"] if r["key"] == "order_on_time")
    assert row["status"] == "measured" and row["orders_due"] == {"baseline": 560, "reporting": 560}
    assert (row["before"], row["after"], row["change_pct"]) == (80.0, 90.0, 12.5)
    assert row["verdict"] == "verified"
    other_site = json.loads(runner.invoke(app, ["application-table", *common, "--site", "elsewhere"]).output)
    assert next(r for r in other_site["rows"] if r["key"] == "order_on_time")["status"] == "not_declared"

    bad = tmp_path / "bad.csv"
    bad.write_text("order_id,due,delivered\nX,2026-03-01,\nY,2026-13-01,\n", encoding="utf-8")
    res = runner.invoke(app, ["collector", "import-orders", str(bad), "--site", "plant1", "--dsn", dsn])
    assert res.exit_code == 2 and f"{bad}:3: due: '2026-13-01' is not a date" in res.output
    updated = tmp_path / "late.csv"
    updated.write_text(f"order_id,due,delivered\nb-0-0,{BASE.start},{BASE.start}\n", encoding="utf-8")
    res = runner.invoke(app, ["collector", "import-orders", str(updated), "--site", "plant1", "--dsn", dsn])
    assert "0 orders new, 1 updated, 0 unchanged" in res.output
