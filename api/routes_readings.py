"""A point's readings over a range, and a device's births and deaths.

A range answers with the readings themselves while they are at most `max_points`; past that, the
database bins them into at most `max_points` equal buckets (avg/min/max of the good readings,
counts of all), so no range, however long, returns more rows than asked for. String points are
not binned: their first `max_points` readings come back, with `truncated` set when there are more.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import Name, Operating, Svc, invalid, tenant_device
from api.models import Bucket, DeviceEvent, RawReading, Readings

router = APIRouter(prefix="/api/v1", tags=["readings"])

_POINT = "SELECT point_id, dtype, unit FROM points WHERE device_id = %(device)s AND name = %(point)s"
_RAW = """
SELECT time, coalesce(value_int::numeric, value)::float8 AS value, quality FROM readings
WHERE point_id = %(point)s AND time >= %(start)s AND time < %(end)s ORDER BY time LIMIT %(limit)s
"""
_RAW_TEXT = """
SELECT time, value AS text, quality FROM readings_text
WHERE point_id = %(point)s AND time >= %(start)s AND time < %(end)s ORDER BY time LIMIT %(limit)s
"""
# date_bin origin is the range's start, so bucket k covers [start + k*width, start + (k+1)*width).
_BINNED = """
SELECT date_bin(%(width)s, time, %(start)s) AS start,
       avg(value) FILTER (WHERE quality = 0) AS avg,
       min(value) FILTER (WHERE quality = 0) AS min,
       max(value) FILTER (WHERE quality = 0) AS max,
       count(*) AS count, count(*) FILTER (WHERE quality = 0) AS good
FROM readings
WHERE point_id = %(point)s AND time >= %(start)s AND time < %(end)s
GROUP BY 1 ORDER BY 1
"""
_EVENTS = """
SELECT site, dev AS device, kind, gw AS gateway, seq, sent_at, received_at, source FROM envelopes
WHERE site = %(site)s AND dev = %(dev)s AND kind IN ('birth', 'death')
  AND (%(before)s::timestamptz IS NULL OR received_at < %(before)s)
ORDER BY received_at DESC, seq DESC LIMIT %(limit)s
"""

Moment = Annotated[datetime | None, Query(description="ISO 8601 with a time zone; default: 24 h before end")]
Until = Annotated[datetime | None, Query(description="ISO 8601 with a time zone, excluded; default: now")]


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise invalid("query", field, "needs a time zone (e.g. Z or +00:00)")
    return value.astimezone(UTC)


def bucket_width(start: datetime, end: datetime, buckets: int) -> timedelta:
    """The whole-second width that splits [start, end) into at most `buckets` buckets."""
    return timedelta(seconds=max(1, math.ceil((end - start).total_seconds() / buckets)))


@router.get("/devices/{site}/{device}/points/{point}/readings", response_model=Readings)
async def readings(
    who: Operating,
    service: Svc,
    site: Name,
    device: Name,
    point: Name,
    start: Moment = None,
    end: Until = None,
    max_points: Annotated[
        int | None, Query(ge=1, description="rows at most; default and ceiling: the service's")
    ] = None,
) -> Readings:
    """A point's readings in [start, end): raw while at most `max_points`, binned beyond."""
    limits = service.settings.limits
    end_at = _aware(end, "end") if end is not None else datetime.now(UTC)
    start_at = _aware(start, "start") if start is not None else end_at - timedelta(days=1)
    if end_at <= start_at:
        raise invalid("query", "end", "must be after start")
    if end_at - start_at > timedelta(days=limits.max_window_days):
        raise invalid("query", "start", f"range longer than {limits.max_window_days} days")
    if max_points is not None and max_points > limits.max_points:
        raise invalid("query", "max_points", f"at most {limits.max_points}")
    cap = max_points or limits.max_points
    dev = await tenant_device(service, who, site, device)
    found = await service.rows(_POINT, {"device": dev["device_id"], "point": point})
    if not found:
        raise HTTPException(404, f"no point {point!r} on {site}/{device}")
    p = found[0]
    args = {"point": p["point_id"], "start": start_at, "end": end_at, "limit": cap + 1}
    head = {"site": site, "device": device, "point": point, "unit": p["unit"], "dtype": p["dtype"],
            "start": start_at, "end": end_at, "max_points": cap}  # fmt: skip
    if p["dtype"] == "string":
        rows = await service.rows(_RAW_TEXT, args)
        return Readings(
            **head, mode="raw", truncated=len(rows) > cap, readings=[RawReading(**r) for r in rows[:cap]]
        )
    rows = await service.rows(_RAW, args)
    if len(rows) <= cap:
        return Readings(**head, mode="raw", truncated=False, readings=[RawReading(**r) for r in rows])
    width = bucket_width(start_at, end_at, cap)
    binned = await service.rows(_BINNED, {**args, "width": width})
    return Readings(
        **head, mode="binned", truncated=False, bucket_s=int(width.total_seconds()),
        buckets=[Bucket(**b) for b in binned],
    )  # fmt: skip


@router.get("/devices/{site}/{device}/history", response_model=list[DeviceEvent])
async def history(
    who: Operating,
    service: Svc,
    site: Name,
    device: Name,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[datetime | None, Query(description="only events received before (paging)")] = None,
) -> list[DeviceEvent]:
    """The device's births and deaths, newest first (`before` pages back)."""
    await tenant_device(service, who, site, device)
    if before is not None:
        before = _aware(before, "before")
    rows = await service.rows(_EVENTS, {"site": site, "dev": device, "before": before, "limit": limit})
    return [DeviceEvent(**r) for r in rows]
