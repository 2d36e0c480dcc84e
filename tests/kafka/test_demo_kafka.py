"""`plantproof demo --kafka`: the whole demo through the bridge and Tansu, two collectors in one
consumer group; the same figures, claim estimates and verifying bundle as over MQTT alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_demo import ROOT, check_figures_and_claims


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_demo_through_kafka_matches_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    done = subprocess.run(
        [sys.executable, "-m", "plantproof", "demo", "--kafka", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "200"}, timeout=800,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    check_figures_and_claims(done.stdout)
    logs = out / "stack" / "logs"
    held = [(logs / f"collector-{n}.log").read_text() for n in (1, 2)]
    assert all(re.search(r"Kafka partitions assigned: \d", log) for log in held)  # both hold some
    assert "produce of a message" not in (logs / "bridge.log").read_text()  # no produce failed
