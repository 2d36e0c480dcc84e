"""Numpy arrays from the database: scope resolution, point selection, binary COPY of readings.

Point rule (a claim's `points:` overrides each role by name):
- state: the device's `state`-kind point (the one named `state` when there are several);
- good: the counter named `parts_good`, else `units_good`, else the only counter named `*_good` or `*_ok`;
- produced: the counter named `parts_total`, else `units_total`, else the only counter named `*_total`,
  else — when the device has a good counter and exactly one other counter — that other counter
  (so `strokes` + `parts_good` and `carriers` + `carriers_ok` work);
- energy: the `energy`-kind point (the one named `energy` when there are several).
A device without a point for a role the KPI needs makes its device-days invalid, named in the reasons.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from collector.kpi.claims import Period, Points, Scope
from collector.kpi.engine import EPOCH, PeriodData, Series
from collector.kpi.errors import KpiError
from collector.kpi.timemodel import DAY_NS

ROLES = ("state", "produced", "good", "energy")
DEFAULT_NAMES = {"produced": ("parts_total", "units_total"), "good": ("parts_good", "units_good")}
COUNTER_LOOKBACK_NS = DAY_NS  # the last counter reading before a period is looked for this far back
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
# One binary COPY row of (point_id int4, time timestamptz, value float8, quality int2): fixed size,
# because value is never NULL (COALESCE to NaN).
ROW = np.dtype(
    [("nf", ">i2"), ("l1", ">i4"), ("pid", ">i4"), ("l2", ">i4"), ("ts", ">i8"),
     ("l3", ">i4"), ("val", ">f8"), ("l4", ">i4"), ("q", ">i2")]
)  # fmt: skip
HEADER = 19


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device_id: int
    name: str  # "site/dev"
    ideal_rate_per_hour: float | None


@contextmanager
def connect(dsn: str) -> Iterator[psycopg.Connection]:
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except psycopg.Error as exc:
        raise KpiError(f"cannot connect to the database: {exc}") from None
    try:
        yield conn
    except psycopg.Error as exc:
        raise KpiError(f"database query failed: {exc}") from None
    finally:
        conn.close()


def resolve_scope(conn: psycopg.Connection, scope: Scope) -> list[DeviceRow]:
    """Plant devices (never synthetic capacity populations) matching every field of the scope."""
    where, args = ["namespace = 'plant'"], []
    for col in ("line", "area", "site", "type"):
        value = getattr(scope, col)
        if value is not None:
            where.append(f"{col} = ANY(%s)")
            args.append([value] if isinstance(value, str) else value)
    if scope.devices is not None:
        # "dev" or "site/dev"
        where.append("(dev = ANY(%s) OR site || '/' || dev = ANY(%s))")
        args += [scope.devices, scope.devices]
    rows = conn.execute(
        f"SELECT device_id, site || '/' || dev, ideal_rate_per_hour FROM devices WHERE {' AND '.join(where)}"
        " ORDER BY site, dev",
        args,
    ).fetchall()
    return [DeviceRow(int(r[0]), str(r[1]), r[2]) for r in rows]


Pt = tuple[int, str, str, float | None]  # point_id, name, kind, wrap


def _good_counter(counters: list[Pt]) -> Pt | None:
    named = {p[1]: p for p in counters}
    for name in DEFAULT_NAMES["good"]:
        if name in named:
            return named[name]
    tail = [p for p in counters if p[1].endswith(("_good", "_ok"))]
    return tail[0] if len(tail) == 1 else None


def _pick(points: list[Pt], role: str, wanted: str | None) -> tuple[int, float | None] | None:
    """The point playing `role` on one device (module docstring has the rule)."""
    found: Pt | None = None
    if wanted is not None:
        found = next((p for p in points if p[1] == wanted), None)
    elif role in ("state", "energy"):
        same = [p for p in points if p[2] == role]
        if len(same) > 1:
            same = [p for p in same if p[1] == role]
        found = same[0] if same else None
    else:
        counters = [p for p in points if p[2] == "counter"]
        good = _good_counter(counters)
        if role == "good":
            found = good
        else:
            named = {p[1]: p for p in counters}
            total = [p for p in counters if p[1].endswith("_total")]
            rest = [p for p in counters if p is not good]
            found = next((named[n] for n in DEFAULT_NAMES["produced"] if n in named), None)
            found = found or (total[0] if len(total) == 1 else None)
            found = found or (rest[0] if good is not None and len(rest) == 1 else None)
    return (found[0], found[3]) if found else None


def copy_readings(conn: psycopg.Connection, point_ids: list[int], start_ns: int, end_ns: int) -> np.ndarray:
    """Readings of the points in [start, end) as a structured array sorted by (point_id, time)."""
    if not point_ids:
        return np.zeros(0, dtype=ROW)
    q = (
        "COPY (SELECT point_id, time, COALESCE(value, 'NaN'::float8), quality FROM readings"
        " WHERE point_id = ANY({}) AND time >= to_timestamp({}) AND time < to_timestamp({})"
        " ORDER BY point_id, time) TO STDOUT (FORMAT binary)"
    )
    stmt = sql.SQL(q).format(sql.Literal(point_ids), sql.Literal(start_ns / 1e9), sql.Literal(end_ns / 1e9))
    buf = bytearray()
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for chunk in copy:
            buf += chunk
    body = len(buf) - HEADER - 2
    if body < 0 or body % ROW.itemsize:
        raise KpiError(f"unexpected binary COPY layout ({len(buf)} bytes)")
    return np.frombuffer(buf, dtype=ROW, count=body // ROW.itemsize, offset=HEADER)


def load_period(
    conn: psycopg.Connection, devices: list[DeviceRow], points: Points, period: Period, timeout_s: float
) -> PeriodData:
    """State, counter and energy samples of the devices over the period (plus a lookback)."""
    start_ns = (period.start - EPOCH).days * DAY_NS
    end_ns = ((period.end - EPOCH).days + 1) * DAY_NS
    index = {d.device_id: i for i, d in enumerate(devices)}
    rows = conn.execute(
        "SELECT point_id, device_id, name, kind, wrap FROM points WHERE device_id = ANY(%s)",
        [list(index)],
    ).fetchall()
    per_dev: dict[int, list[Pt]] = {}
    for pid, did, name, kind, wrap in rows:
        per_dev.setdefault(did, []).append((pid, name, kind, wrap))
    # role → {point_id: (device index, wrap)}; one point may play several roles
    chosen: dict[str, dict[int, tuple[int, float]]] = {r: {} for r in ROLES}
    missing: dict[str, list[str]] = {r: [] for r in ROLES}
    for d in devices:
        for role in ROLES:
            got = _pick(per_dev.get(d.device_id, []), role, getattr(points, role))
            if got is None:
                missing[role].append(d.name)
            else:
                chosen[role][got[0]] = (index[d.device_id], np.nan if got[1] is None else float(got[1]))
    all_pids = sorted({p for c in chosen.values() for p in c})
    lookback = max(int(timeout_s * 1e9), COUNTER_LOOKBACK_NS)
    data = copy_readings(conn, all_pids, start_ns - lookback, end_ns)
    pid = data["pid"].astype(np.int64)
    t = (data["ts"].astype(np.int64) + PG_EPOCH_US) * 1000
    size = (all_pids[-1] if all_pids else 0) + 1
    series: dict[str, Series] = {}
    for role in ROLES:
        dev_of = np.full(size, -1, dtype=np.int64)
        wrap_of = np.full(size, np.nan)
        for p, (di, w) in chosen[role].items():
            dev_of[p], wrap_of[p] = di, w
        sel = np.flatnonzero(dev_of[pid] >= 0) if len(pid) else np.zeros(0, dtype=np.int64)
        dev = dev_of[pid[sel]]
        order = np.argsort(dev, kind="stable")  # rows are sorted by (point, time): keep time order
        sel, dev = sel[order], dev[order]
        series[role] = Series(
            dev=dev,
            t=t[sel],
            value=data["val"][sel].astype(np.float64),
            quality=data["q"][sel].astype(np.int16),
            wrap=wrap_of[pid[sel]],
        )
    rates = np.array([np.nan if d.ideal_rate_per_hour is None else d.ideal_rate_per_hour for d in devices])
    return PeriodData(
        start=period.start,
        end=period.end,
        devices=[d.name for d in devices],
        ideal_rate_per_hour=rates.astype(np.float64),
        state=series["state"],
        produced=series["produced"],
        good=series["good"],
        energy=series["energy"],
        missing={k: v for k, v in missing.items() if v},
    )
