"""Gateway config: samples validate; errors name file, line and field; environment overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli import app
from gateway.config import load_config
from gateway.errors import GatewayConfigError
from tests.gateway.helpers import ROOT, modbus_device, write_config

SAMPLES = sorted((ROOT / "configs" / "gateways").glob("*.yaml"))


def _opcua_registered() -> bool:
    from adapters import registry
    from adapters.errors import ConfigError

    try:
        registry.get("opcua")
    except (ConfigError, ImportError):
        return False
    return True


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_shipped_samples_validate(path: Path) -> None:
    if "opcua" in path.read_text() and not _opcua_registered():
        pytest.skip("the OPC UA adapter is not available")
    cfg = load_config(path)
    assert cfg.devices
    for device in cfg.devices:
        instance = device.instance()
        assert instance.scan_groups and all(g.points for g in instance.scan_groups)


def test_relative_paths_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "types").mkdir()
    (tmp_path / "types" / "mine.yaml").write_text((ROOT / "configs/devices/press.yaml").read_text())
    dev = modbus_device("p1", port=1502, type="types/mine.yaml")
    dev["scan_groups"] = [{"name": "fast", "interval": 0.5, "points": ["state", "strokes"]}]
    path = write_config(tmp_path, "mqtts://127.0.0.1:8883", [dev], spool={"path": "data/s.db"})
    cfg = load_config(path)
    assert cfg.spool.path == (tmp_path / "data" / "s.db").resolve()
    assert cfg.mqtt.uses_tls and cfg.mqtt.port == 8883
    instance = cfg.devices[0].instance()
    assert instance.device_type.type == "press"
    assert instance.scan_groups[0].points == ("state", "strokes")
    assert instance.endpoint.port == 1502  # type: ignore[attr-defined]


def test_endpoint_paths_resolve_against_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    opcua = {
        "id": "m1",
        "type": "cnc_machine.yaml",
        "protocol": "opcua",
        "endpoint": {"url": "opc.tcp://127.0.0.1:4840", "security": "sign", "cert_dir": "pki"},
    }
    pinned = {**opcua, "id": "m2", "endpoint": {**opcua["endpoint"], "server_certificate": "certs/s.der"}}
    default = {**opcua, "id": "m3", "endpoint": {"url": "opc.tcp://127.0.0.1:4840"}}
    (tmp_path / "gw").mkdir()
    cfg = load_config(write_config(tmp_path / "gw", "mqtt://127.0.0.1:1883", [opcua, pinned, default]))
    endpoints = [d.instance().endpoint for d in cfg.devices]
    gw = (tmp_path / "gw").resolve()
    assert endpoints[0].cert_dir == gw / "pki"  # type: ignore[attr-defined]
    assert endpoints[1].server_certificate == gw / "certs" / "s.der"  # type: ignore[attr-defined]
    assert endpoints[2].cert_dir == gw / "pki"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("mutate", "line", "field", "words"),
    [
        (
            lambda d: d["devices"][0]["scan_groups"][0].update(points=["nope"]),
            14,
            "devices.0",
            "unknown points",
        ),
        (lambda d: d["devices"][0]["endpoint"].update(unit_id=999), 9, "devices.0", "endpoint.unit_id"),
        (lambda d: d["devices"][0].update(type="missing.yaml"), 8, "devices.0.type", "not found"),
        (lambda d: d["devices"][0].update(protocol="carrier-pigeon"), 6, "devices.0", "unknown protocol"),
        (lambda d: d["mqtt"].update(url="http://x"), 4, "mqtt.url", "mqtt://"),
        (lambda d: d.update(gateway_id="bad id"), 2, "gateway_id", "pattern"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, mutate, line: int, field: str, words: str) -> None:  # type: ignore[no-untyped-def]
    import yaml

    path = write_config(tmp_path, "mqtt://127.0.0.1:1883", [modbus_device("d1", port=1502)])
    data = yaml.safe_load(path.read_text())
    mutate(data)
    # one key per line, so line numbers are predictable
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    with pytest.raises(GatewayConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    assert f"(field {field})" in message and words in message
    reported_line = int(message.split(":")[1])
    assert reported_line >= 1
    text_lines = path.read_text().splitlines()
    assert reported_line <= len(text_lines)


def test_error_line_points_at_the_bad_value(tmp_path: Path) -> None:
    path = write_config(tmp_path, "mqtt://127.0.0.1:1883", [modbus_device("d1", port=1502)])
    text = path.read_text().replace("max_age_s: 0.2", "max_age_s: -1")
    path.write_text(text)
    with pytest.raises(GatewayConfigError) as info:
        load_config(path)
    bad_line = next(i for i, s in enumerate(text.splitlines(), 1) if "max_age_s" in s)
    assert f"{path}:{bad_line}:" in str(info.value)
    assert "(field batch.max_age_s)" in str(info.value)


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, "mqtt://127.0.0.1:1883", [], mqtt={"username": "gw1"})
    monkeypatch.setenv("PLANTPROOF_GATEWAY_MQTT__PASSWORD", "s3cret")
    monkeypatch.setenv("PLANTPROOF_GATEWAY_MQTT__URL", "mqtt://10.1.2.3:1999")
    monkeypatch.setenv("PLANTPROOF_GATEWAY_METRICS__PORT", "0")
    cfg = load_config(path)
    assert cfg.mqtt.password is not None and cfg.mqtt.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(cfg)
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.username) == ("10.1.2.3", 1999, "gw1")
    assert cfg.metrics.port == 0
    monkeypatch.setenv("PLANTPROOF_GATEWAY_MQTT__URL", "ftp://x")
    with pytest.raises(
        GatewayConfigError, match=r"^environment variable PLANTPROOF_GATEWAY_MQTT__URL: expected"
    ):
        load_config(path)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        # validated like the file: a port out of range is refused, naming the variable
        ("PLANTPROOF_GATEWAY_METRICS__PORT", "70000",
         r"^environment variable PLANTPROOF_GATEWAY_METRICS__PORT: .*65535"),
        ("PLANTPROOF_GATEWAY_MQTT__URL", "mqtt://h:70000", r"PLANTPROOF_GATEWAY_MQTT__URL: the port must be"),
        # the flat names of earlier releases are refused, naming the nested one
        ("PLANTPROOF_GATEWAY_MQTT_PASSWORD", "s3cret",
         r"PLANTPROOF_GATEWAY_MQTT_PASSWORD is not a setting: use PLANTPROOF_GATEWAY_MQTT__PASSWORD$"),
        ("PLANTPROOF_GATEWAY_SPOOL_PATH", "/x", r"use PLANTPROOF_GATEWAY_SPOOL__PATH$"),
        ("PLANTPROOF_GATEWAY_MQTT__PASWORD", "s3cret", r"PLANTPROOF_GATEWAY_MQTT__PASWORD names no setting"),
    ],
)  # fmt: skip
def test_environment_errors_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    path = write_config(tmp_path, "mqtt://127.0.0.1:1883", [])
    monkeypatch.setenv(name, value)
    with pytest.raises(GatewayConfigError, match=expected) as info:
        load_config(path)
    assert "s3cret" not in str(info.value)


def test_check_prints_planned_modbus_requests(tmp_path: Path) -> None:
    path = write_config(tmp_path, "mqtt://127.0.0.1:1883", [modbus_device("cnc-7", port=1502, unit=7)])
    result = CliRunner().invoke(app, ["check", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "device cnc-7: cnc_machine via modbus" in result.output
    # cnc_machine: holding 0..10 coalesced into one read (gap 5..9 within max_gap 8), inputs 0..5 in another
    assert (
        "unit 7 holding 0..10 (11 registers): state, parts_total, parts_good, feed_override" in result.output
    )
    assert "unit 7 input 0..5 (6 registers)" in result.output


def test_check_reports_errors_with_exit_code(tmp_path: Path) -> None:
    path = write_config(tmp_path, "mqtt://127.0.0.1:1883", [modbus_device("d1", port=0)])
    result = CliRunner().invoke(app, ["check", "-c", str(path)])
    assert result.exit_code == 2
    assert "endpoint.port" in result.output


def test_check_refuses_two_points_on_one_opcua_node(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "configs/devices/cnc_machine.yaml").read_text())
    same = next(p for p in data["points"] if p["name"] == "spindle_temp")["opcua"]["node"]
    twice = {
        **data,
        "points": [*data["points"], {**data["points"][-1], "name": "again", "opcua": {"node": same}}],
    }
    twice["points"][-1].pop("modbus", None)
    (tmp_path / "twice.yaml").write_text(yaml.safe_dump(twice))
    dev = {"id": "m1", "type": "twice.yaml", "protocol": "opcua", "endpoint": {"url": "opc.tcp://h:4840"}}
    result = CliRunner().invoke(app, ["check", "-c", str(write_config(tmp_path, "mqtt://h:1883", [dev]))])
    assert result.exit_code == 2 and "'spindle_temp' and 'again' name the same OPC UA node" in result.output
    # Across devices: a node without {device} read by two instances on one server.
    data["points"] = [
        {**p, "opcua": {"node": p["opcua"]["node"].replace("{device}", "m")}} for p in data["points"]
    ]
    (tmp_path / "fixed.yaml").write_text(yaml.safe_dump(data))
    devs = [
        {"id": d, "type": "fixed.yaml", "protocol": "opcua", "endpoint": {"url": "opc.tcp://h:4840/"}}
        for d in ("m1", "m2")
    ]
    result = CliRunner().invoke(app, ["check", "-c", str(write_config(tmp_path, "mqtt://h:1883", devs))])
    assert result.exit_code == 2, result.output
    assert "m1.state and m2.state read the same node nsu=urn:plantproof:sim;s=m.state" in result.output
