"""Orders in the database: the import (one transaction per file) and the daily series per period."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from collector import db
from collector.application.orders import Order, OrderDays, order_days, parse_orders
from collector.errors import CollectorError
from collector.kpi.claims import Period, Scope

BATCH = 5_000  # orders per statement


@dataclass(frozen=True, slots=True)
class OrdersImported:
    file: str
    sha256: str
    inserted: int
    updated: int  # known orders whose due or delivered date changed
    unchanged: int


def _upsert(conn: psycopg.Connection, site: str, batch: list[Order], source: str) -> tuple[int, int]:
    rows = conn.execute(
        "WITH incoming (order_id, due, delivered) AS"
        "  (SELECT * FROM unnest(%s::text[], %s::date[], %s::date[])),"
        " old AS (SELECT o.order_id, o.due, o.delivered FROM orders o JOIN incoming i USING (order_id)"
        "         WHERE o.site = %s),"
        " up AS (INSERT INTO orders (site, order_id, due, delivered, source)"
        "        SELECT %s, order_id, due, delivered, %s FROM incoming"
        "        ON CONFLICT (site, order_id) DO UPDATE SET due = excluded.due,"
        "          delivered = excluded.delivered, source = excluded.source, imported_at = now()"
        "        WHERE (orders.due, orders.delivered) IS DISTINCT FROM (excluded.due, excluded.delivered)"
        "        RETURNING order_id)"
        " SELECT count(*) FILTER (WHERE old.order_id IS NULL),"
        "        count(*) FILTER (WHERE old.order_id IS NOT NULL)"
        " FROM up LEFT JOIN old USING (order_id)",
        (
            [o.order_id for o in batch], [o.due for o in batch], [o.delivered for o in batch],
            site, site, source,
        ),
    ).fetchone()  # fmt: skip
    return (int(rows[0]), int(rows[1])) if rows else (0, 0)


def import_orders(dsn: str, path: Path, site: str) -> OrdersImported:
    """Store the file's orders for `site`; a bad row stores nothing and names its line and field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CollectorError(f"{path}: cannot read: {exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CollectorError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    orders = list(parse_orders(text.splitlines(), str(path)))
    sha = hashlib.sha256(raw).hexdigest()
    inserted = updated = 0
    with db.connection(dsn, doing=f"importing orders from {path}") as conn, conn.transaction():
        for i in range(0, len(orders), BATCH):
            ins, upd = _upsert(conn, site, orders[i : i + BATCH], f"import:{sha}")
            inserted, updated = inserted + ins, updated + upd
    return OrdersImported(str(path), sha, inserted, updated, len(orders) - inserted - updated)


def load_order_days(
    conn: psycopg.Connection, scope: Scope, periods: tuple[Period, Period]
) -> tuple[OrderDays, OrderDays] | None:
    """Both periods' daily series of the scope's sites (None: no orders table in this database)."""
    found = conn.execute("SELECT to_regclass('orders') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return None
    sites = [scope.site] if isinstance(scope.site, str) else scope.site
    out = []
    for p in periods:
        rows = conn.execute(
            "SELECT due, delivered FROM orders WHERE due >= %s AND due <= %s"
            " AND (%s::text[] IS NULL OR site = ANY(%s))",
            (p.start, p.end, sites, sites),
        ).fetchall()
        pairs: list[tuple[dt.date, dt.date | None]] = [(due, delivered) for due, delivered in rows]
        out.append(order_days(pairs, p.start, p.end))
    return out[0], out[1]
