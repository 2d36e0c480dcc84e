"""The OPC UA adapter and tools against node-opcua, a server this project did not write: no leaked
sessions under a wrong namespace, a browsed skeleton that reads, a revised sampling interval
named, and a strict SignAndEncrypt server whose refusal is one clear line until it trusts us."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from asyncua import Client, ua
from typer.testing import CliRunner

from adapters import registry
from adapters.base import DeviceInstance, ScanGroup
from devicemodel.loader import load_device_type
from gateway.cli import app
from tests.adapters.devices import Recorder, eventually
from tests.independent.servers import NodeOpcUaServer

BROWSED = {
    "Temperature": 21.5,
    "Speed": 1450.25,
    "Count": 4294967000,
    "Running": True,
    "Label": "LOT-7",
    "Setpoint": -12,
}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeOpcUaServer]:
    server = NodeOpcUaServer(tmp_path_factory.mktemp("node-pki"), "none", max_sessions=4)
    server.start()
    yield server
    server.stop()


async def sessions(url: str) -> int:
    """CurrentSessionCount from the server's diagnostics, less the session asking."""
    async with Client(url, timeout=5) as client:
        node = client.get_node(
            ua.ObjectIds.Server_ServerDiagnostics_ServerDiagnosticsSummary_CurrentSessionCount
        )
        return int(await node.read_value()) - 1


def connection(dt_path: Path, url: str, interval: float = 0.2, **endpoint: Any) -> Any:
    dt = load_device_type(dt_path)
    info = registry.get("opcua")
    ep = info.endpoint_model.model_validate({"url": url, "timeout": 5.0, **endpoint})
    return info.factory(
        DeviceInstance("machine-1", dt, ep, (ScanGroup("g", interval, tuple(p.name for p in dt.points)),))
    )


async def run_for(conn: Any, until: Any, what: str, within: float = 60) -> Recorder:
    rec = Recorder()
    task = asyncio.create_task(conn.run(rec))
    try:
        await eventually(lambda: until(rec), within=within, what=what)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await conn.close()
    return rec


async def browse_skeleton(url: str, path: Path, *extra: str) -> str:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["browse", url, "--match", "Machine1.*", "--emit-device-type", str(path), *extra],
    )
    assert result.exit_code == 0, result.output
    return str(result.output)


async def test_browsed_skeleton_reads_the_browsed_values(
    plain: NodeOpcUaServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters")
    out = await browse_skeleton(plain.url, tmp_path / "m1.yaml")
    assert "Machine1.Temperature  nsu=urn:independent:plant;s=Machine1.Temperature  Double  r  21.5" in out
    assert "Machine2" not in out.split("variables")[0]
    readings = {
        r.point: r for r in await connection(tmp_path / "m1.yaml", plain.url).read_once(list(BROWSED))
    }
    assert {k: r.value for k, r in readings.items()} == BROWSED
    assert all(r.quality == 0 for r in readings.values())
    # Subscribed at 200 ms, Temperature cannot be sampled faster than 1000 ms: said once, with the hint.
    rec = await run_for(
        connection(tmp_path / "m1.yaml", plain.url),
        lambda r: set(BROWSED) <= set(r.latest()), "all points by subscription",
    )  # fmt: skip
    assert {k: r.value for k, r in rec.latest().items()} == BROWSED
    revised = [r.getMessage() for r in caplog.records if "revised" in r.getMessage()]
    assert len(revised) == 1 and "1000" in revised[0] and "mode: poll" in revised[0], revised


async def test_wrong_namespace_leaks_no_session(plain: NodeOpcUaServer, tmp_path: Path) -> None:
    """With room for 4 sessions, one leaked session per retry would lock everyone out within 4."""
    await browse_skeleton(plain.url, tmp_path / "m1.yaml")
    data = yaml.safe_load((tmp_path / "m1.yaml").read_text())
    for point in data["points"]:
        point["opcua"]["node"] = point["opcua"]["node"].replace("urn:independent:plant", "urn:nowhere")
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(data))
    baseline = await sessions(plain.url)
    conn = connection(tmp_path / "wrong.yaml", plain.url, backoff_initial=0.05, backoff_max=0.1)
    seen: list[int] = []
    done = asyncio.Event()

    async def probe_while_retrying() -> None:
        while not done.is_set():  # stopped between probes: a probe cancelled mid-connect would leak
            seen.append(await sessions(plain.url))  # another client still connects
            await asyncio.sleep(0.2)

    prober = asyncio.create_task(probe_while_retrying())
    try:
        await run_for(conn, lambda _r: conn.status.read_errors >= 12, "12 retry cycles")
    finally:
        done.set()
        await prober
    assert conn.status.reason == "namespace"
    assert seen and max(seen) <= baseline + 1, seen
    for _ in range(50):  # the server closes a session a moment after the client asked
        if (now := await sessions(plain.url)) == baseline:
            break
        await asyncio.sleep(0.2)
    assert now == baseline


async def test_strict_server_refusal_then_trust_without_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters")
    server = NodeOpcUaServer(tmp_path / "server-pki", "strict")
    server.start()
    try:
        points = [{"name": "Temperature", "kind": "analog", "dtype": "float64",
                   "opcua": {"node": "nsu=urn:independent:plant;s=Machine1.Temperature"}}]  # fmt: skip
        (tmp_path / "t.yaml").write_text(
            yaml.safe_dump({"type": "generic", "industry": "C34", "sector": "discrete", "points": points})
        )
        pki = tmp_path / "gw-pki"
        conn = connection(
            tmp_path / "t.yaml", server.url, security="sign_encrypt", cert_dir=str(pki), server_trust="tofu",
            backoff_initial=0.2, backoff_max=0.5,
        )  # fmt: skip
        rec = Recorder()
        task = asyncio.create_task(conn.run(rec))
        try:
            await eventually(lambda: conn.status.read_errors >= 4, within=60, what="refused attempts")
            assert conn.status.reason == "certificate", conn.status.last_error
            lines = [
                r.getMessage() for r in caplog.records
                if r.name.startswith("adapters") and r.levelno >= logging.WARNING and "refused" in r.message
            ]  # fmt: skip
            assert len(lines) == 1, lines
            assert str(pki / "gateway.der") in lines[0] and "thumbprint" in lines[0]
            assert "BadSecurityChecksFailed" in lines[0] or "BadCertificateUntrusted" in lines[0]
            # The operator trusts the refused certificate on the server: no gateway restart.
            await eventually(
                lambda: server.rejected.is_dir() and any(server.rejected.iterdir()), what="rejected/"
            )
            server.trusted.mkdir(parents=True, exist_ok=True)
            for refused in list(server.rejected.iterdir()):
                shutil.move(str(refused), server.trusted / refused.name)
            await rec.wait_for(
                lambda r: "Temperature" in r.latest() and r.latest()["Temperature"].quality == 0, 60
            )
            assert rec.latest()["Temperature"].value == 21.5
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await conn.close()
    finally:
        server.stop()
