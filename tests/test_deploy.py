"""docker-compose.yml, the Dockerfile and the systemd unit refer only to things that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from plantproof.cli import app

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
# Files the operator supplies (secrets, PKI); the README says how to create them.
OPERATOR_SUPPLIED = {"./configs/mosquitto/passwd", "./configs/mosquitto/certs", "./secrets/pg_password"}


def _services() -> dict[str, dict[str, Any]]:
    return COMPOSE["services"]


def test_service_names_and_images() -> None:
    services = _services()
    assert set(services) == {
        "timescaledb",
        "mosquitto",
        "collector-migrate",
        "collector",
        "gateway",
        "sim-opcua",
        "sim-modbus",
    }
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    for name in ("collector-migrate", "collector", "gateway", "sim-opcua", "sim-modbus"):
        assert services[name]["image"] == "plantproof:latest"
    assert services["sim-opcua"]["profiles"] == ["demo"] and services["sim-modbus"]["profiles"] == ["demo"]
    assert "pg_isready" in str(services["timescaledb"]["healthcheck"])


def test_dependencies_wait_for_health() -> None:
    services = _services()
    assert services["collector-migrate"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    deps = services["collector"]["depends_on"]
    assert deps["collector-migrate"]["condition"] == "service_completed_successfully"
    assert deps["mosquitto"]["condition"] == "service_healthy"
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_referenced_files_exist() -> None:
    missing = []
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and source not in OPERATOR_SUPPLIED and not (ROOT / source).exists():
                missing.append(f"{name}: {source}")
        for env_file in service.get("env_file", []):
            assert (ROOT / f"{env_file}.example").exists(), f"{env_file}.example is missing"
        for arg in service.get("command", []):
            if isinstance(arg, str) and arg.startswith("/etc/plantproof/configs/"):
                local = ROOT / "configs" / arg.removeprefix("/etc/plantproof/configs/")
                if not local.exists():
                    missing.append(f"{name}: {arg}")
    for secret in COMPOSE.get("secrets", {}).values():
        assert (ROOT / f"{secret['file']}.example").exists()
    assert missing == []


def test_no_secret_is_committed() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"PASSWORD:\s*[^$\s{]", text), "a password literal in docker-compose.yml"
    ignored = (ROOT / ".gitignore").read_text()
    assert "deploy.env" in ignored and "configs/mosquitto/passwd" in ignored


@pytest.mark.parametrize("service", ["collector-migrate", "collector", "gateway", "sim-opcua", "sim-modbus"])
def test_commands_exist_with_their_options(service: str) -> None:
    command = _services()[service]["command"]
    words = [w for w in command if not w.startswith("-") and not w.startswith("/")]
    path = words[:2]
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for option in (w for w in command if w.startswith("--")):
        assert option in result.output, f"{service}: {' '.join(path)} has no option {option}"


def test_systemd_unit_runs_unprivileged_with_state_under_var_lib() -> None:
    unit = (ROOT / "configs" / "systemd" / "plantproof-gateway.service").read_text()
    assert "User=plantproof" in unit and "User=root" not in unit
    assert "ReadWritePaths=/var/lib/plantproof" in unit
    assert "ExecStart=/opt/plantproof/bin/plantproof gateway run -c " in unit
    result = CliRunner().invoke(app, ["gateway", "run", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "-c" in result.output


def test_compose_gateway_config_resolves_inside_the_image() -> None:
    # In the image only /etc/plantproof/configs exists: device types must resolve relative to the file.
    path = ROOT / "configs" / "gateways" / "compose.yaml"
    raw = yaml.safe_load(path.read_text())
    for device in raw["devices"]:
        assert (path.parent / device["type"]).is_file(), device["type"]
    from gateway.config import load_config

    assert len(load_config(path).devices) == len(raw["devices"])
