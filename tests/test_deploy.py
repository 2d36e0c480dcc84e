"""docker-compose.yml, the Dockerfile and the systemd unit refer only to things that exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from plantproof.cli import app
from tests.servers import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
# Files the operator supplies (secrets, PKI); the README says how to create them.
OPERATOR_SUPPLIED = {
    "./configs/mosquitto/passwd",
    "./configs/mosquitto/certs",
    "./configs/mosquitto/certs/ca.crt",
}
# Each service and the Docker secrets it is given: nothing more.
SECRETS = {
    "timescaledb": {"pg_superuser_password", "pg_app_password"},
    "mosquitto": {"mqtt_healthcheck_password"},
    "collector-migrate": {"pg_app_password"},
    "collector": {"pg_app_password", "mqtt_collector_password"},
    "gateway": {"mqtt_gateway_password"},
    "api": {"pg_app_password"},
    "sim-opcua": set(),
    "sim-modbus": set(),
    "kafka": set(),
    "bridge": {"mqtt_bridge_password"},
}


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
        "api",
        "sim-opcua",
        "sim-modbus",
        "kafka",
        "bridge",
    }
    # exact releases, not moving tags
    assert re.fullmatch(r"timescale/timescaledb:\d+\.\d+\.\d+-pg1[56]", services["timescaledb"]["image"])
    assert re.fullmatch(r"eclipse-mosquitto:2\.0\.\d+", services["mosquitto"]["image"])
    base = re.findall(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert base and all(re.fullmatch(r"python:3\.11\.\d+-slim-\w+", b) for b in base), base
    for name in ("collector-migrate", "collector", "gateway", "api", "sim-opcua", "sim-modbus", "bridge"):
        assert services[name]["image"] == "plantproof:latest"
    # the Kafka profile: a pinned Kafka-compatible broker and the bridge
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", services["kafka"]["image"])
    assert services["kafka"]["profiles"] == ["kafka"] and services["bridge"]["profiles"] == ["kafka"]
    assert services["bridge"]["depends_on"]["kafka"]["condition"] == "service_healthy"
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
    assert "secrets/*\n!secrets/*.example" in ignored and "configs/mosquitto/passwd" in ignored
    for name, service in _services().items():
        assert "env_file" not in service, f"{name}: secrets come as Docker secrets, not env files"
        for key, value in service.get("environment", {}).items():
            if "PASSWORD" in key:
                assert key.endswith("PASSWORD_FILE") and str(value).startswith("/run/secrets/"), (name, key)


def _secrets_of(service: dict[str, Any]) -> set[str]:
    """Secret names as written (short syntax) or as the clients' `config` writes them (long)."""
    return {s["source"] if isinstance(s, dict) else s for s in service.get("secrets", [])}


def _check_secrets(services: dict[str, dict[str, Any]]) -> None:
    assert {name: _secrets_of(service) for name, service in services.items()} == SECRETS


def test_each_service_gets_only_its_own_secrets() -> None:
    _check_secrets(_services())
    for name, secret in COMPOSE["secrets"].items():
        assert secret["file"] == f"./secrets/{name}"
        assert (ROOT / "secrets" / f"{name}.example").is_file(), name
    # every *PASSWORD_FILE names a secret the service is given
    for name, service in _services().items():
        for key, value in service.get("environment", {}).items():
            if key.endswith("PASSWORD_FILE"):
                assert str(value).removeprefix("/run/secrets/") in SECRETS[name], (name, key)


def test_the_collector_logs_in_as_a_role_of_its_own_not_the_superuser() -> None:
    services = _services()
    db = services["timescaledb"]
    assert db["environment"]["POSTGRES_USER"] == "postgres"
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/pg_superuser_password"
    init = (
        "./configs/timescaledb/100_plantproof_app.sql:/docker-entrypoint-initdb.d/100_plantproof_app.sql:ro"
    )
    assert init in db["volumes"]
    assert db["environment"]["APP_PASSWORD_FILE"] == "/run/secrets/pg_app_password"
    for name in ("collector-migrate", "collector"):
        env = services[name]["environment"]
        assert env["PLANTPROOF_COLLECTOR_DSN"] == "postgresql://plantproof_app@timescaledb:5432/plantproof"
        assert env["PGPASSWORD_FILE"] == "/run/secrets/pg_app_password"
    api = services["api"]["environment"]
    assert api["PLANTPROOF_API_DSN"] == "postgresql://plantproof_app@timescaledb:5432/plantproof"
    assert api["PGPASSWORD_FILE"] == "/run/secrets/pg_app_password"


def test_the_api_is_health_checked_on_the_document_it_serves_without_a_token() -> None:
    from api.app import PREFIX

    service = _services()["api"]
    check = service["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    compile(check[3], "healthcheck", "exec")
    assert f"http://127.0.0.1:8080{PREFIX}/openapi.json" in check[3]
    assert service["ports"] == ["127.0.0.1:8080:8080"]
    assert service["depends_on"] == {"collector-migrate": {"condition": "service_completed_successfully"}}


def test_the_gateway_reaches_the_broker_over_tls() -> None:
    raw = yaml.safe_load((ROOT / "configs" / "gateways" / "compose.yaml").read_text())
    assert raw["mqtt"]["url"] == "mqtts://mosquitto:8883"
    ca = raw["mqtt"]["tls"]["ca"]
    assert f"./configs/mosquitto/certs/ca.crt:{ca}:ro" in _services()["gateway"]["volumes"]
    conf = (ROOT / "configs" / "mosquitto" / "mosquitto.conf").read_text()
    assert "listener 8883" in conf and "cafile /mosquitto/config/certs/ca.crt" in conf


@pytest.mark.parametrize(("service", "port"), [("collector", 9464), ("gateway", 9465), ("bridge", 9466)])
def test_collector_and_gateway_are_health_checked_on_their_metrics(service: str, port: int) -> None:
    check = _services()[service]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{port}/metrics" in check[3]
    compile(check[3], "healthcheck", "exec")  # a valid one-liner
    assert f"127.0.0.1:{port}:{port}" in _services()[service]["ports"]


def test_the_evidence_key_is_on_a_named_volume_of_the_collector_only() -> None:
    services = _services()
    key = Path(services["collector"]["environment"]["PLANTPROOF_COLLECTOR_EVIDENCE__KEY"])
    mounts = [v for v in services["collector"]["volumes"] if v.split(":")[1] == str(key.parent)]
    assert len(mounts) == 1 and mounts[0].split(":")[0] in COMPOSE["volumes"]
    volume = mounts[0].split(":")[0]
    for name, service in services.items():
        if name != "collector":
            assert all(not v.startswith(f"{volume}:") for v in service.get("volumes", [])), name
            assert "PLANTPROOF_COLLECTOR_EVIDENCE__KEY" not in service.get("environment", {}), name
    # the image creates the directory for its user, so a new volume starts out writable (and 0700)
    assert f"-m 0700 {key.parent}" in (ROOT / "Dockerfile").read_text()


def test_the_entrypoint_turns_password_files_into_variables(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "plantproof"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nenv | grep -E "^(PG|PLANTPROOF_)" | sort\necho "args: $*"\n')
    fake.chmod(0o755)
    secret = tmp_path / "secret"
    secret.write_text("pa ss'w\"d $x\n")
    env = {
        "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
        "PGPASSWORD_FILE": str(secret),
        "PLANTPROOF_COLLECTOR_MQTT__PASSWORD_FILE": str(secret),
        "PLANTPROOF_COLLECTOR_MQTT__CA_FILE": "/etc/ca.pem",  # a file setting, not a secret: kept
    }
    script = str(ROOT / "scripts" / "docker-entrypoint.sh")
    done = subprocess.run(["sh", script, "collector", "run", "--config", "a b"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [
        "PGPASSWORD=pa ss'w\"d $x",
        "PLANTPROOF_COLLECTOR_MQTT__CA_FILE=/etc/ca.pem",
        "PLANTPROOF_COLLECTOR_MQTT__PASSWORD=pa ss'w\"d $x",
        "args: collector run --config a b",
    ]
    env["PGPASSWORD_FILE"] = str(tmp_path / "missing")
    done = subprocess.run(["sh", script, "collector", "run"], env=env, capture_output=True)
    assert done.returncode != 0 and b"args:" not in done.stdout


@pytest.mark.parametrize(
    "service", ["collector-migrate", "collector", "gateway", "api", "sim-opcua", "sim-modbus", "bridge"]
)
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
            out.append(str(port).removesuffix("/tcp"))
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


def _compose_clients() -> list[list[str]]:
    """The compose clients on this machine: the docker CLI's plugin and the standalone docker-compose."""
    found = []
    for command in (["docker", "compose"], ["docker-compose"]):
        path = shutil.which(command[0])
        if path and subprocess.run([path, *command[1:], "version"], capture_output=True).returncode == 0:
            found.append([path, *command[1:]])
    return found


def test_compose_clients_accept_the_file_and_agree(tmp_path: Path) -> None:
    clients = _compose_clients()
    if not clients:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    # a copy with the files the operator creates (dummy secrets), so nothing lands in the checkout
    for name in ("docker-compose.yml", ".env"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    (tmp_path / "secrets").mkdir()
    for name in COMPOSE["secrets"]:
        (tmp_path / "secrets" / name).write_text("dummy\n")
    for client in clients:
        run = [*client, "-f", str(tmp_path / "docker-compose.yml"), "--profile", "demo", "config"]
        checked = subprocess.run([*run, "-q"], capture_output=True, text=True, cwd=tmp_path)
        assert checked.returncode == 0, f"{client}: {checked.stderr}"
        out = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, check=True)
        services = yaml.safe_load(out.stdout)["services"]
        assert set(services) == set(SECRETS), client
        _check_exposure(services)
        _check_secrets(services)


def test_the_brokers_health_check_has_an_account_of_its_own() -> None:
    # the broker binds client ids to usernames: a check logging in as the collector would take over
    # the collector's session every few seconds
    check = str(_services()["mosquitto"]["healthcheck"]["test"])
    assert "-u healthcheck" in check and "collector" not in check
    acl = (ROOT / "configs" / "mosquitto" / "acl").read_text()
    assert "user healthcheck\ntopic read $SYS/broker/uptime" in acl
    conf = (ROOT / "configs" / "mosquitto" / "mosquitto.conf").read_text()
    assert conf.count("use_username_as_clientid true") == conf.count("\nlistener ")


@pytest.mark.timeout(300)
def test_the_app_role_migrates_and_runs_the_collector_without_superuser_rights(
    postgres_factory: Callable[..., PostgresServer], tmp_path: Path
) -> None:
    import psycopg

    from collector.migrate import migrate
    from collector.policies import apply_policies

    server = postgres_factory()
    # as the image does it: the extension (where installed) by the superuser, then the init script
    admin = server.create_database("plantproof")
    secret = tmp_path / "pg_app_password"
    secret.write_text("it's secret\n")
    script = ROOT / "configs" / "timescaledb" / "100_plantproof_app.sql"
    done = subprocess.run(
        [str(server.bindir / "psql"), "-X", "-q", "-d", admin, "-f", str(script)],
        env={**os.environ, "APP_PASSWORD_FILE": str(secret)}, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    app = admin.replace("postgres@", "plantproof_app@")
    storage, applied = migrate(app)
    assert storage == ("timescaledb" if server.timescaledb else "postgresql") and applied
    apply_policies(app, compress_after_days=7, retention_days=30)  # what `collector run` does
    with psycopg.connect(app, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE ROLE intruder")
    with psycopg.connect(admin) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolpassword IS NOT NULL FROM pg_authid"
            " WHERE rolname = 'plantproof_app'"
        ).fetchone()
    assert row == (False, False, False, True)


def test_the_api_runs_alarm_rules_over_the_compose_services_metrics() -> None:
    from api.alarm_config import load_alarm_config

    env = COMPOSE["services"]["api"]["environment"]
    inside = Path(env["PLANTPROOF_API_ALARMS"])
    assert inside.parts[:4] == ("/", "etc", "plantproof", "configs")
    config = load_alarm_config(ROOT / "configs" / Path(*inside.parts[4:]))
    for target in (*config.sources.collectors, *config.sources.gateways):
        service, port = target.url.removeprefix("http://").split("/")[0].split(":")
        assert service in COMPOSE["services"], target.url
        # the port the service's own health check reads its metrics on
        assert f"127.0.0.1:{port}/metrics" in str(COMPOSE["services"][service]["healthcheck"]["test"])
    gateway = yaml.safe_load((ROOT / "configs" / "gateways" / "compose.yaml").read_text())
    assert [t.site for t in config.sources.gateways] == [gateway["site"]]


def test_the_image_copies_every_package_the_project_installs() -> None:
    import tomllib

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {p.rstrip("*") for p in found["include"]}
    copied = set(re.findall(r"^COPY (\w+) \1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert packages == copied, f"in pyproject.toml but not copied: {packages - copied}"
