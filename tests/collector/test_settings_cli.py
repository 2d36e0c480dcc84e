"""Settings (env over YAML), the `collector migrate` command and the metrics endpoint."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import app
from collector.errors import CollectorError
from collector.metrics import Metrics
from collector.migrate import available
from collector.settings import load_settings
from tests.collector.mqttutil import scalar
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_sample_config_loads_and_env_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings(ROOT / "configs" / "collector.yaml")
    assert s.mqtt.client_id == "plantproof-collector-1" and s.storage.retention_days is None
    monkeypatch.setenv("PLANTPROOF_COLLECTOR_MQTT__PORT", "8883")
    monkeypatch.setenv("PLANTPROOF_COLLECTOR_DSN", "postgresql://x@h/db")
    s = load_settings(ROOT / "configs" / "collector.yaml")
    assert (s.mqtt.port, s.dsn, s.mqtt.host) == (8883, "postgresql://x@h/db", "127.0.0.1")


def test_missing_or_invalid_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CollectorError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("mqtt:\n  port: many\n")
    with pytest.raises(ValueError, match=r"mqtt\.port"):
        load_settings(bad)
    with pytest.raises(ValueError, match="queue_max"):
        load_settings(None, queue_max=10, mqtt={"receive_maximum": 100})


def test_cli_migrate(pg_dsn: str) -> None:
    result = CliRunner().invoke(app, ["migrate", "--dsn", pg_dsn])
    assert result.exit_code == 0, result.output
    versions = [m.version for m in available("postgresql")]  # the same versions on both storage paths
    assert f"applied: {versions}" in result.output
    assert scalar(pg_dsn, "SELECT count(*) FROM schema_migrations") == len(versions)
    again = CliRunner().invoke(app, ["migrate", "--dsn", pg_dsn])
    assert "up to date" in again.output


def test_metrics_are_served_from_their_own_registry() -> None:
    m = Metrics()
    m.stored_rows.inc(42)
    port = free_port()
    m.serve("127.0.0.1", port)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert "plantproof_collector_stored_rows_total 42.0" in body
    assert "python_gc_objects_collected_total" not in body  # not the global default registry
