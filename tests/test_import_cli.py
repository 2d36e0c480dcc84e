"""`plantproof collector import`: a simulator's history as historian CSV, once and only once."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from plantproof.cli import app
from simulators.backfill import Shape, backfill_csv
from simulators.plant import PlantModel
from simulators.plantfile import load_plant
from simulators.scenario import to_ns


def _history(tmp_path: Path) -> tuple[Path, Path, int]:
    plant = load_plant("test-small")
    start, end = to_ns(plant.start), to_ns(plant.start) + 2 * 86_400 * 10**9
    csv_file = tmp_path / "history.csv"
    backfill_csv(PlantModel(plant, start, end), start, end, csv_file, Shape(interval_s=600))
    with csv_file.open() as fh:
        rows = sum(1 for _ in csv.DictReader(fh))
    devices = tmp_path / "devices.yaml"
    devices.write_text("devices:\n" + "".join(f"  {d.id}: {d.type_file.name}\n" for d in plant.devices))
    return csv_file, devices, rows


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["collector", "import", *args], terminal_width=200)
    return result.exit_code, result.output


def test_import_stores_every_row_once(tmp_path: Path, pg_dsn: str) -> None:
    csv_file, devices, rows = _history(tmp_path)
    args = [str(csv_file), "--site", "plant-a", "--gateway-id", "historian-1", "--devices", str(devices),
            "--dsn", pg_dsn, "--simulated"]  # fmt: skip
    code, out = _invoke(*args)
    assert code == 0, out
    with psycopg.connect(pg_dsn) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
        text = conn.execute("SELECT count(*) FROM readings_text").fetchone()[0]  # type: ignore[index]
        sims = conn.execute("SELECT bool_and(simulated), count(*) FROM devices").fetchone()
    assert stored + text == rows
    assert sims == (True, 4)

    code, out = _invoke(*args)
    assert code == 0, out
    assert "0 readings" in out
    with psycopg.connect(pg_dsn) as conn:
        again = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
    assert again == stored


def test_unknown_device_is_an_error_and_stores_nothing(tmp_path: Path, pg_dsn: str) -> None:
    csv_file, devices, _ = _history(tmp_path)
    lines = devices.read_text().splitlines()
    devices.write_text("\n".join(lines[:-1]) + "\n")  # forget the last device
    code, out = _invoke(str(csv_file), "--site", "plant-a", "--gateway-id", "historian-1",
                        "--devices", str(devices), "--dsn", pg_dsn)  # fmt: skip
    assert code == 2
    assert lines[-1].split(":")[0].strip() in out
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (0,)


def test_devices_file_errors_name_the_file_and_field(tmp_path: Path, pg_dsn: str) -> None:
    csv_file, devices, _ = _history(tmp_path)
    devices.write_text("devices:\n  cnc-01: {type: cnc_machine.yaml, colour: red}\n")
    code, out = _invoke(str(csv_file), "--site", "plant-a", "--gateway-id", "historian-1",
                        "--devices", str(devices), "--dsn", pg_dsn)  # fmt: skip
    assert code == 2
    assert str(devices) in out and "colour" in out


def test_summary_progress_conflicts_and_replace(tmp_path: Path, pg_dsn: str) -> None:
    csv_file, devices, rows = _history(tmp_path)
    args = ["--site", "plant-a", "--gateway-id", "historian-1", "--devices", str(devices), "--dsn", pg_dsn]
    code, out = _invoke(str(csv_file), *args)
    assert code == 0, out
    assert "validating: 100.0 %" in out and "storing: 100.0 %" in out  # periodic lines off a terminal
    assert f"rows in file   {rows:,}" in out and "0 bad rows, 0 unmapped state codes" in out
    # a corrected re-export: other values at three stored (point, time)s, the rest repeated
    lines = csv_file.read_text().splitlines()
    header, body = lines[0], lines[1:]
    point, value = header.split(",").index("point"), header.split(",").index("value")
    fixed = []
    for line in body:
        cells = line.split(",")
        if cells[point] == "spindle_temp" and sum(a != b for a, b in zip(body, fixed, strict=False)) < 3:
            cells[value] = str(float(cells[value]) + 1)
        fixed.append(",".join(cells))
    changed = sum(a != b for a, b in zip(body, fixed, strict=True))
    assert changed == 3
    corrected = tmp_path / "corrected.csv"
    corrected.write_text("\n".join([header, *fixed]) + "\n")
    code, out = _invoke(str(corrected), *args)
    assert code == 1, out
    assert f"conflicts      {changed}" in out and f"repeats        {rows - changed:,}" in out
    assert "rerun with --replace" in out
    code, out = _invoke(str(corrected), *args, "--replace")
    assert code == 0, out
    assert f"replaced       {changed}" in out and "conflicts      0" in out


def test_progress_goes_to_stderr_and_the_summary_alone_to_stdout(tmp_path: Path, pg_dsn: str) -> None:
    csv_file, devices, rows = _history(tmp_path)
    size = csv_file.stat().st_size
    result = CliRunner().invoke(
        app,
        ["collector", "import", str(csv_file), "--site", "plant-a", "--gateway-id", "historian-1",
         "--devices", str(devices), "--dsn", pg_dsn],
        terminal_width=200,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()  # not a terminal: plain lines
    shape = r"import (validating|storing): +\d+\.\d % \([\d,]+/[\d,]+ bytes, [\d,]+ (rows|readings)\)"
    assert lines and all(re.fullmatch(shape, line) for line in lines), lines
    assert lines.count(f"import validating: 100.0 % ({size:,}/{size:,} bytes, {rows:,} rows)") == 1
    storing = [line for line in lines if line.startswith("import storing: 100.0 %")]
    assert len(storing) == 1 and storing[0].endswith(f", {rows:,} readings)")
    summary = result.stdout.splitlines()
    assert summary[0].startswith(f"{csv_file}: sha256 ") and len(summary) == 8
    assert all(line.startswith("  ") for line in summary[1:]) and "%" not in result.stdout
