"""The data-quality assessment's database edge: the registry, one point's readings at a time, the
ledger's offers and the one-value rule's conflicts; the judging is `collector.quality.assess`'s.

Memory is bounded by one point's readings in the window (at most `MAX_ROWS_PER_POINT`; a point
with more is refused with a message naming it, so a shorter window can be asked for).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from collector import db
from collector.errors import CollectorError
from collector.figures.window import Window
from collector.quality.assess import Series, assess
from collector.quality.rules import NS_PER_S, Settings, rules_for
from collector.quality.score import DEFINITIONS, FORMULA, Duplicates, PointResult, site_json
from devicemodel.devicetype import DeviceType

MAX_ROWS_PER_POINT = 5_000_000
FETCH = 100_000
# Readings of an envelope sent in the window may lie this far outside it (batching, clock skew).
ENVELOPE_REACH = timedelta(days=1)
_NS = "(extract(epoch FROM {}) * 1000000)::int8 * 1000"
_READINGS = f"""
SELECT {_NS.format("time")}, value, quality, envelope_id FROM readings
WHERE point_id = %(p)s AND time >= %(lo)s AND time < %(hi)s
UNION ALL
SELECT {_NS.format("time")}, NULL::float8, quality, envelope_id FROM readings_text
WHERE point_id = %(p)s AND time >= %(lo)s AND time < %(hi)s
ORDER BY 1
LIMIT %(limit)s
"""
_RECEIVED = f"SELECT envelope_id, {_NS.format('received_at')} FROM envelopes WHERE envelope_id = ANY(%s)"
# Offers of the data envelopes sent in the window, with the conflicts each one's readings met.
_OFFERS = """
SELECT e.envelope_id, e.dev, e.n, coalesce(c.refused, 0), coalesce(c.replaced, 0)
FROM envelopes e LEFT JOIN (
    SELECT offered_envelope_id AS id, count(*) FILTER (WHERE resolution = 'refused') AS refused,
           count(*) FILTER (WHERE resolution = 'replaced') AS replaced
    FROM reading_conflicts WHERE offered_envelope_id IS NOT NULL GROUP BY 1
) c ON c.id = e.envelope_id
WHERE e.site = %s AND e.kind = 'data' AND e.sent_at >= %s AND e.sent_at < %s
"""


@dataclass(frozen=True, slots=True)
class Device:
    device_id: int
    dev: str
    type: str
    ideal_rate_per_hour: float | None
    first_seen: datetime


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000


def device_types(directory: Path, names: Iterable[str]) -> dict[str, DeviceType]:
    """The device types found in `directory` as `<type>.yaml`; a type without a file has no rules."""
    from devicemodel.errors import ConfigError
    from devicemodel.loader import load_device_type

    out: dict[str, DeviceType] = {}
    for name in sorted(set(names)):
        path = directory / f"{name}.yaml"
        if path.exists():
            try:
                out[name] = load_device_type(path, addresses="unchecked")  # no adapter reads it here
            except ConfigError as exc:
                raise CollectorError(str(exc)) from None
    return out


def assess_window(
    dsn: str, window: Window, settings: Settings, types_dir: Path, *, site: str | None = None,
    among: Collection[str] | None = None, now: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The assessment of every plant site (or one; `among`: only of these sites) over `window`."""
    now = now or datetime.now(UTC)
    start, end = window.bounds()
    allowed = None if among is None else sorted(among)
    with db.connection(dsn, doing="assessing data quality") as conn:
        sites = [
            str(r[0])
            for r in conn.execute(
                "SELECT DISTINCT site FROM devices WHERE namespace = 'plant' AND first_seen < %s"
                " AND (%s::text IS NULL OR site = %s) AND (%s::text[] IS NULL OR site = ANY(%s)) ORDER BY 1",
                (end, site, site, allowed, allowed),
            ).fetchall()
        ]
        if site is not None and not sites:
            raise CollectorError(f"site {site!r}: no plant device registered before {end.date()}")
        results = []
        for s in sites:
            devices = _devices(conn, s, end)
            types = device_types(types_dir, [d.type for d in devices])
            results.append(_site(conn, s, devices, types, start, min(end, now), settings))
    return {
        "window": window.label,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "as_of": now.isoformat(),
        "settings": settings.to_json(),
        "device_types": str(types_dir),
        "sites": results,
    }


def assessment(
    dsn: str, window: Window, now: datetime, among: Collection[str] | None = None
) -> dict[str, Any]:
    """The assessment with the default settings and the shipped device types' rules, with its
    formula and definitions: what evidence bundles and the platform service show."""
    from devicemodel.configroot import config_root

    result = assess_window(dsn, window, Settings(), config_root() / "devices", among=among, now=now)
    result.pop("device_types")  # where this machine keeps them; each point's rules are written beside it
    return {**result, "formula": FORMULA, "definitions": DEFINITIONS}


def _devices(conn: psycopg.Connection, site: str, end: datetime) -> list[Device]:
    rows = conn.execute(
        "SELECT device_id, dev, type, ideal_rate_per_hour, first_seen FROM devices"
        " WHERE site = %s AND namespace = 'plant' AND first_seen < %s ORDER BY dev",
        (site, end),
    ).fetchall()
    return [Device(int(r[0]), str(r[1]), str(r[2]), r[3], r[4]) for r in rows]


def _site(
    conn: psycopg.Connection, site: str, devices: list[Device], types: dict[str, DeviceType],
    start: datetime, end: datetime, settings: Settings,
) -> dict[str, Any]:  # fmt: skip
    by_id = {d.device_id: d for d in devices}
    points = conn.execute(
        "SELECT point_id, device_id, name, kind, dtype, wrap FROM points WHERE device_id = ANY(%s)"
        " ORDER BY device_id, name",
        ([d.device_id for d in devices],),
    ).fetchall()
    conflicts: dict[int, int] = dict(
        conn.execute(
            "SELECT point_id, count(*) FROM reading_conflicts WHERE point_id = ANY(%s)"
            " AND time >= %s AND time < %s GROUP BY 1",
            ([int(p[0]) for p in points], start, end),
        ).fetchall()
    )
    offers = _offers(conn, site, start, end)
    stored: Counter[int] = Counter()
    received: dict[int, int] = {}
    results: list[PointResult] = []
    for pid, device_id, name, kind, dtype, wrap in points:
        device = by_id[device_id]
        numeric = kind != "state" and dtype not in ("string", "bool")
        rules = rules_for(kind, numeric, name, types.get(device.type), wrap, device.ideal_rate_per_hour)
        series = _series(conn, int(pid), f"{site}/{device.dev}/{name}", start, end, received)
        ids, counts = np.unique(series.envelope, return_counts=True)
        stored.update({i: c for i, c in zip(ids.tolist(), counts.tolist(), strict=True) if i in offers})
        span = (max(_ns(start), _ns(device.first_seen)), _ns(end))
        quality = assess(series, rules, span, settings, conflicts=int(conflicts.get(pid, 0)))
        results.append(PointResult(device.dev, str(name), rules, quality))
    dups: dict[str, Duplicates] = {}
    for env_id, (dev, n, refused, replaced) in offers.items():
        d = dups.get(dev, Duplicates())
        dups[dev] = Duplicates(
            d.offered + n, d.stored + stored[env_id], d.refused + refused, d.replaced + replaced
        )
    site_types = {d.dev: d.type for d in devices}
    out = site_json(site, site_types, results, dups)
    out["rules_declared_for"] = sorted(t for t in site_types.values() if t in types)
    return out


def _offers(
    conn: psycopg.Connection, site: str, start: datetime, end: datetime
) -> dict[int, tuple[str, int, int, int]]:
    """Data envelopes sent in the window: envelope id -> (device, samples, refused, replaced offers)."""
    rows = conn.execute(_OFFERS, (site, start, end)).fetchall()
    return {int(r[0]): (str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}


def _series(
    conn: psycopg.Connection, point_id: int, name: str, start: datetime, end: datetime,
    received: dict[int, int],
) -> Series:  # fmt: skip
    """The point's readings from a day before the window to a day after it (envelopes sent in the
    window may carry them); the assessment judges only those inside its span. `received` caches
    when each envelope entered the ledger."""
    params = {"p": point_id, "lo": start - ENVELOPE_REACH, "hi": end + ENVELOPE_REACH}
    parts: list[list[np.ndarray]] = [[], [], [], []]
    n = 0
    with conn.cursor(name=f"quality_{point_id}") as cur:  # server side: rows come a chunk at a time
        cur.execute(_READINGS, {**params, "limit": MAX_ROWS_PER_POINT + 1})
        while rows := cur.fetchmany(FETCH):
            n += len(rows)
            if n > MAX_ROWS_PER_POINT:
                raise CollectorError(
                    f"point {name}: more than {MAX_ROWS_PER_POINT:,} readings around the window;"
                    " assess a shorter window"
                )
            t, value, quality, envelope = zip(*rows, strict=True)
            parts[0].append(np.asarray(t, dtype=np.int64))
            parts[1].append(np.asarray([np.nan if v is None else v for v in value], dtype=np.float64))
            parts[2].append(np.asarray(quality, dtype=np.int16))
            parts[3].append(np.asarray(envelope, dtype=np.int64))
    dtypes = (np.int64, np.float64, np.int16, np.int64)
    t_ns, values, qualities, envelopes = (
        np.concatenate(p) if p else np.zeros(0, dtype=d) for p, d in zip(parts, dtypes, strict=True)
    )
    ids, which = np.unique(envelopes, return_inverse=True)
    missing = [i for i in ids.tolist() if i not in received]
    if missing:
        received.update((int(i), int(ns)) for i, ns in conn.execute(_RECEIVED, (missing,)).fetchall())
    stored = np.asarray([received[i] for i in ids.tolist()], dtype=np.int64)[which]
    return Series(t=t_ns, value=values, quality=qualities, stored=stored, envelope=envelopes)
