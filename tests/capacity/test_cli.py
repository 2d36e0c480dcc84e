"""`plantproof capacity` against a real broker and database."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from plantproof.cli import app


def test_capacity_command(mqtt_broker: Any, pg_dsn: str) -> None:
    res = CliRunner().invoke(
        app,
        [
            "capacity",
            "--devices",
            "50",
            "--mqtt",
            mqtt_broker.url,
            "--dsn",
            pg_dsn,
            "--json",
            "--timeout",
            "60",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)  # progress goes to stderr: stdout is the report alone
    assert report["label"] == "synthetic" and report["namespace"].startswith("capacity:")
    assert (report["devices_registered"], report["answered"], report["success_rate"]) == (50, 50, 1.0)
    assert report["latency_ms"]["p50"] is not None
    assert "capacity waiting: 100.0 % (50/50 devices, 50 answered)" in res.stderr.splitlines()
