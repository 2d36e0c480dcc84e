"""Imported orders, pure core: the CSV's rules with line and field named, the daily series, and the
on-time delivery row through the KPI engine's bootstrap and verdict."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from collector.application.daily import orders_result
from collector.application.declared import Application
from collector.application.orders import order_days, parse_orders
from collector.application.rows import BY_KEY
from collector.application.table import Periods, claim_for
from collector.errors import CollectorError
from collector.kpi.claims import Period, Scope

BASE = Period(start=dt.date(2026, 1, 5), end=dt.date(2026, 2, 1))
REP = Period(start=dt.date(2026, 2, 2), end=dt.date(2026, 3, 1))


def test_orders_parse_and_fall_on_their_due_day() -> None:
    text = [
        "order_id,due,delivered",
        "A,2026-01-05,2026-01-05",
        "B,2026-01-05,2026-01-07",
        "",
        "C,2026-01-06,",
    ]
    orders = list(parse_orders(text, "o.csv"))
    assert [(o.order_id, o.delivered) for o in orders] == [
        ("A", dt.date(2026, 1, 5)), ("B", dt.date(2026, 1, 7)), ("C", None),
    ]  # fmt: skip
    days = order_days([(o.due, o.delivered) for o in orders], dt.date(2026, 1, 5), dt.date(2026, 1, 7))
    assert days.due.tolist() == [2, 1, 0] and days.on_time.tolist() == [1, 0, 0]  # C undelivered: late


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["id,due,delivered"], "o.csv:1: header must be order_id,due,delivered"),
        (["order_id,due,delivered", "A,2026-02-30,"], "o.csv:2: due: '2026-02-30' is not a date"),
        (["order_id,due,delivered", "A,2026-02-03,x"], "o.csv:2: delivered: 'x' is not a date"),
        (
            ["order_id,due,delivered", "A,2026-02-03,", "A,2026-02-04,"],
            "o.csv:3: order_id: 'A' appears twice",
        ),
        (["order_id,due,delivered", "A,2026-02-03"], "o.csv:2: expected 3 fields, got 2"),
        (["order_id,due,delivered", ",2026-02-03,"], "o.csv:2: order_id: empty"),
    ],
)
def test_a_bad_row_names_its_line_and_field(lines: list[str], message: str) -> None:
    with pytest.raises(CollectorError) as err:
        list(parse_orders(lines, "o.csv"))
    assert str(err.value).startswith(message)


def _days(period: Period, late_every: int) -> list[tuple[dt.date, dt.date | None]]:
    out: list[tuple[dt.date, dt.date | None]] = []
    for i in range(period.days):
        due = period.start + dt.timedelta(days=i)
        out += [(due, due + dt.timedelta(days=int(k % late_every == 0))) for k in range(10)]
    return out


def test_on_time_delivery_change_is_the_ratio_of_shares() -> None:
    b = order_days(_days(BASE, 5), BASE.start, BASE.end)  # 8 of 10 on time every day
    r = order_days(_days(REP, 10), REP.start, REP.end)  # 9 of 10
    claim = claim_for(BY_KEY["order_on_time"], Periods(BASE, REP, Scope()), Application())
    result = orders_result(claim, b, r).to_json()
    assert result["point_estimate"] == pytest.approx(12.5)
    assert result["coverage"]["baseline"]["value"] == pytest.approx(0.8)
    assert result["ci_low"] == pytest.approx(12.5) and result["verdict"] == "verified"
    short = order_days(_days(REP, 10)[:100], REP.start, REP.start + dt.timedelta(days=9))
    late = orders_result(claim, b, short).to_json()
    assert late["verdict"] == "inconclusive" and "fewer than the 28 required" in late["reasons"][0]
    assert np.isclose(late["point_estimate"], 12.5)
