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


def _published(service: dict[str, Any]) -> list[str]:
    """Port mappings as written (short syntax) or as `docker compose config` writes them (long)."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append(f"{port.get('host_ip', '')}:{port.get('published')}:{port.get('target')}")
        else:
            out.append(str(port))
    return out


def _check_exposure(services: dict[str, dict[str, Any]]) -> None:
    for name in ("collector", "gateway"):
        ports = _published(services[name])
        assert ports and all(p.startswith("127.0.0.1:") for p in ports), f"{name} metrics exposed: {ports}"
    for name, service in services.items():
        for port in _published(service):
            open_to_all = not port.startswith("127.0.0.1:")
            assert not open_to_all or (name == "mosquitto" and port.endswith("8883:8883")), (name, port)


def test_only_the_brokers_tls_port_is_published_beyond_loopback() -> None:
    _check_exposure(_services())


def test_compose_config_agrees_where_docker_compose_is_installed() -> None:
    import shutil
    import subprocess

    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no docker compose client on this machine")
    env = ROOT / "deploy.env"
    created = not env.exists()
    if created:  # `config` needs the env file the operator would create
        env.write_text((ROOT / "deploy.env.example").read_text())
    try:
        out = subprocess.run(
            [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
    finally:
        if created:
            env.unlink()
    import json

    _check_exposure(json.loads(out.stdout)["services"])


def test_the_brokers_health_check_has_an_account_of_its_own() -> None:
    # the broker binds client ids to usernames: a check logging in as the collector would take over
    # the collector's session every few seconds
    check = str(_services()["mosquitto"]["healthcheck"]["test"])
    assert "-u healthcheck" in check and "collector" not in check
    acl = (ROOT / "configs" / "mosquitto" / "acl").read_text()
    assert "user healthcheck\ntopic read $SYS/broker/uptime" in acl
    conf = (ROOT / "configs" / "mosquitto" / "mosquitto.conf").read_text()
    assert conf.count("use_username_as_clientid true") == conf.count("\nlistener ")
