"""OPC UA security: persisted application certificate, Basic256Sha256 Sign / SignAndEncrypt,
user name and certificate login, against a real asyncua server."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography import x509

from adapters.opcua.certs import application_uri_of, ensure_certificate, generate
from tests.adapters.devices import CNC, OpcUaTestServer, Recorder, device_type, eventually
from tests.adapters.test_opcua import connect, matches, running

CNC_DT = device_type(CNC)


class Users(UserManager):  # type: ignore[misc]
    def __init__(self, password: str, cert_der: bytes | None = None) -> None:
        self.password, self.cert_der = password, cert_der
        self.seen: list[str] = []

    def get_user(
        self, iserver: Any, username: Any = None, password: Any = None, certificate: Any = None
    ) -> Any:
        if username is not None:
            self.seen.append(f"user:{username}")
            return User(role=UserRole.User) if (username, password) == ("op", self.password) else None
        if certificate is not None:
            der = certificate if isinstance(certificate, bytes) else certificate.public_bytes_der()
            self.seen.append("cert")
            return User(role=UserRole.User) if der == self.cert_der else None
        self.seen.append("anonymous")
        return None  # anonymous refused


@pytest.fixture()
def server_cert(tmp_path: Path) -> tuple[Path, Path]:
    der, pem = generate("urn:plantproof:test:server", "test server", ["localhost"])
    (tmp_path / "server.der").write_bytes(der)
    (tmp_path / "server.pem").write_bytes(pem)
    return tmp_path / "server.der", tmp_path / "server.pem"


@contextlib.asynccontextmanager
async def secure_server(
    cert: tuple[Path, Path], users: Users | None = None
) -> AsyncIterator[OpcUaTestServer]:
    srv = OpcUaTestServer(
        [("cnc-1", CNC_DT)],
        security=["Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"],
        cert=cert,
        user_manager=users,
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def test_certificate_is_generated_once_and_matches_the_application_uri(tmp_path: Path) -> None:
    paths = ensure_certificate(tmp_path / "pki", "urn:plantproof:gw:a")
    der = paths.cert.read_bytes()
    assert application_uri_of(der) == "urn:plantproof:gw:a"
    assert paths.key.stat().st_mode & 0o777 == 0o600
    cert = x509.load_der_x509_certificate(der)
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
    assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == "sha256"
    again = ensure_certificate(tmp_path / "pki", "urn:plantproof:gw:a")
    assert again.cert.read_bytes() == der  # persisted and reused
    other = ensure_certificate(tmp_path / "pki", "urn:plantproof:gw:b")
    assert application_uri_of(other.cert.read_bytes()) == "urn:plantproof:gw:b"  # replaced on URI change


@pytest.mark.parametrize("mode", ["sign", "sign_encrypt"])
async def test_secure_channel_with_persisted_certificate(
    mode: str, server_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    async with secure_server(server_cert) as srv:
        rec = Recorder()
        pki = tmp_path / "client-pki"
        conn = connect(
            "cnc-1", srv.url, CNC_DT, security=mode, cert_dir=str(pki), application_uri="urn:pp:gw1"
        )
        async with running(conn, rec):
            truth = await srv.fill_random("cnc-1", CNC_DT, random.Random(8))
            await rec.wait_for(lambda r: matches(r, truth))
        assert application_uri_of((pki / "gateway.der").read_bytes()) == "urn:pp:gw1"
        # A second connection reuses the persisted certificate.
        before = (pki / "gateway.der").read_bytes()
        conn2 = connect(
            "cnc-1", srv.url, CNC_DT, security=mode, cert_dir=str(pki), application_uri="urn:pp:gw1"
        )
        assert (await conn2.read_once(["state"]))[0].quality == 0
        await conn2.close()
        assert (pki / "gateway.der").read_bytes() == before


async def test_username_login(server_cert: tuple[Path, Path], tmp_path: Path) -> None:
    users = Users("s3cret")
    async with secure_server(server_cert, users) as srv:
        good = connect(
            "cnc-1",
            srv.url,
            CNC_DT,
            security="sign_encrypt",
            cert_dir=str(tmp_path),
            auth="username",
            username="op",
            password="s3cret",
        )
        assert (await good.read_once(["state"]))[0].quality == 0
        await good.close()
        bad = connect(
            "cnc-1",
            srv.url,
            CNC_DT,
            security="sign_encrypt",
            cert_dir=str(tmp_path),
            auth="username",
            username="op",
            password="wrong",
        )
        rec = Recorder()
        async with running(bad, rec):
            await eventually(lambda: bad.status.read_errors >= 1, what="a refused login")
            await asyncio.sleep(0)
        assert not rec.batches and bad.status.stale
        assert "user:op" in users.seen


async def test_certificate_login(server_cert: tuple[Path, Path], tmp_path: Path) -> None:
    paths = ensure_certificate(tmp_path, "urn:pp:gw2")
    users = Users("unused", cert_der=paths.cert.read_bytes())
    async with secure_server(server_cert, users) as srv:
        conn = connect(
            "cnc-1",
            srv.url,
            CNC_DT,
            security="sign",
            cert_dir=str(tmp_path),
            application_uri="urn:pp:gw2",
            auth="certificate",
        )
        assert (await conn.read_once(["state"]))[0].quality == 0
        await conn.close()
    assert "cert" in users.seen
