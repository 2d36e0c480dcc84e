"""Registers devices and points and COPYs readings straight into a migrated database (test helper)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg


@dataclass(frozen=True)
class SeedDevice:
    dev: str
    type: str
    industry: str
    sector: str
    # point name -> (kind, days with good readings, quality written)
    points: dict[str, tuple[str, Sequence[date], int]] = field(default_factory=dict)
    simulated: bool = False
    managed: bool = False
    namespace: str = "plant"
    site: str = "plant1"
    gw: str = "gw1"


def days(start: date, n: int, step: int = 1) -> list[date]:
    return [start + timedelta(days=i * step) for i in range(n)]


def ensure_gateway(conn: psycopg.Connection[Any], gw: str, site: str) -> None:
    conn.execute("INSERT INTO gateways (gw, site) VALUES (%s, %s) ON CONFLICT (gw) DO NOTHING", (gw, site))


def register(conn: psycopg.Connection[Any], device: SeedDevice) -> dict[str, int]:
    ensure_gateway(conn, device.gw, device.site)
    now = datetime.now(UTC)
    row = conn.execute(
        "INSERT INTO devices (site, dev, gw, type, industry, sector, simulated, managed, namespace,"
        " first_seen, last_seen) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING device_id",
        (
            device.site,
            device.dev,
            device.gw,
            device.type,
            device.industry,
            device.sector,
            device.simulated,
            device.managed,
            device.namespace,
            now,
            now,
        ),
    ).fetchone()
    assert row is not None
    ids: dict[str, int] = {}
    for name, (kind, _, _) in device.points.items():
        dtype = "string" if kind == "state" else "float64"
        point = conn.execute(
            "INSERT INTO points (device_id, name, kind, dtype) VALUES (%s,%s,%s,%s) RETURNING point_id",
            (row[0], name, kind, dtype),
        ).fetchone()
        assert point is not None
        ids[name] = point[0]
    return ids


def envelope(conn: psycopg.Connection[Any], device: SeedDevice, seq: int, sent: datetime, n: int) -> int:
    row = conn.execute(
        "INSERT INTO envelopes (gw, seq, kind, site, dev, sent_at, n, sha256)"
        " VALUES (%s,%s,'data',%s,%s,%s,%s,%s) RETURNING envelope_id",
        (device.gw, seq, device.site, device.dev, sent, n, hashlib.sha256(f"{seq}".encode()).hexdigest()),
    ).fetchone()
    assert row is not None
    return int(row[0])


def copy_readings(
    conn: psycopg.Connection[Any], rows: Iterable[tuple[datetime, int, float | None, int, int]]
) -> None:
    with conn.cursor().copy("COPY readings (time, point_id, value, quality, envelope_id) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)


_SEQ: dict[str, int] = {}


def seed(
    dsn: str, devices: Sequence[SeedDevice], hours: Sequence[int] = (1, 12, 23)
) -> dict[str, dict[str, int]]:
    """Registers every device; per active day one envelope and one reading per point per hour."""
    out: dict[str, dict[str, int]] = {}
    with psycopg.connect(dsn) as conn:
        for device in devices:
            ids = register(conn, device)
            out[device.dev] = ids
            by_day: dict[date, list[tuple[int, int]]] = {}
            for name, (_, active, quality) in device.points.items():
                for day in active:
                    by_day.setdefault(day, []).append((ids[name], quality))
            rows = []
            for day, pts in sorted(by_day.items()):
                seq = _SEQ[device.gw] = _SEQ.get(device.gw, 0) + 1
                sent = datetime.combine(day, time(), UTC)
                env = envelope(conn, device, seq, sent, len(pts) * len(hours))
                for point_id, quality in pts:
                    for h in hours:
                        rows.append((sent + timedelta(hours=h, minutes=59), point_id, 1.5, quality, env))
            copy_readings(conn, rows)
    return out
