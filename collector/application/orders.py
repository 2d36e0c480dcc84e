"""Customer orders for the on-time delivery row: the CSV an operator imports, and the daily series.

CSV (UTF-8, header required, one order per row; dates YYYY-MM-DD; `delivered` empty when not yet):

    order_id,due,delivered
    SO-2026-0001,2026-03-04,2026-03-03

An order is on time when it was delivered on or before its due day; one not delivered counts as
late. Each order falls on its due day, so a period's on-time share is on-time / due over its days,
a ratio of daily totals the KPI engine's bootstrap takes as it takes device-days.
"""

# layering: pure

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from collector.errors import CollectorError

HEADER = ("order_id", "due", "delivered")
MAX_ROWS = 1_000_000  # per file: beyond it the import is refused, not truncated
MAX_ID = 64


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    due: dt.date
    delivered: dt.date | None


def _date(text: str, where: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CollectorError(f"{where}: {field}: {text!r} is not a date (YYYY-MM-DD)") from None


def parse_orders(lines: Iterable[str], name: str) -> Iterator[Order]:
    """Orders of a CSV, checked row by row; a bad row stops the file with its line and field named."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise CollectorError(f"{name}:1: header must be {','.join(HEADER)}, got {header!r}")
    seen: set[str] = set()
    for row in reader:
        where = f"{name}:{reader.line_num}"
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(HEADER):
            raise CollectorError(f"{where}: expected {len(HEADER)} fields, got {len(row)}")
        order_id, due, delivered = (c.strip() for c in row)
        if not order_id or len(order_id) > MAX_ID:
            raise CollectorError(f"{where}: order_id: empty or longer than {MAX_ID} characters")
        if order_id in seen:
            raise CollectorError(f"{where}: order_id: {order_id!r} appears twice in the file")
        if len(seen) >= MAX_ROWS:
            raise CollectorError(f"{where}: more than {MAX_ROWS:,} orders in one file; split it")
        seen.add(order_id)
        yield Order(
            order_id, _date(due, where, "due"), _date(delivered, where, "delivered") if delivered else None
        )


@dataclass(frozen=True, slots=True)
class OrderDays:
    """Per day of a period: orders due, and those of them delivered on time."""

    due: npt.NDArray[np.float64]
    on_time: npt.NDArray[np.float64]


def order_days(orders: Iterable[tuple[dt.date, dt.date | None]], start: dt.date, end: dt.date) -> OrderDays:
    """Daily totals over [start, end] (end included) of (due, delivered) pairs."""
    n = (end - start).days + 1
    due, on_time = np.zeros(n), np.zeros(n)
    for day, delivered in orders:
        i = (day - start).days
        if 0 <= i < n:
            due[i] += 1
            on_time[i] += delivered is not None and delivered <= day
    return OrderDays(due, on_time)
