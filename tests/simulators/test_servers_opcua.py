"""The OPC UA simulator server, read by a real asyncua client (security None and Basic256Sha256)."""

import asyncio
import contextlib
import datetime as dt
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from adapters.opcua.address import opcua_of
from devicemodel.devicetype import DeviceType, PointSpec
from devicemodel.loader import load_device_type
from simulators.servers import EngValue, SimServerError, StaticDevice
from simulators.servers import certs as certs_mod
from simulators.servers.opcua import VARIANT_TYPES, SimOpcUaServer, datetime_to_ns, node_id
from tests.simulators import DEVICE_YAMLS, EXOTIC, SyntheticSource, opcua_nodes, source_for

pytestmark = pytest.mark.asyncio(loop_scope="module")
T0 = 1_760_000_123_456_000_000
CLIENT_URI = "urn:plantproof:test:client"
TYPES = [opcua_nodes(load_device_type(p)) for p in DEVICE_YAMLS] + [opcua_nodes(EXOTIC)]


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    der, key = certs_mod.generate(CLIENT_URI, name)
    cert_path, key_path = directory / f"{name}.der", directory / f"{name}.pem"
    cert_path.write_bytes(der)
    key_path.write_bytes(key)
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("pki")
    return {"trusted": make_cert(directory, "trusted"), "stranger": make_cert(directory, "stranger")}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(
    tmp_path_factory: pytest.TempPathFactory, pki: dict[str, tuple[Path, Path]]
) -> AsyncIterator[SimOpcUaServer]:
    source = source_for(*TYPES, count=2)
    sim = SimOpcUaServer(
        source,
        speed=60,
        security="all",
        cert_dir=tmp_path_factory.mktemp("server-pki"),
        trusted_client_certs=[pki["trusted"][0]],
        t0_ns=T0,
        refresh_s=0.05,
    )
    await sim.start()
    yield sim
    await sim.close()


def engineering(point: PointSpec, raw: object) -> EngValue:
    if point.kind == "state":
        assert isinstance(raw, int)
        return (point.states or {})[raw]
    if isinstance(raw, bool | str):
        return raw
    assert isinstance(raw, int | float)
    return raw * point.scale + point.offset


async def ns_index(client: Client, uri: str) -> int:
    array = await client.get_namespace_array()
    return array.index(uri)


async def test_every_variable_reads_with_its_source_timestamp(server: SimOpcUaServer) -> None:
    async with Client(server.endpoint, timeout=10) as client:
        idx = await ns_index(client, server.namespace_uri)
        checked = 0
        for device in server.devices:
            for point in device.device_type.points:
                assert opcua_of(point) is not None
                kind, ident = opcua_of(point).identifier(device.id)
                assert kind == "s" and ident.startswith(device.id)  # `{device}` replaced, nothing else
                dv = await client.get_node(node_id(ident, idx)).read_data_value()
                assert dv.StatusCode is not None and dv.StatusCode.is_good()
                assert dv.Value is not None and dv.Value.VariantType == VARIANT_TYPES[point.dtype], point.name
                assert dv.SourceTimestamp is not None and dv.SourceTimestamp.tzinfo is not None
                t_ns = datetime_to_ns(dv.SourceTimestamp)
                assert T0 <= t_ns <= server.model_ns
                want = server.expected(device.id, t_ns)[point.name]
                assert engineering(point, dv.Value.Value) == want, (device.id, point.name)
                checked += 1
        assert checked == sum(len(t.points) for t in TYPES) * 2


async def test_one_object_per_machine(server: SimOpcUaServer) -> None:
    async with Client(server.endpoint, timeout=10) as client:
        idx = await ns_index(client, server.namespace_uri)
        children = await client.nodes.objects.get_children()
        names = {str((await c.read_browse_name()).Name): c for c in children}
        for device in server.devices:
            obj = names[device.id]
            variables = {(await v.read_browse_name()).Name for v in await obj.get_children()}
            assert variables == {p.name for p in device.device_type.points}
        assert idx >= 2


async def test_values_and_timestamps_advance(server: SimOpcUaServer) -> None:
    device = server.devices[0]
    counter = next(p for p in device.device_type.points if p.kind == "counter")
    assert opcua_of(counter) is not None
    async with Client(server.endpoint, timeout=10) as client:
        node = client.get_node(
            node_id(opcua_of(counter).identifier(device.id)[1], await ns_index(client, server.namespace_uri))
        )
        first = await node.read_data_value()
        for _ in range(1000):
            second = await node.read_data_value()
            assert second.SourceTimestamp and first.SourceTimestamp
            if datetime_to_ns(second.SourceTimestamp) - datetime_to_ns(first.SourceTimestamp) >= 2 * 10**9:
                break
            await server.wait_refresh()
        else:
            raise AssertionError("model time does not advance")
        assert second.Value and first.Value and second.Value.Value != first.Value.Value
        t_ns = datetime_to_ns(second.SourceTimestamp)
        assert engineering(counter, second.Value.Value) == server.expected(device.id, t_ns)[counter.name]


class Changes:
    """Subscription handler keeping the data values it is notified of (bounded: the test reads them)."""

    def __init__(self) -> None:
        self.values: asyncio.Queue[ua.DataValue] = asyncio.Queue(maxsize=1000)

    def datachange_notification(self, node: object, val: object, data: Any) -> None:
        self.values.put_nowait(data.monitored_item.Value)

    async def next(self) -> ua.DataValue:
        return await asyncio.wait_for(self.values.get(), 30)


async def test_subscription_delivers_changes_and_status(server: SimOpcUaServer) -> None:
    device = server.devices[0]
    counter = next(p for p in device.device_type.points if p.kind == "counter")
    assert opcua_of(counter) is not None
    changes = Changes()
    async with Client(server.endpoint, timeout=10) as client:
        idx = await ns_index(client, server.namespace_uri)
        subscription = await client.create_subscription(50, changes)
        await subscription.subscribe_data_change(
            client.get_node(node_id(opcua_of(counter).identifier(device.id)[1], idx))
        )
        try:
            stamps = []
            for _ in range(4):
                dv = await changes.next()
                assert dv.SourceTimestamp is not None and dv.Value is not None
                t_ns = datetime_to_ns(dv.SourceTimestamp)
                assert engineering(counter, dv.Value.Value) == server.expected(device.id, t_ns)[counter.name]
                stamps.append(t_ns)
            assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
            server.set_status(device.id, "bad")
            for _ in range(100):
                dv = await changes.next()
                if dv.StatusCode is not None and dv.StatusCode.is_bad():
                    break
            else:
                raise AssertionError("no bad status notified")
            server.set_status(device.id, "uncertain")
            for _ in range(100):
                dv = await changes.next()
                if dv.StatusCode is not None and dv.StatusCode.is_uncertain():
                    break
            else:
                raise AssertionError("no uncertain status notified")
        finally:
            server.set_status(device.id, "good")
            await subscription.delete()
    with pytest.raises(SimServerError, match="status"):
        server.set_status(device.id, "broken")


async def connect_secure(
    server: SimOpcUaServer, cert: tuple[Path, Path], mode: ua.MessageSecurityMode
) -> Client:
    client = Client(server.endpoint, timeout=10)
    client.application_uri = CLIENT_URI
    await client.set_security(SecurityPolicyBasic256Sha256, str(cert[0]), str(cert[1]), mode=mode)
    await client.connect()
    return client


@pytest.mark.parametrize("mode", [ua.MessageSecurityMode.Sign, ua.MessageSecurityMode.SignAndEncrypt])
async def test_trusted_client_certificate_is_accepted(
    server: SimOpcUaServer, pki: dict[str, tuple[Path, Path]], mode: ua.MessageSecurityMode
) -> None:
    client = await connect_secure(server, pki["trusted"], mode)
    try:
        device = server.devices[0]
        point = device.device_type.points[0]
        assert opcua_of(point) is not None
        idx = await ns_index(client, server.namespace_uri)
        dv = await client.get_node(node_id(opcua_of(point).identifier(device.id)[1], idx)).read_data_value()
        assert dv.SourceTimestamp is not None and dv.Value is not None
        assert client.security_policy.Mode == mode
    finally:
        await client.disconnect()


@pytest.mark.parametrize("mode", [ua.MessageSecurityMode.Sign, ua.MessageSecurityMode.SignAndEncrypt])
async def test_untrusted_client_certificate_is_refused(
    server: SimOpcUaServer, pki: dict[str, tuple[Path, Path]], mode: ua.MessageSecurityMode
) -> None:
    before = server.rejected_certificates
    with pytest.raises(ua.UaStatusCodeError, match="Untrusted"):
        client = await connect_secure(server, pki["stranger"], mode)
        await client.disconnect()
    assert server.rejected_certificates == before + 1


async def test_server_certificate_is_persisted_and_names_the_application(server: SimOpcUaServer) -> None:
    path = server.certificate_path()
    assert path is not None
    assert certs_mod.application_uri_of(path.read_bytes()) == server.application_uri
    again = certs_mod.ensure(path.parent, server.application_uri)
    assert again.cert.read_bytes() == path.read_bytes()  # reused, not regenerated
    assert oct(again.key.stat().st_mode & 0o777) == "0o600"


async def test_setpoint_writes_hold(server: SimOpcUaServer) -> None:
    device = server.devices[-1]
    setpoint = next(p for p in device.device_type.points if p.writable and p.dtype == "float32")
    assert opcua_of(setpoint) is not None
    async with Client(server.endpoint, timeout=10) as client:
        idx = await ns_index(client, server.namespace_uri)
        node = client.get_node(node_id(opcua_of(setpoint).identifier(device.id)[1], idx))
        await node.write_value(ua.DataValue(ua.Variant(12.5, ua.VariantType.Float)))
        await server.wait_refresh(3)
        assert await node.read_value() == 12.5
    assert server.expected(device.id)[setpoint.name] == 12.5


async def login(
    sim: SimOpcUaServer, cert: tuple[Path, Path], user: str | None, password: str | None
) -> Client:
    """A SignAndEncrypt session with a client certificate and, if given, a user name."""
    client = Client(sim.endpoint, timeout=10)
    client.application_uri = CLIENT_URI
    if user is not None:
        client.set_user(user)
        client.set_password(password or "")
    await client.set_security(
        SecurityPolicyBasic256Sha256, str(cert[0]), str(cert[1]), mode=ua.MessageSecurityMode.SignAndEncrypt
    )
    await client.connect()
    return client


async def test_encrypted_only_with_users_and_restart_on_the_same_port(
    tmp_path: Path, pki: dict[str, tuple[Path, Path]]
) -> None:
    source = source_for(opcua_nodes(EXOTIC))
    trusted_dir = tmp_path / "trusted"  # trust by dropping the client certificate into cert_dir/trusted/
    trusted_dir.mkdir()
    (trusted_dir / "client.der").write_bytes(pki["trusted"][0].read_bytes())
    sim = SimOpcUaServer(
        source, speed=0, t0_ns=T0, security="sign_encrypt", users={"operator": "s3cret"}, cert_dir=tmp_path
    )
    await sim.start()
    try:
        plain = Client(sim.endpoint, timeout=5)  # no None endpoint to fall back to
        with pytest.raises(ua.UaError):
            await plain.connect()
        with contextlib.suppress(Exception):
            await plain.disconnect()
        for user, password in ((None, None), ("operator", "nope"), ("intruder", "s3cret")):
            with pytest.raises(ua.UaStatusCodeError):
                client = await login(sim, pki["trusted"], user, password)
                await client.disconnect()

        device = sim.devices[0]
        point = device.device_type.point("speed_sp")
        assert opcua_of(point) is not None
        port = sim.port
        client = await login(sim, pki["trusted"], "operator", "s3cret")
        try:
            idx = await ns_index(client, sim.namespace_uri)
            node = client.get_node(node_id(opcua_of(point).identifier(device.id)[1], idx))
            await node.write_value(ua.DataValue(ua.Variant(7.25, ua.VariantType.Float)))
        finally:
            await client.disconnect()
        await sim.stop()
        await sim.start()
        assert sim.port == port
        client = await login(sim, pki["trusted"], "operator", "s3cret")
        try:
            node = client.get_node(node_id(opcua_of(point).identifier(device.id)[1], idx))
            dv = await node.read_data_value()
            assert dv.Value is not None and dv.Value.Value == 7.25  # held across the restart
            assert dv.SourceTimestamp == dt.datetime(2025, 10, 9, 8, 55, 23, 456000, tzinfo=dt.UTC)
        finally:
            await client.disconnect()
    finally:
        await sim.close()


async def test_bad_configurations_are_refused() -> None:
    with pytest.raises(SimServerError, match="security"):
        SimOpcUaServer(source_for(opcua_nodes(EXOTIC)), security="tls")
    point = {"name": "a", "kind": "analog", "dtype": "float32", "opcua": {"node": "nsu=urn:x;s=fixed"}}
    with pytest.raises(ValueError, match="name the same OPC UA node"):  # within one type: refused there
        DeviceType.model_validate(
            {
                "type": "generic",
                "industry": "C34",
                "sector": "process",
                "points": [point, {**point, "name": "b"}],
            }
        )
    # Across devices: a node without {device} served for two instances.
    fixed = DeviceType.model_validate(
        {"type": "generic", "industry": "C34", "sector": "process", "points": [point]}
    )
    with pytest.raises(SimServerError, match="node s=fixed"):
        SimOpcUaServer(SyntheticSource([StaticDevice("d1", fixed, 1), StaticDevice("d2", fixed, 2)]))


async def test_cli_serves_a_plant_scenario(tmp_path: Path) -> None:
    """`plantproof sim opcua` on a real scenario: every variable read, compared with the model."""
    from simulators.serve_cli import build_source
    from simulators.servers import expected_values

    start = "2026-03-04T13:15:00"
    source, t0 = build_source("test-small", None, start, 24)
    exe = Path(sys.executable).with_name("plantproof")
    proc = await asyncio.create_subprocess_exec(
        str(exe), "sim", "opcua", "--plant", "test-small", "--port", "0", "--speed", "0", "--start", start,
        "--hours", "24", "--duration", "120", "--cert-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        endpoint = None
        while endpoint is None:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, "the server exited early"
            match = re.match(r"opcua (opc\.tcp://\S+) ", line)
            endpoint = match.group(1) if match else None
        async with Client(endpoint, timeout=10) as client:
            idx = await ns_index(client, "urn:plantproof:sim")
            for device in source.devices:
                want = expected_values(device.device_type, source.values_at(device.id, t0), {})
                for point in device.device_type.points:
                    assert opcua_of(point) is not None
                    node = client.get_node(node_id(opcua_of(point).identifier(device.id)[1], idx))
                    dv = await node.read_data_value()
                    assert dv.SourceTimestamp is not None and datetime_to_ns(dv.SourceTimestamp) == t0
                    assert dv.Value is not None
                    assert engineering(point, dv.Value.Value) == want[point.name], (device.id, point.name)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
