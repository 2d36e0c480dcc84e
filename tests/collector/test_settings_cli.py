"""Settings (env over YAML), the `collector migrate` command and the metrics endpoint."""

from __future__ import annotations

import re
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
    monkeypatch.setenv("PLANTPROOF_COLLECTOR_MQTT__URL", "mqtts://broker.plant")
    monkeypatch.setenv("PLANTPROOF_COLLECTOR_DSN", "postgresql://x@h/db")
    s = load_settings(ROOT / "configs" / "collector.yaml")
    assert (s.mqtt.port, s.dsn, s.mqtt.host, s.mqtt.uses_tls) == (
        8883,
        "postgresql://x@h/db",
        "broker.plant",
        True,
    )


def test_missing_or_invalid_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CollectorError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("mqtt:\n  keepalive_s: many\n")
    with pytest.raises(CollectorError, match=r"bad\.yaml:2: .*integer.*\(field mqtt\.keepalive_s\)$"):
        load_settings(bad)
    with pytest.raises(CollectorError, match="queue_max"):
        load_settings(None, queue_max=10, mqtt={"receive_maximum": 100})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "dsn: postgresql://h/db\nmqtt:\n  client_id: c\n  url: mqtt://h:70000\n",
            r"c\.yaml:4: the port must be a number from 1 to 65535 \(field mqtt\.url\)",
        ),
        (
            "limits:\n  max_payload_bytes: -1\n",
            r"c\.yaml:2: .*greater than or equal to 1024 \(field limits\.max_payload_bytes\)",
        ),
        ("metrics_port: 70000\n", r"c\.yaml:1: .*\(field metrics_port\)"),
        (
            "mqtt:\n  url: mqtt://a\n  url: mqtt://b\n",
            r"c\.yaml:3: .*duplicate key 'url' \(first given on line 2\)",
        ),
        (
            "mqtt:\n  url: http://a\n",
            r"c\.yaml:2: expected mqtt://host\[:port\] or mqtts://.*\(field mqtt\.url\)",
        ),
        ("mqtt: [\n", r"c\.yaml:2: invalid YAML"),
        ("mqtt:\n  hots: a\n", r"c\.yaml:2: .*\(field mqtt\.hots\)"),
        ("dsn: 'postgresql//admin:s3cr3t@db'\n", r"c\.yaml:1: not a PostgreSQL connection string"),
        ("dsn: 'host=db password=s3cr3t port'\n", r"c\.yaml:1: not a PostgreSQL connection string"),
    ],
)
def test_config_errors_name_file_line_and_field_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["migrate", "--config", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert re.search(expected, lines[0]), lines[0]
    assert "s3cr3t" not in result.output and "Traceback" not in result.output


def test_an_environment_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTPROOF_COLLECTOR_MQTT__URL", "mqtt://broker:0")
    with pytest.raises(
        CollectorError, match=r"^environment variable PLANTPROOF_COLLECTOR_MQTT__URL: .*65535$"
    ):
        load_settings(ROOT / "configs" / "collector.yaml")


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
