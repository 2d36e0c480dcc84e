"""A real Kafka-protocol broker (Tansu) on free loopback ports, optionally on S3 served by moto.

`tansu` is one memory-storage broker for the session (tests use their own topics and groups);
tests that kill or restart a broker take their own from `tansu_factory`, with S3 storage from
`moto_s3_factory` when they must lose nothing across the restart.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("aiokafka", reason="the kafka extra is not installed (pip install -e '.[dev,kafka]')")

from plantproof.embedded_kafka import MotoS3Server, TansuServer


def _workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


@pytest.fixture(scope="session")
def tansu() -> Iterator[TansuServer]:
    workdir = _workdir("plantproof-tansu-")
    server = TansuServer(workdir)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture()
def moto_s3_factory() -> Iterator[Callable[..., MotoS3Server]]:
    made: list[tuple[MotoS3Server, Path]] = []

    def make(**kwargs: object) -> MotoS3Server:
        workdir = _workdir("plantproof-moto-")
        server = MotoS3Server(workdir, **kwargs)  # type: ignore[arg-type]
        server.start()
        made.append((server, workdir))
        return server

    yield make
    for server, workdir in made:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture()
def tansu_factory() -> Iterator[Callable[..., TansuServer]]:
    """Own brokers for tests that stop, kill or restart them (started; killed at teardown)."""
    made: list[tuple[TansuServer, Path]] = []

    def make(**kwargs: object) -> TansuServer:
        workdir = _workdir("plantproof-tansu-")
        server = TansuServer(workdir, **kwargs)  # type: ignore[arg-type]
        server.start()
        made.append((server, workdir))
        return server

    yield make
    for server, workdir in made:
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
