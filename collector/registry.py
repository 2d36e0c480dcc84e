"""Gateways, devices and points from births, deaths and `$status`.

Runs inside the caller's transaction. Point ids are cached in memory; changes made in a transaction
are staged and become visible to the cache only after `commit()` (a rolled-back batch leaves none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

import psycopg

import wire
from collector.decode import RejectedError
from collector.points import DeviceKey, DevicePoints, PointRef

T = TypeVar("T")

BACKFILL_PREFIX = "backfill-"


def is_history_writer(gw: str) -> bool:
    """Backfill gateways write history for devices they do not own (their accounts are operators')."""
    return gw.startswith(BACKFILL_PREFIX)


def ns_to_dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


class Registry:
    def __init__(self) -> None:
        self._cache: dict[DeviceKey, DevicePoints] = {}
        self._staged: dict[DeviceKey, DevicePoints] = {}
        self._known_gateways: set[str] = set()
        self._staged_gateways: set[str] = set()

    # -- transaction bookkeeping -------------------------------------------------------------
    def commit(self) -> None:
        self._cache.update(self._staged)
        self._known_gateways |= self._staged_gateways
        self.rollback()

    def rollback(self) -> None:
        self._staged = {}
        self._staged_gateways = set()

    # -- lookups -----------------------------------------------------------------------------
    def lookup(
        self, conn: psycopg.Connection, site: str, dev: str, *, refresh: bool = False
    ) -> DevicePoints | None:
        key = (site, dev)
        found = self._staged.get(key)
        if found is None and not refresh:
            found = self._cache.get(key)
        if found is not None:
            return found
        row = conn.execute("SELECT device_id, gw FROM devices WHERE site = %s AND dev = %s", key).fetchone()
        if row is None:
            return None
        found = self._load(conn, int(row[0]), str(row[1]))
        if not found.points:
            return None  # registered without points (never a birth): treat as unknown
        self._staged[key] = found
        return found

    def resolve(self, conn: psycopg.Connection, site: str, dev: str, use: Callable[[DevicePoints], T]) -> T:
        """`use` applied to the device's points as cached; if it refuses them (RejectedError), once more
        with the registry's current points, when they differ: another process may have seen a newer
        birth, or an operator moved the device. The one place that refreshes on a miss."""
        device = self.lookup(conn, site, dev)
        if device is None:
            raise RejectedError(f"no birth yet for device {dev!r} at site {site!r}")
        try:
            return use(device)
        except RejectedError:
            fresh = self.lookup(conn, site, dev, refresh=True)
            if fresh is None or fresh == device:
                raise
            return use(fresh)

    def _load(self, conn: psycopg.Connection, device_id: int, owner: str = "") -> DevicePoints:
        rows = conn.execute(
            "SELECT name, point_id, kind, dtype FROM points WHERE device_id = %s", (device_id,)
        ).fetchall()
        return DevicePoints.of(device_id, {r[0]: PointRef(int(r[1]), r[2], r[3]) for r in rows}, owner)

    def check_owner(self, conn: psycopg.Connection, site: str, dev: str, gw: str) -> None:
        """RejectedError unless `gw` may speak for the device: its owner, or any gateway while only
        history writers have registered it (a device belongs to the first live gateway that does)."""
        row = conn.execute(
            "SELECT d.gw, g.backfill FROM devices d JOIN gateways g ON g.gw = d.gw"
            " WHERE d.site = %s AND d.dev = %s",
            (site, dev),
        ).fetchone()
        if row is not None and row[0] != gw and not row[1]:
            raise RejectedError(f"device {dev!r} at site {site!r} is owned by {row[0]}")

    # -- updates -----------------------------------------------------------------------------
    def gateway(
        self, conn: psycopg.Connection, site: str, gw: str, seen: datetime, *, history: bool = False
    ) -> None:
        if gw in self._known_gateways or gw in self._staged_gateways:
            return
        conn.execute(
            "INSERT INTO gateways (gw, site, backfill, first_seen, last_seen) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (gw) DO UPDATE SET site = EXCLUDED.site,"
            " last_seen = greatest(gateways.last_seen, EXCLUDED.last_seen)",
            (gw, site, history or is_history_writer(gw), seen, seen),
        )
        self._staged_gateways.add(gw)

    def birth(
        self, conn: psycopg.Connection, site: str, birth: wire.Birth, *, history: bool = False
    ) -> DevicePoints:
        """Upsert device and points; idempotent, so retained births re-sent change nothing.

        A birth from a gateway other than the device's owner is refused before anything is written.
        A history writer (import, backfill gateway) describes the device without taking it over.
        A birth marks the device online unless its gateway's `$status` is offline: retained births
        read at collector start (in any order with the retained `$status`) never revive the devices
        of a gateway that is gone. A gateway that comes back says `online` before its new births.
        """
        history = history or is_history_writer(birth.gw)
        if not history:
            self.check_owner(conn, site, birth.dev, birth.gw)
        seen = ns_to_dt(birth.sent)
        self.gateway(conn, site, birth.gw, seen, history=history)
        info = birth.device
        row = conn.execute(
            "INSERT INTO devices (site, dev, gw, area, line, type, industry, sector, simulated, managed,"
            " protocol, ideal_rate_per_hour, online, first_seen, last_seen)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " NOT EXISTS (SELECT 1 FROM gateways WHERE gw = %s AND status = 'offline'), %s, %s)"
            " ON CONFLICT (site, dev) DO UPDATE SET"
            " gw = CASE WHEN %s THEN devices.gw ELSE EXCLUDED.gw END, area = EXCLUDED.area,"
            " line = EXCLUDED.line, type = EXCLUDED.type, industry = EXCLUDED.industry,"
            " sector = EXCLUDED.sector, simulated = EXCLUDED.simulated, managed = EXCLUDED.managed,"
            " protocol = EXCLUDED.protocol, ideal_rate_per_hour = EXCLUDED.ideal_rate_per_hour,"
            " online = EXCLUDED.online, first_seen = least(devices.first_seen, EXCLUDED.first_seen),"
            " last_seen = greatest(devices.last_seen, EXCLUDED.last_seen)"
            " RETURNING device_id, gw",
            (
                site,
                birth.dev,
                birth.gw,
                info.area,
                info.line,
                info.type,
                info.industry,
                info.sector,
                info.simulated,
                info.managed,
                info.protocol,
                info.ideal_rate_per_hour,
                birth.gw,
                seen,
                seen,
                history,
            ),
        ).fetchone()
        assert row is not None
        device_id, owner = int(row[0]), str(row[1])
        pts = birth.points
        conn.execute(
            'INSERT INTO points (device_id, name, kind, dtype, unit, scale, "offset", wrap)'
            " SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::float8[], %s::float8[], %s::float8[])"
            " ON CONFLICT (device_id, name) DO UPDATE SET kind = EXCLUDED.kind, dtype = EXCLUDED.dtype,"
            ' unit = EXCLUDED.unit, scale = EXCLUDED.scale, "offset" = EXCLUDED."offset",'
            " wrap = EXCLUDED.wrap",
            (
                device_id,
                [p.name for p in pts],
                [p.kind for p in pts],
                [p.dtype for p in pts],
                [p.unit for p in pts],
                [p.scale for p in pts],
                [p.offset for p in pts],
                [p.wrap for p in pts],
            ),
        )
        loaded = self._load(conn, device_id)
        # Only the points of the latest birth are valid for new data.
        found = DevicePoints.of(device_id, {p.name: loaded.points[p.name] for p in pts}, owner)
        self._staged[(site, birth.dev)] = found
        return found

    def death(self, conn: psycopg.Connection, site: str, death: wire.Death, *, history: bool = False) -> None:
        history = history or is_history_writer(death.gw)
        if not history:
            self.check_owner(conn, site, death.dev, death.gw)
        self.gateway(conn, site, death.gw, ns_to_dt(death.sent), history=history)
        conn.execute(
            "UPDATE devices SET online = false, last_seen = greatest(last_seen, %s)"
            " WHERE site = %s AND dev = %s",
            (ns_to_dt(death.sent), site, death.dev),
        )

    def status(self, conn: psycopg.Connection, site: str, gw: str, payload: bytes) -> None:
        status = "online" if payload == wire.STATUS_ONLINE else "offline"
        now = datetime.now(UTC)
        conn.execute(
            "INSERT INTO gateways (gw, site, status, backfill, status_changed_at)"
            " VALUES (%s, %s, %s, %s, now())"
            " ON CONFLICT (gw) DO UPDATE SET status = EXCLUDED.status, site = EXCLUDED.site,"
            " status_changed_at = CASE WHEN gateways.status = EXCLUDED.status"
            " THEN gateways.status_changed_at ELSE now() END, last_seen = greatest(gateways.last_seen, %s)",
            (gw, site, status, gw.startswith(BACKFILL_PREFIX), now),
        )
        self._staged_gateways.add(gw)
        if status == "offline":
            conn.execute("UPDATE devices SET online = false WHERE gw = %s AND site = %s", (gw, site))

    def touch(self, conn: psycopg.Connection, seen: Iterable[tuple[str, str, str, int, int]]) -> None:
        """Widen first/last seen of devices (site, dev, gw, min ts, max ts) and their gateways.

        Only rows that change are updated, and they are locked in (site, dev) / gw order first, so two
        writers touching the same devices (collectors, an import) never wait on each other in a cycle.
        """
        items = sorted(seen)
        if not items:
            return
        conn.execute(
            "WITH u AS (SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])"
            " AS u(site, dev, lo, hi)), locked AS (SELECT d.device_id, u.lo, u.hi FROM devices d"
            " JOIN u ON d.site = u.site AND d.dev = u.dev WHERE u.hi > d.last_seen OR u.lo < d.first_seen"
            " ORDER BY d.site, d.dev FOR UPDATE OF d)"
            " UPDATE devices d SET last_seen = greatest(d.last_seen, l.hi),"
            " first_seen = least(d.first_seen, l.lo) FROM locked l WHERE d.device_id = l.device_id",
            (
                [i[0] for i in items],
                [i[1] for i in items],
                [ns_to_dt(i[3]) for i in items],
                [ns_to_dt(i[4]) for i in items],
            ),
        )
        gws: dict[str, int] = {}
        for _, _, gw, _, hi in items:
            gws[gw] = max(gws.get(gw, 0), hi)
        names = sorted(gws)
        conn.execute(
            "WITH u AS (SELECT * FROM unnest(%s::text[], %s::timestamptz[]) AS u(gw, hi)),"
            " locked AS (SELECT g.gw, u.hi FROM gateways g JOIN u ON g.gw = u.gw WHERE u.hi > g.last_seen"
            " ORDER BY g.gw FOR UPDATE OF g)"
            " UPDATE gateways g SET last_seen = greatest(g.last_seen, l.hi) FROM locked l WHERE g.gw = l.gw",
            (names, [ns_to_dt(gws[n]) for n in names]),
        )


def move_device(conn: psycopg.Connection, site: str, dev: str, to_gw: str, reason: str = "") -> str:
    """An operator gives a device to another gateway; returns the previous owner.

    From then on only `to_gw` may send its data and births; the move is recorded in `device_moves`.
    Runs in the caller's transaction.
    """
    wire.topics.check_id(to_gw, "gateway")
    row = conn.execute(
        "SELECT gw FROM devices WHERE site = %s AND dev = %s FOR UPDATE", (site, dev)
    ).fetchone()
    if row is None:
        raise RejectedError(f"no device {dev!r} at site {site!r}")
    previous = str(row[0])
    now = datetime.now(UTC)
    conn.execute(
        "INSERT INTO gateways (gw, site, backfill, first_seen, last_seen) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (gw) DO NOTHING",
        (to_gw, site, is_history_writer(to_gw), now, now),
    )
    conn.execute("UPDATE devices SET gw = %s WHERE site = %s AND dev = %s", (to_gw, site, dev))
    conn.execute(
        "INSERT INTO device_moves (site, dev, from_gw, to_gw, reason) VALUES (%s, %s, %s, %s, %s)",
        (site, dev, previous, to_gw, reason),
    )
    return previous
