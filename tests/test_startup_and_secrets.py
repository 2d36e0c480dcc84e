"""Start-up and configuration: errors are one line naming file, line and field (or the environment
variable), never a traceback nor a secret; a collector whose database is down waits for it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli import app as gateway_app
from gateway.config import load_config
from tests.collector.mqttutil import scalar, wait_until
from tests.gateway.helpers import modbus_device, write_config
from tests.processes import ROOT, Collector, collector_config
from tests.servers import PostgresServer, free_port

SECRET = "s3cr3t-Pa55"


def _gateway(tmp_path: Path, url: str = "mqtt://127.0.0.1:1883", **top: object) -> Path:
    return write_config(tmp_path, url, [modbus_device("m1", port=1502)], **top)


def test_gateway_check_never_prints_a_password_even_one_in_the_url(tmp_path: Path) -> None:
    path = _gateway(tmp_path, f"mqtts://gw1:{SECRET}@broker.example:8883")
    result = CliRunner().invoke(gateway_app, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output and "broker mqtts://broker.example:8883" in result.output
    cfg = load_config(path)
    assert cfg.mqtt.username == "gw1" and cfg.mqtt.password is not None
    assert cfg.mqtt.password.get_secret_value() == SECRET
    assert SECRET not in repr(cfg) and SECRET not in cfg.mqtt.url


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace("gateway_id: gw1", "gateway_id: gw1\ngateway_id: gw2"),
            r":3: invalid YAML: duplicate key 'gateway_id' \(first given on line 2\)",
        ),
        (
            lambda t: t.replace("url: mqtt", f"url: mqtt://u:{SECRET}@h:70000 #"),
            r":4: the port must be a number from 1 to 65535 \(field mqtt\.url\)",
        ),
        (lambda t: t + "metrics:\n  port: 70000\n", r"less than or equal to 65535 \(field metrics\.port\)"),
        (lambda t: t.replace("site: site1", "site: [unclosed"), r":\d+: invalid YAML"),
    ],
)
def test_gateway_config_errors_are_one_line_without_secrets(
    tmp_path: Path, edit: Callable[[str], str], expected: str
) -> None:
    import re

    path = _gateway(tmp_path)
    path.write_text(edit(path.read_text()))
    result = CliRunner().invoke(gateway_app, ["check", "--config", str(path)])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: {path}") and re.search(expected, line), line
    assert SECRET not in result.output


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "PLANTPROOF_GATEWAY_METRICS__PORT",
            "70000",
            "PLANTPROOF_GATEWAY_METRICS__PORT: Input should be less than or equal to 65535",
        ),
        (
            "PLANTPROOF_GATEWAY_METRICS__PORT",
            "many",
            "PLANTPROOF_GATEWAY_METRICS__PORT: Input should be a valid integer",
        ),
        (
            "PLANTPROOF_GATEWAY_MQTT__URL",
            f"http://u:{SECRET}@h",
            "PLANTPROOF_GATEWAY_MQTT__URL: expected mqtt://",
        ),
    ],
)
def test_gateway_environment_errors_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(gateway_app, ["check", "--config", str(_gateway(tmp_path))])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: environment variable {expected}"), line
    assert SECRET not in result.output


def test_an_mqtt_url_from_the_environment_gives_up_its_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANTPROOF_GATEWAY_MQTT__URL", f"mqtt://gw9:{SECRET}@10.0.0.9:1884")
    cfg = load_config(_gateway(tmp_path))
    assert (cfg.mqtt.url, cfg.mqtt.port, cfg.mqtt.username) == ("mqtt://10.0.0.9:1884", 1884, "gw9")
    assert cfg.mqtt.password is not None and cfg.mqtt.password.get_secret_value() == SECRET


def test_collector_waits_for_its_database_with_one_line_per_attempt(
    tmp_path: Path, postgres_factory: Callable[..., PostgresServer]
) -> None:
    pg = postgres_factory()
    dsn = pg.create_database().replace("postgres@", f"postgres:{SECRET}@")  # trust auth ignores it
    pg.stop()
    config = collector_config(tmp_path / "c.yaml", dsn, "127.0.0.1", free_port())
    collector = Collector(config, tmp_path / "c.log")
    collector.start()
    try:
        wait_until(lambda: "(attempt 3)" in collector.output(), 60, "three attempts")
        assert collector.alive()
        pg.start()
        wait_until(lambda: "reachable after" in collector.output(), 60, "the all-clear")
        assert scalar(dsn, "SELECT count(*) FROM schema_migrations") > 0, "migrated once it could"
    finally:
        collector.stop()
    log = collector.output()
    attempts = [line for line in log.splitlines() if "not reachable (attempt" in line]
    assert len(attempts) >= 3 and all(" retrying in " in line for line in attempts)
    assert "Traceback" not in log and SECRET not in log


def test_a_broken_collector_config_is_one_line_and_names_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"dsn": f"postgresql//admin:{SECRET}@db/x", "mqtt": {"port": 70000}}))
    out = subprocess.run(
        [sys.executable, "-m", "collector.cli", "run", "--config", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"error: {path}:1: not a PostgreSQL connection string (expected postgresql://user@host:port/db or"
        " 'host=... dbname=...') (+1 more errors) (field dsn)"
    ]
    assert SECRET not in out.stdout + out.stderr


def test_gateway_run_logs_no_password(tmp_path: Path) -> None:
    port = free_port()  # nothing listens: the gateway retries and says so
    path = _gateway(tmp_path, f"mqtt://gw1:{SECRET}@127.0.0.1:{port}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run", "-c", str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    time.sleep(4.0)
    proc.terminate()
    output, _ = proc.communicate(timeout=30)
    assert "cannot reach broker" in output
    assert SECRET not in output and "Traceback" not in output
