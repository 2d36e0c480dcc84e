"""A third protocol plugs in from its own folder: discovered, its endpoint and address models used,
its address errors naming file, line and field, with no file of ours edited."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import adapters
from adapters import registry
from devicemodel import addresses
from devicemodel.errors import ConfigError
from devicemodel.loader import load_device_type
from gateway.config import load_config
from gateway.errors import GatewayConfigError

ROOT = Path(__file__).resolve().parents[2]

# The whole adapter: what a third party would ship, importing only the public registration API.
ADDRESS = """
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from devicemodel import addresses


class FakeBusAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    protocol: ClassVar[str] = "fakebus"

    slot: Annotated[int, Field(ge=0, le=99)]


def check_point(point, address):
    if point.writable and address.slot >= 90:
        raise ValueError("slots 90-99 are read-only")


addresses.register(FakeBusAddress, check_point=check_point)
"""
INIT = """
from pydantic import BaseModel, ConfigDict

from adapters.registry import register
from .address import FakeBusAddress


class FakeBusEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str
    port: int = 4000


def connect(device):
    raise NotImplementedError("a fake bus connects nowhere")


register("fakebus", FakeBusEndpoint, connect, FakeBusAddress)
"""
DEVICE_TYPE = """\
type: pump
industry: C34
sector: process
points:
  - name: flow
    kind: analog
    dtype: float32
    unit: m3/h
    fakebus: {slot: 3}
  - name: setpoint
    kind: setpoint
    dtype: float32
    writable: true
    fakebus: {slot: 12}
"""


def _write_adapter(folder: Path, package: str) -> Path:
    pkg = folder / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(INIT))
    (pkg / "address.py").write_text(textwrap.dedent(ADDRESS))
    return pkg


def _forget(module_prefix: str) -> None:
    registry.unregister("fakebus")
    for name in [m for m in sys.modules if m == module_prefix or m.startswith(module_prefix + ".")]:
        del sys.modules[name]


@pytest.fixture
def in_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fake adapter as a subpackage of `adapters` living in its own folder."""
    _write_adapter(tmp_path / "ext", "fakebus")
    monkeypatch.setattr(adapters, "__path__", [*adapters.__path__, str(tmp_path / "ext")])
    yield "adapters.fakebus"
    _forget("adapters.fakebus")


@pytest.fixture
def by_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fake adapter as an installed distribution announcing itself by entry point."""
    site = tmp_path / "site"
    _write_adapter(site, "fakebus_plugin")
    info = site / "fakebus_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakebus-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\nfakebus = fakebus_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    yield "fakebus_plugin"
    _forget("fakebus_plugin")


@pytest.fixture(params=["in_tree", "by_entry_point"])
def fake_adapter(request: pytest.FixtureRequest) -> str:
    """The plugin installed, then discovered as a process does when it starts."""
    package = str(request.getfixturevalue(request.param))
    registry.discover()
    return package


def test_without_the_plugin_the_protocol_is_unknown() -> None:
    # the checks below can fail: nothing of ours knows a "fakebus"
    assert "fakebus" not in registry.discover()
    with pytest.raises(ConfigError, match="unknown protocol 'fakebus'"):
        registry.get("fakebus")


def test_discover_finds_a_third_protocol(fake_adapter: str) -> None:
    assert registry.discover() == ["fakebus", "modbus", "opcua"]
    info = registry.get("fakebus")
    module = sys.modules[fake_adapter]
    assert (info.endpoint_model, info.factory) == (module.FakeBusEndpoint, module.connect)
    assert info.address_model is sys.modules[f"{fake_adapter}.address"].FakeBusAddress
    assert addresses.get("fakebus") is not None


def test_its_address_model_validates_a_device_type(fake_adapter: str, tmp_path: Path) -> None:
    path = tmp_path / "pump.yaml"
    path.write_text(DEVICE_TYPE)
    dt = load_device_type(path)
    model = registry.get("fakebus").address_model
    flow = dt.point("flow").address(model)
    assert flow is not None and flow.model_dump() == {"slot": 3}


@pytest.mark.parametrize(
    ("before", "after", "needle", "field", "message"),
    [
        ("{slot: 12}", "{slot: 120}", "slot: 120", "points.1.fakebus.slot", "less than or equal to 99"),
        ("{slot: 12}", "{slot: 12, bus: 2}", "bus: 2", "points.1.fakebus.bus", "Extra inputs"),
        ("{slot: 12}", "{slot: 95}", "slot: 95", "points.1.fakebus", "slots 90-99 are read-only"),
    ],
)
def test_its_address_errors_name_file_line_and_field(
    fake_adapter: str, tmp_path: Path, before: str, after: str, needle: str, field: str, message: str
) -> None:
    text = DEVICE_TYPE.replace(before, after)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_device_type(path)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)
    assert (err.value.file, err.value.line, err.value.field) == (str(path), line, field)


def test_a_gateway_config_uses_it(fake_adapter: str, tmp_path: Path) -> None:
    (tmp_path / "pump.yaml").write_text(DEVICE_TYPE)
    config = tmp_path / "gw.yaml"
    config.write_text(
        "site: s1\ngateway_id: gw-1\nmqtt: {url: 'mqtt://localhost:1883', client_id: gw-1}\n"
        "devices:\n  - {id: p1, type: pump.yaml, protocol: fakebus, endpoint: {host: bus.local}}\n"
    )
    cfg = load_config(config)
    device = cfg.devices[0]
    assert device.instance().endpoint.model_dump() == {"host": "bus.local", "port": 4000}
    (tmp_path / "pump.yaml").write_text(DEVICE_TYPE.replace("{slot: 3}", "{slot: -1}"))
    with pytest.raises(GatewayConfigError, match=r"pump\.yaml:9: .*points\.0\.fakebus\.slot"):
        load_config(config)
