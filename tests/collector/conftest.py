"""Builders for wire envelopes used by the collector tests."""

from __future__ import annotations

import time

import psycopg
import pytest

import wire
from collector.migrate import migrate

SITE = "s1"
POINTS = [
    wire.PointInfo("temp", "analog", "float32", "degC"),
    wire.PointInfo("state", "state", "uint16"),
    wire.PointInfo("parts", "counter", "uint32", "pcs", wrap=4294967296.0),
    wire.PointInfo("door", "switch", "bool"),
    wire.PointInfo("program", "analog", "string"),
]
INFO = wire.DeviceInfo("cnc_machine", "C34", "discrete", simulated=True, managed=True, area="A", line="L1")


def birth(
    gw: str = "gw1", dev: str = "m1", seq: int = 0, points: list[wire.PointInfo] | None = None
) -> wire.Birth:
    return wire.Birth(gw, dev, seq, time.time_ns(), INFO, points or POINTS)


def data(gw: str, dev: str, seq: int, samples: list[tuple[str, int, object, int]]) -> wire.Data:
    return wire.Data(gw, dev, seq, time.time_ns(), samples)  # type: ignore[arg-type]


_next_free_ns = 0


def temps(
    n: int, start_ns: int | None = None, step_ns: int = 1_000_000
) -> list[tuple[str, int, object, int]]:
    """n temperature samples; by default just before now and after every earlier default call, so
    that two calls never offer the same (point, time) (that would be a repeat, stored once)."""
    global _next_free_ns
    if start_ns is None:
        start_ns = max(time.time_ns() - n * step_ns, _next_free_ns)
        _next_free_ns = start_ns + n * step_ns
    return [("temp", start_ns + i * step_ns, float(i), 0) for i in range(n)]


def topic(kind: str, gw: str = "gw1", dev: str = "m1", site: str = SITE) -> str:
    return wire.device_topic(site, gw, dev, kind)  # type: ignore[arg-type]


@pytest.fixture()
def db(pg_dsn: str) -> str:
    """A migrated database on whichever storage path the server offers."""
    migrate(pg_dsn)
    return pg_dsn


@pytest.fixture()
def plain_db(pg_dsn: str) -> str:
    """A migrated database on the plain PostgreSQL path, even where TimescaleDB is installed."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP EXTENSION IF EXISTS timescaledb")
    assert migrate(pg_dsn, try_timescaledb=False)[0] == "postgresql"
    return pg_dsn
