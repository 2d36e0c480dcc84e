"""Registers devices and COPYs readings straight into a migrated database (binary COPY)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg

PG_EPOCH_US = 946_684_800_000_000
_ROW = np.dtype(
    [("nf", ">i2"), ("l1", ">i4"), ("ts", ">i8"), ("l2", ">i4"), ("pid", ">i4"), ("l3", ">i4"),
     ("val", ">f8"), ("l4", ">i4"), ("q", ">i2"), ("l5", ">i4"), ("env", ">i8")]
)  # fmt: skip

# name, kind, dtype, scale, wrap
CNC_POINTS: list[tuple[str, str, str, float, float | None]] = [
    ("state", "state", "uint16", 1.0, None),
    ("parts_total", "counter", "uint32", 1.0, float(2**32)),
    ("parts_good", "counter", "uint32", 1.0, float(2**32)),
    ("energy", "energy", "uint32", 0.01, float(2**32) * 0.01),
    ("spindle_temp", "analog", "int16", 0.1, None),
]


def register_device(
    conn: psycopg.Connection,
    dev: str,
    *,
    site: str = "plant1",
    line: str | None = "L1",
    area: str | None = "A1",
    type_: str = "cnc_machine",
    ideal_rate_per_hour: float | None = 40.0,
    points: Sequence[tuple[str, str, str, float, float | None]] = CNC_POINTS,
    namespace: str = "plant",
) -> dict[str, int]:
    """Inserts gateway (if needed), device and points; returns point ids by name."""
    gw = f"gw-{site}"
    conn.execute("INSERT INTO gateways (gw, site) VALUES (%s, %s) ON CONFLICT DO NOTHING", (gw, site))
    (device_id,) = conn.execute(
        "INSERT INTO devices (site, dev, gw, area, line, type, industry, sector, simulated,"
        " ideal_rate_per_hour, namespace, first_seen, last_seen)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'C34', 'discrete', true, %s, %s, now(), now()) RETURNING device_id",
        (site, dev, gw, area, line, type_, ideal_rate_per_hour, namespace),
    ).fetchone()  # type: ignore[misc]
    ids: dict[str, int] = {}
    for name, kind, dtype, scale, wrap in points:
        (pid,) = conn.execute(
            "INSERT INTO points (device_id, name, kind, dtype, scale, wrap) VALUES (%s, %s, %s, %s, %s, %s)"
            " RETURNING point_id",
            (device_id, name, kind, dtype, scale, wrap),
        ).fetchone()  # type: ignore[misc]
        ids[name] = int(pid)
    return ids


def copy_readings(
    conn: psycopg.Connection,
    point_id: np.ndarray,
    t_ns: np.ndarray,
    value: np.ndarray,
    quality: np.ndarray | None = None,
) -> int:
    """COPYs readings (NaN values become NULL-free NaN; fine for tests); returns rows written."""
    n = len(t_ns)
    (env,) = conn.execute(
        "INSERT INTO envelopes (gw, seq, kind, site, dev, sent_at, n, sha256)"
        " SELECT 'gw-test', coalesce(max(seq), 0) + 1, 'data', 'plant1', 'x', now(), %s, '' FROM envelopes"
        " RETURNING envelope_id",
        (n,),
    ).fetchone()  # type: ignore[misc]
    rows = np.zeros(n, dtype=_ROW)
    rows["nf"], rows["l1"], rows["l2"], rows["l3"], rows["l4"], rows["l5"] = 5, 8, 4, 8, 2, 8
    rows["ts"] = np.asarray(t_ns, dtype=np.int64) // 1000 - PG_EPOCH_US
    rows["pid"] = point_id
    rows["val"] = value
    rows["q"] = 0 if quality is None else quality
    rows["env"] = env
    payload = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rows.tobytes() + b"\xff\xff"
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY readings (time, point_id, value, quality, envelope_id) FROM STDIN (FORMAT binary)"
        ) as copy,
    ):
        copy.write(payload)
    return n
