"""One MQTT transport: paho is used only inside infra.mqtt, clients are made in one module, and MQTT
URLs are parsed in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from infra.mqtt import MqttEndpoint, parse_mqtt_url

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("infra", "wire", "devicemodel", "adapters", "gateway", "collector", "simulators", "assessment",
           "plantproof", "bench")  # fmt: skip


def _modules() -> list[Path]:
    return [p for pkg in PRODUCT if (ROOT / pkg).is_dir() for p in sorted((ROOT / pkg).rglob("*.py"))]


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_infra_mqtt_imports_paho() -> None:
    users = {
        str(p.relative_to(ROOT))
        for p in _modules()
        if any(n.split(".")[0] == "paho" for n in _imports(ast.parse(p.read_text())))
    }
    # bench measures a bare paho ceiling beside the product: the one allowed outsider
    assert {u for u in users if not u.startswith(("infra/mqtt/", "bench/"))} == set()
    constructing = {
        str(p.relative_to(ROOT))
        for p in _modules()
        if not str(p.relative_to(ROOT)).startswith("bench/")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Client"
        and isinstance(node.func.value, ast.Name) and node.func.value.id in ("paho", "mqtt")
    }  # fmt: skip
    assert constructing == {"infra/mqtt/clients.py"}


def test_mqtt_urls_are_parsed_in_one_module() -> None:
    parsing = set()
    for path in _modules():
        text = path.read_text()
        tree = ast.parse(text)
        uses_urllib = any(n == "urllib.parse" for n in _imports(tree))
        if uses_urllib and ("mqtt://" in text or "mqtts" in text):
            parsing.add(str(path.relative_to(ROOT)))
    assert parsing == {"infra/mqtt/endpoint.py"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://h", ("h", 1883, False)),
        ("tcp://h:1999", ("h", 1999, False)),
        ("mqtts://h", ("h", 8883, True)),
        ("ssl://h:9000", ("h", 9000, True)),
    ],
)
def test_the_url_grammar(url: str, expected: tuple[str, int, bool]) -> None:
    address = parse_mqtt_url(url)
    assert (address.host, address.port, address.tls) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h", "expected mqtt://"),
        ("mqtt://", "expected mqtt://"),
        ("mqtt://h:0", "from 1 to 65535"),
        ("mqtt://h:70000", "from 1 to 65535"),
        ("mqtt://h/topic", "no path"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mqtt_url(url)


def test_credentials_leave_the_url_and_tls_follows_the_scheme() -> None:
    endpoint = MqttEndpoint.model_validate({"url": "mqtts://gw1:p%40ss@broker:8884"})
    assert endpoint.url == "mqtts://broker:8884" and endpoint.username == "gw1"
    assert endpoint.password is not None and endpoint.password.get_secret_value() == "p@ss"
    assert endpoint.uses_tls and endpoint.port == 8884
    # a TLS section on a plain URL turns TLS on, with the TLS default port
    endpoint = MqttEndpoint.model_validate({"url": "mqtt://broker", "tls": {}})
    assert endpoint.uses_tls and endpoint.port == 8883
