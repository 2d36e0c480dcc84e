"""OPC UA certificates as a plant engineer meets them, against real asyncua servers: a strict server
that refuses unknown client certificates, trust on first use and strict trust of server
certificates, pinned certificates; each problem is one clear log line, and trusting fixes it without
a restart."""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path

import pytest

from adapters.opcua.certs import generate, thumbprint
from tests.adapters.devices import CNC, OpcUaTestServer, Recorder, device_type, eventually
from tests.adapters.test_opcua import connect, matches, running

CNC_DT = device_type(CNC)
SECURE = ["Basic256Sha256_SignAndEncrypt"]


def server_cert(folder: Path, name: str = "server") -> tuple[Path, Path]:
    der, pem = generate("urn:plantproof:test:server", f"test {name}", ["localhost"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.der").write_bytes(der)
    (folder / f"{name}.pem").write_bytes(pem)
    return folder / f"{name}.der", folder / f"{name}.pem"


def adapter_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("adapters") and r.levelno >= logging.WARNING and text in r.getMessage()
    ]


async def test_strict_server_refusal_is_one_clear_line_and_trusting_fixes_it_live(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters")
    server_pki = tmp_path / "server-pki"
    srv = OpcUaTestServer([("cnc-1", CNC_DT)], security=SECURE, cert=server_cert(tmp_path), pki=server_pki)
    await srv.start()
    gw_pki = tmp_path / "gw-pki"
    try:
        rec = Recorder()
        conn = connect(
            "cnc-1", srv.url, CNC_DT, security="sign_encrypt", cert_dir=str(gw_pki),
            server_trust="tofu", backoff_initial=0.05, backoff_max=0.2,
        )  # fmt: skip
        async with running(conn, rec):
            await eventually(lambda: srv.refused >= 4, within=60, what="4 refused attempts")
            assert conn.status.reason == "certificate" and not rec.batches
            lines = adapter_lines(caplog, "BadCertificateUntrusted")
            assert len(lines) == 1, lines
            own = (gw_pki / "gateway.der").read_bytes()
            assert str(gw_pki / "gateway.der") in lines[0]
            assert thumbprint(own) in lines[0]
            assert "rejected" in lines[0]
            # The operator trusts the refused certificate on the server; the gateway is not restarted.
            (server_pki / "trusted").mkdir()
            for refused in (server_pki / "rejected").iterdir():
                shutil.copy(refused, server_pki / "trusted" / refused.name)
            truth = await srv.fill_random("cnc-1", CNC_DT, random.Random(1))
            await rec.wait_for(lambda r: matches(r, truth), within=30)
            assert conn.status.connected and conn.status.reason is None
        assert adapter_lines(caplog, "cnc-1 back after") or adapter_lines(caplog, "connected after")
        # tofu saved the server's certificate into the gateway's trust folder
        assert [p.read_bytes() for p in (gw_pki / "trusted").iterdir()] == [srv.cert[0].read_bytes()]  # type: ignore[index]
    finally:
        await srv.stop()


async def test_trust_on_first_use_refuses_a_changed_server_certificate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters")
    gw_pki = tmp_path / "gw-pki"
    first = OpcUaTestServer([("cnc-1", CNC_DT)], security=SECURE, cert=server_cert(tmp_path / "a"))
    await first.start()
    try:
        conn = connect(
            "cnc-1", first.url, CNC_DT, security="sign_encrypt", cert_dir=str(gw_pki), server_trust="tofu"
        )
        assert (await conn.read_once(["state"]))[0].quality == 0
        await conn.close()
        assert len(adapter_lines(caplog, "trusted on first use")) == 1
    finally:
        await first.stop()
    # Same address, same application URI, another key: an impostor, or a re-issued certificate.
    impostor = OpcUaTestServer(
        [("cnc-1", CNC_DT)], port=first.port, security=SECURE, cert=server_cert(tmp_path / "b")
    )
    await impostor.start()
    try:
        conn = connect(
            "cnc-1", impostor.url, CNC_DT, security="sign_encrypt", cert_dir=str(gw_pki), server_trust="tofu"
        )
        with pytest.raises(Exception, match="another certificate") as err:
            await conn.read_once(["state"])
        assert getattr(err.value, "reason", None) == "server_certificate"
        assert [p.read_bytes() for p in (gw_pki / "rejected").iterdir()] == [impostor.cert[0].read_bytes()]  # type: ignore[index]
        await conn.close()
    finally:
        await impostor.stop()


async def test_strict_trust_and_pinning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="adapters")
    gw_pki = tmp_path / "gw-pki"
    srv = OpcUaTestServer([("cnc-1", CNC_DT)], security=SECURE, cert=server_cert(tmp_path))
    await srv.start()
    try:
        strict = connect(
            "cnc-1", srv.url, CNC_DT, security="sign_encrypt", cert_dir=str(gw_pki), server_trust="strict"
        )
        with pytest.raises(Exception, match="is not trusted") as err:
            await strict.read_once(["state"])
        assert str(gw_pki / "trusted") in str(err.value)
        rejected = list((gw_pki / "rejected").iterdir())
        assert len(rejected) == 1
        (gw_pki / "trusted").mkdir()
        rejected[0].rename(gw_pki / "trusted" / rejected[0].name)  # what the message says to do
        assert (await strict.read_once(["state"]))[0].quality == 0
        await strict.close()
        # A pinned certificate that is not the server's: named, with both thumbprints.
        other, _ = server_cert(tmp_path / "other")
        pinned = connect(
            "cnc-1",
            srv.url,
            CNC_DT,
            security="sign_encrypt",
            cert_dir=str(gw_pki),
            server_certificate=str(other),
        )
        with pytest.raises(Exception, match="is not the pinned one") as err:
            await pinned.read_once(["state"])
        assert thumbprint(other.read_bytes()) in str(err.value)
        await pinned.close()
        # Neither pinned nor a trust mode: accepted, with a warning naming the certificate.
        caplog.clear()
        loose = connect("cnc-1", srv.url, CNC_DT, security="sign_encrypt", cert_dir=str(tmp_path / "fresh"))
        assert (await loose.read_once(["state"]))[0].quality == 0
        await loose.close()
        assert len(adapter_lines(caplog, "without checking it")) == 1
    finally:
        await srv.stop()


async def test_a_mode_the_server_does_not_offer_is_named(tmp_path: Path) -> None:
    srv = OpcUaTestServer([("cnc-1", CNC_DT)], security=["Basic256Sha256_Sign"], cert=server_cert(tmp_path))
    await srv.start()
    try:
        conn = connect("cnc-1", srv.url, CNC_DT, security="sign_encrypt", cert_dir=str(tmp_path / "pki"))
        with pytest.raises(Exception, match=r"offers no Basic256Sha256 SignAndEncrypt endpoint.*Sign"):
            await conn.read_once(["state"])
        await conn.close()
    finally:
        await srv.stop()
