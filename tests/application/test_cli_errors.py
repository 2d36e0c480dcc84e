"""Command-line errors of the application commands that need no database: one line, exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from plantproof.cli import app

runner = CliRunner()
DSN = ["--dsn", "postgresql://nobody@127.0.0.1:1/none"]


def test_evidence_export_takes_both_application_periods_or_neither(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "evidence",
            "export",
            "-o",
            str(tmp_path / "b"),
            "--baseline",
            "2026-01",
            "-k",
            str(tmp_path / "k"),
            *DSN,
        ],
    )
    assert res.exit_code == 2 and "--baseline and --reporting go together" in res.output
    assert not (tmp_path / "b").exists()


def test_import_orders_names_the_file_and_stores_nothing(tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["collector", "import-orders", str(tmp_path / "no.csv"), "--site", "s", *DSN, "-j"]
    )
    assert missing.exit_code == 2 and "no.csv: cannot read" in json.loads(missing.output)["error"]
    bad = tmp_path / "o.csv"
    bad.write_text("order,due\n", encoding="utf-8")
    res = runner.invoke(app, ["collector", "import-orders", str(bad), "--site", "s", *DSN])
    assert res.exit_code == 2 and f"{bad}:1: header must be order_id,due,delivered" in res.output
