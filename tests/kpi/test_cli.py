"""`plantproof verify`: exit status, JSON output, period overrides, errors."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from plantproof.cli import app as root_app
from tests.kpi.conftest import BASE, REP

runner = CliRunner()


def _app() -> typer.Typer:
    return root_app


def _file(tmp_path: Path, claims: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"periods: {{baseline: {{start: {BASE.start}, end: {BASE.end}}},"
        f" reporting: {{start: {REP.start}, end: {REP.end}}}}}\nclaims:\n{claims}",
        encoding="utf-8",
    )
    return path


UD = (
    "  - {id: ud, title: t, kpi: unplanned_downtime, scope: {line: big}, change_pct: -20,"
    " heartbeat_timeout_s: 1800}\n"
)
Y = "  - {id: y, title: t, kpi: quality, scope: {line: small}, change_pp: 2, heartbeat_timeout_s: 1800}\n"


def test_verify_exits_zero_only_when_all_claims_are_verified(plant_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dsn, _ = plant_db
    ok = runner.invoke(_app(), ["verify", str(_file(tmp_path, UD)), "--dsn", dsn, "--json"])
    assert ok.exit_code == 0, ok.output
    (row,) = json.loads(ok.output)
    assert row["verdict"] == "verified" and row["unit"] == "%" and row["claimed_change"] == -20
    assert set(row["coverage"]) == {"baseline", "reporting"} and len(row["series"]["baseline"]) == BASE.days

    both = runner.invoke(_app(), ["verify", str(_file(tmp_path, UD + Y)), "--dsn", dsn])
    assert both.exit_code == 1
    assert "VERIFIED" in both.output and "REFUTED" in both.output

    week = f"{REP.start}..{REP.start.replace(day=REP.start.day + 6)}"
    short = runner.invoke(_app(), ["verify", str(_file(tmp_path, UD)), "--dsn", dsn, "--reporting", week])
    assert short.exit_code == 3 and "INCONCLUSIVE" in short.output and "7 days" in short.output


def test_verify_reports_bad_input_with_status_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("claims:\n  - {id: a, title: t, kpi: nope, change_pct: 1}\n", encoding="utf-8")
    res = runner.invoke(_app(), ["verify", str(bad), "--dsn", "postgresql://127.0.0.1:1/x"])
    assert res.exit_code == 2
    assert "bad.yaml:2: " in res.output and "(field claims.0.kpi)" in res.output
    as_json = runner.invoke(_app(), ["verify", str(bad), "--dsn", "postgresql://127.0.0.1:1/x", "--json"])
    error = json.loads(as_json.stdout)
    assert as_json.exit_code == 2 and error["exit_code"] == 2 and "bad.yaml:2: " in error["error"]
    old = runner.invoke(_app(), ["verify", str(bad), "--dsn", "x", "--reporting", "2026-05-01:2026-05-31"])
    assert old.exit_code == 2 and "expected YYYY-MM or YYYY-MM-DD" in old.output
    good = _file(tmp_path, UD)
    res = runner.invoke(_app(), ["verify", str(good), "--dsn", "postgresql://nobody@127.0.0.1:1/x"])
    assert res.exit_code == 2 and "cannot connect" in res.output
