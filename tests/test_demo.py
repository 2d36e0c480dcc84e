"""`plantproof demo`, the main job, run as a user runs it: figures and verdicts match the simulator's
truth, and the evidence bundle it writes verifies."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from plantproof.cli import app


def _rows(output: str, title: str) -> list[list[str]]:
    """Cells of the rich table whose title contains `title` (continuation lines dropped)."""
    block = output[output.index(title) :]
    rows = []
    for line in block.splitlines()[1:]:
        if line.startswith("└"):
            break
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if cells[1]:
                rows.append(cells)
    return rows


def _number(text: str) -> float:
    match = re.search(r"[-+]?\d[\d,]*\.?\d*", text)
    assert match, text
    return float(match.group().replace(",", ""))


def test_demo_matches_ground_truth_and_its_bundle_verifies(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    proc = subprocess.run(
        [sys.executable, "-m", "plantproof", "demo", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "SIMULATED DATA" in text

    figures = _rows(text, "platform figures")
    compared = [r for r in figures if r[3] not in ("—", "")]
    assert len(compared) >= 6
    for figure, headline, simulated, truth in compared:
        assert headline == "0", figure  # simulated devices never reach a headline figure
        assert simulated == truth, figure

    claims = _rows(text, "claims: baseline")
    assert len(claims) == 4
    for claim, _claimed, measured, _interval, truth, verdict in claims:
        assert abs(_number(measured) - _number(truth)) < 0.05, claim
        assert verdict in ("verified", "refuted", "inconclusive")
    assert any(r[5] == "verified" for r in claims) and any(r[5] == "refuted" for r in claims)

    evidence = re.search(r"^evidence: (.+)$", text, re.MULTILINE)
    assert evidence, text[-2000:]
    bundle = Path(evidence.group(1)).parent
    result = CliRunner().invoke(app, ["evidence", "verify", str(bundle)])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("OK")
