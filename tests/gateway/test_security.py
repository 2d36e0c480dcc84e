"""Broker credentials and TLS against a real Mosquitto."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.base import RawReading
from gateway.config import load_config
from gateway.runner import Gateway
from tests.gateway.helpers import Subscriber, modbus_device, write_config
from tests.servers import MosquittoServer, free_port, wait_port
from wire import Data


def _password_broker(tmp_path: Path, factory: Callable[..., MosquittoServer]) -> MosquittoServer:
    pwfile = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "gw1", "right"], check=True)
    pwfile.chmod(0o600)
    return factory(extra_conf=f"allow_anonymous false\npassword_file {pwfile}\n")


async def test_wrong_password_is_reported_and_retried_without_crash(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = _password_broker(tmp_path, mosquitto_factory)
    path = write_config(
        tmp_path,
        broker.url,
        [modbus_device("m1", port=1502)],
        mqtt={"username": "gw1", "reconnect_max_s": 1.0},
    )
    monkeypatch.setenv("PLANTPROOF_GATEWAY_MQTT__PASSWORD", "wrong")
    gateway = Gateway(load_config(path), connect_devices=False)
    task = asyncio.create_task(gateway.run())
    await asyncio.wait_for(gateway.started.wait(), 30)
    await gateway.ingest("m1", [RawReading("parts_total", time.time_ns(), 1)])
    deadline = time.monotonic() + 60
    while gateway.client.auth_failures < 3 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert gateway.client.auth_failures >= 3, "retries with backoff"
    assert not task.done(), "no crash"
    assert not gateway.client.connected.is_set()
    error = gateway.client.last_error or ""
    assert "refused" in error and ("password" in error.lower() or "authori" in error.lower()), error
    await gateway.flush(everything=True)
    assert gateway.spool.stats().depth >= 2  # birth and data wait in the spool
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    # the same spool, the right password: what waited is delivered
    monkeypatch.setenv("PLANTPROOF_GATEWAY_MQTT__PASSWORD", "right")
    sub_client = Subscriber(broker.host, broker.port)
    sub_client.client.username_pw_set("gw1", "right")
    sub = sub_client.start()
    gateway = Gateway(load_config(path), connect_devices=False)
    task = asyncio.create_task(gateway.run())
    await asyncio.to_thread(sub.wait_for, lambda m: any(x.topic.endswith("/data") for x in m), 60)
    assert gateway.client.auth_failures == 0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    sub.stop()


def _make_ca_and_server(dir_: Path) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "plantproof test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = dir_ / "ca.pem", dir_ / "server.pem", dir_ / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


async def test_tls_with_a_ca_file(tmp_path: Path, mosquitto_factory: Callable[..., MosquittoServer]) -> None:
    ca, cert, key = _make_ca_and_server(tmp_path)
    tls_port = free_port()
    broker = mosquitto_factory(
        extra_conf=f"listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
    )
    wait_port(tls_port)
    sub = Subscriber(broker.host, broker.port).start()  # plain listener: sees what came in over TLS
    path = write_config(
        tmp_path,
        f"mqtts://127.0.0.1:{tls_port}",
        [modbus_device("m1", port=1502)],
        mqtt={"tls": {"ca": str(ca)}},
    )
    gateway = Gateway(load_config(path), connect_devices=False)
    task = asyncio.create_task(gateway.run())
    await asyncio.wait_for(gateway.started.wait(), 30)
    await asyncio.wait_for(gateway.client.connected.wait(), 30)
    stamp = time.time_ns()
    await gateway.ingest("m1", [RawReading("parts_total", stamp, 42)])
    await gateway.flush(everything=True)
    msgs = await asyncio.to_thread(sub.wait_for, lambda m: any(x.topic.endswith("/data") for x in m), 60)
    data = [e for e in sub.envelopes("data") if isinstance(e, Data)]
    assert data[0].samples == [("parts_total", stamp, 42, 0)]
    assert any(m.topic.endswith("$status") and m.payload == b"online" for m in msgs)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    sub.stop()

    # a CA that did not sign the broker's certificate: refused, retried, no crash
    (tmp_path / "other").mkdir()
    other_ca, _, _ = _make_ca_and_server(tmp_path / "other")
    path = write_config(
        tmp_path,
        f"mqtts://127.0.0.1:{tls_port}",
        [modbus_device("m1", port=1502)],
        mqtt={"tls": {"ca": str(other_ca)}},
    )
    gateway = Gateway(load_config(path), connect_devices=False)
    task = asyncio.create_task(gateway.run())
    await asyncio.wait_for(gateway.started.wait(), 30)
    deadline = time.monotonic() + 30
    while gateway.client.last_error is None and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    assert not gateway.client.connected.is_set() and not task.done()
    assert "cannot reach broker" in (gateway.client.last_error or "")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
