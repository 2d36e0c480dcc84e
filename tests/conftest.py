"""Shared fixtures: real Mosquitto and PostgreSQL servers on free loopback ports.

Session-wide servers (`mqtt_broker`, `pg_server`) serve tests that never stop them; tests that inject
outages take their own instance from `mosquitto_factory` / `postgres_factory`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from adapters.registry import discover
from tests.servers import ExternalPostgres, MosquittoServer, PostgresServer

# Every protocol registers its address model, as the gateway and the simulators have it at start:
# a checked device-type load refuses address sections no protocol registered.
discover()


def _server_dir(prefix: str) -> Path:
    # Not under pytest's tmp_path: that is private to root (0700) and the postgres user must reach it.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class ExternalBroker:
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 1883
        self.url = url


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[MosquittoServer | ExternalBroker]:
    url = os.environ.get("PLANTPROOF_TEST_MQTT_URL")
    if url:
        yield ExternalBroker(url)
        return
    workdir = _server_dir("plantproof-mqtt-")
    server = MosquittoServer(workdir)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer | ExternalPostgres]:
    dsn = os.environ.get("PLANTPROOF_TEST_PG_DSN")
    if dsn:
        yield ExternalPostgres(dsn)
        return
    workdir = _server_dir("plantproof-pg-")
    server = PostgresServer(workdir)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture()
def pg_dsn(pg_server: PostgresServer | ExternalPostgres) -> str:
    """A fresh, empty database on the session server."""
    return pg_server.create_database()


@pytest.fixture()
def mosquitto_factory() -> Iterator[Callable[..., MosquittoServer]]:
    """Own brokers for tests that stop, kill or restart them."""
    if os.environ.get("PLANTPROOF_TEST_MQTT_URL"):
        pytest.skip("PLANTPROOF_TEST_MQTT_URL points at an external broker that tests cannot restart")
    made: list[tuple[MosquittoServer, Path]] = []

    def make(**kwargs: object) -> MosquittoServer:
        workdir = _server_dir("plantproof-mqtt-")
        server = MosquittoServer(workdir, **kwargs)  # type: ignore[arg-type]
        server.start()
        made.append((server, workdir))
        return server

    yield make
    for server, workdir in made:
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture()
def postgres_factory() -> Iterator[Callable[..., PostgresServer]]:
    """Own PostgreSQL clusters for tests that stop, kill or restart them."""
    if os.environ.get("PLANTPROOF_TEST_PG_DSN"):
        pytest.skip("PLANTPROOF_TEST_PG_DSN points at an external server that tests cannot restart")
    made: list[tuple[PostgresServer, Path]] = []

    def make(**kwargs: object) -> PostgresServer:
        workdir = _server_dir("plantproof-pg-")
        server = PostgresServer(workdir, **kwargs)  # type: ignore[arg-type]
        server.start()
        made.append((server, workdir))
        return server

    yield make
    for server, workdir in made:
        server.stop(mode="immediate")
        shutil.rmtree(workdir, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    from tests.servers import postgres_bindir, timescaledb_available

    bindir = postgres_bindir()
    path = "none found"
    if bindir is not None:
        path = f"{bindir} ({'TimescaleDB' if timescaledb_available(bindir) else 'plain PostgreSQL'})"
    return f"plantproof test servers: postgres {path}; mosquitto {shutil.which('mosquitto')}"
