"""A point's readings over a range (raw, then binned) and a device's births and deaths."""

from __future__ import annotations

import httpx
import psycopg

from api.routes_readings import bucket_width
from tests.api.world import World

DEVICE = "/api/v1/devices/site-a/press-a"
TEMP = f"{DEVICE}/points/temp/readings"


async def test_a_short_range_is_raw_and_a_long_one_binned_within_the_bound(
    world: World, http: httpx.AsyncClient
) -> None:
    auth = world.auth("alpha", "operator")
    day = (await http.get(f"{TEMP}?start=2026-10-02T00:00:00Z&end=2026-10-03T00:00:00Z", headers=auth)).json()
    assert day["mode"] == "raw" and day["unit"] == "" and day["dtype"] == "float64"
    assert [r["time"][:16] for r in day["readings"]] == [
        "2026-10-02T01:59", "2026-10-02T12:59", "2026-10-02T23:59",
    ]  # fmt: skip
    assert {r["value"] for r in day["readings"]} == {1.5} and day["buckets"] == []
    month = "start=2026-10-01T00:00:00Z&end=2026-11-01T00:00:00Z"
    with psycopg.connect(world.dsn) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM readings r JOIN points p USING (point_id) WHERE p.name = 'temp'"
        ).fetchone()
    assert stored is not None and stored[0] == 60  # 20 days x 3 readings
    raw = (await http.get(f"{TEMP}?{month}&max_points=60", headers=auth)).json()
    assert raw["mode"] == "raw" and len(raw["readings"]) == 60  # exactly at the bound: still raw
    binned = (await http.get(f"{TEMP}?{month}&max_points=10", headers=auth)).json()
    assert binned["mode"] == "binned" and binned["readings"] == []
    assert binned["bucket_s"] == 31 * 86400 / 10  # 3.1 days: readings on days 1-20 fill 7 buckets
    assert len(binned["buckets"]) == 7
    assert sum(b["count"] for b in binned["buckets"]) == 60 == sum(b["good"] for b in binned["buckets"])
    assert {(b["avg"], b["min"], b["max"]) for b in binned["buckets"]} == {(1.5, 1.5, 1.5)}
    # the buckets start on the grid laid from the range's start
    assert binned["buckets"][0]["start"].startswith("2026-10-01T00:00")


def test_bucket_width_never_makes_more_buckets_than_asked() -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    for seconds, buckets in ((1, 10), (86400 * 366, 2000), (7, 3), (3600, 3600), (3601, 3600)):
        width = bucket_width(start, start + timedelta(seconds=seconds), buckets)
        assert width >= timedelta(seconds=1) and -(-seconds // width.total_seconds()) <= buckets


async def test_readings_refuse_bad_ranges_naming_the_field(world: World, http: httpx.AsyncClient) -> None:
    auth = world.auth("alpha", "operator")
    cases = {
        "start=2026-10-02T00:00:00Z&end=2026-10-01T00:00:00Z": "end",
        "start=2026-10-02T00:00:00&end=2026-10-03T00:00:00Z": "start",
        "start=2020-01-01T00:00:00Z&end=2026-10-01T00:00:00Z": "start",
        "start=yesterday": "start",
        "max_points=0": "max_points",
        "max_points=1000000": "max_points",
    }
    for query, field in cases.items():
        res = await http.get(f"{TEMP}?{query}", headers=auth)
        assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["query", field], (
            query,
            res.text,
        )
    missing = await http.get(f"{DEVICE}/points/nothing/readings", headers=auth)
    assert missing.status_code == 404 and "nothing" in missing.json()["detail"]
    theirs = await http.get(f"{TEMP}?start=2026-10-01T00:00:00Z", headers=world.auth("beta", "operator"))
    assert theirs.status_code == 404  # alpha's point does not exist for beta
    assert (await http.get(TEMP, headers=world.auth("alpha", "auditor"))).status_code == 403


async def test_device_detail_has_latest_values_and_history(world: World, http: httpx.AsyncClient) -> None:
    auth = world.auth("alpha", "operator")
    detail = (await http.get(DEVICE, headers=auth)).json()
    (temp,) = detail["points"]
    assert temp["last_value"] == 1.5 and temp["last_quality"] == 0 and temp["last_text"] is None
    events = (await http.get(f"{DEVICE}/history", headers=auth)).json()
    assert [(e["kind"], e["received_at"][:10]) for e in events] == [
        ("birth", "2026-10-22"), ("death", "2026-10-21"), ("birth", "2026-10-01"),
    ]  # fmt: skip
    older = (
        await http.get(f"{DEVICE}/history?limit=1&before={events[0]['received_at']}", headers=auth)
    ).json()
    assert [e["kind"] for e in older] == ["death"]
    robot = (await http.get("/api/v1/devices/site-a/robot-a/history", headers=auth)).json()
    assert robot == []
    theirs = await http.get(f"{DEVICE}/history", headers=world.auth("beta", "admin"))
    assert theirs.status_code == 404


async def test_string_points_are_never_binned_and_say_when_cut(world: World, http: httpx.AsyncClient) -> None:
    with psycopg.connect(world.dsn) as conn:
        found = conn.execute(
            "SELECT device_id FROM devices WHERE site = 'site-a' AND dev = 'robot-a'"
        ).fetchone()
        assert found is not None
        point = conn.execute(
            "INSERT INTO points (device_id, name, kind, dtype) VALUES (%s, 'mode', 'state', 'string')"
            " RETURNING point_id",
            (found[0],),
        ).fetchone()
        assert point is not None
        for minute, text in enumerate(("idle", "run", "fault", "run")):
            conn.execute(
                "INSERT INTO readings_text (time, point_id, value, quality, envelope_id)"
                " VALUES ('2026-10-03T08:00:00Z'::timestamptz + %s * interval '1 minute', %s, %s, 0, 1)",
                (minute, point[0], text),
            )
    auth = world.auth("alpha", "operator")
    day = "start=2026-10-03T00:00:00Z&end=2026-10-04T00:00:00Z"
    url = f"/api/v1/devices/site-a/robot-a/points/mode/readings?{day}"
    cut = (await http.get(f"{url}&max_points=3", headers=auth)).json()
    assert cut["mode"] == "raw" and cut["truncated"] and cut["buckets"] == []
    assert [(r["text"], r["value"]) for r in cut["readings"]] == [
        ("idle", None),
        ("run", None),
        ("fault", None),
    ]
    whole = (await http.get(url, headers=auth)).json()
    assert not whole["truncated"] and len(whole["readings"]) == 4
    detail = (await http.get("/api/v1/devices/site-a/robot-a", headers=auth)).json()
    mode = next(p for p in detail["points"] if p["name"] == "mode")
    assert mode["last_text"] == "run" and mode["last_value"] is None
    assert mode["last_reading"].startswith("2026-10-03T08:03")
