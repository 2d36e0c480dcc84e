"""The device list a page at a time: limit, offset, X-Total-Count and the Link to the next page."""

from __future__ import annotations

import httpx

from tests.api.world import World


async def test_devices_come_a_page_at_a_time_with_the_total(http: httpx.AsyncClient, world: World) -> None:
    auth = world.auth("alpha", "operator")
    first = await http.get("/api/v1/devices?limit=1", headers=auth)
    assert first.status_code == 200 and [d["device"] for d in first.json()] == ["press-a"]
    assert first.headers["x-total-count"] == "2"
    link = first.headers["link"]
    assert link.endswith('; rel="next"') and "offset=1" in link and "limit=1" in link
    following = await http.get(link[1 : link.index(">")], headers=auth)
    assert [d["device"] for d in following.json()] == ["robot-a"] and "link" not in following.headers
    everything = await http.get("/api/v1/devices", headers=auth)
    assert len(everything.json()) == 2 and "link" not in everything.headers


async def test_a_page_beyond_the_bound_is_refused_naming_the_field(
    http: httpx.AsyncClient, world: World
) -> None:
    res = await http.get("/api/v1/devices?limit=10001", headers=world.auth("alpha", "operator"))
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["query", "limit"]
    res = await http.get("/api/v1/devices?offset=-1", headers=world.auth("alpha", "operator"))
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["query", "offset"]


async def test_a_nul_character_in_a_query_or_path_is_refused_naming_where(
    http: httpx.AsyncClient, world: World
) -> None:
    auth = world.auth("alpha", "operator")
    res = await http.get("/api/v1/devices?site=a%00b", headers=auth)
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["query", "site"]
    res = await http.get("/api/v1/devices/site-a/press%00a", headers=auth)
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["path", "path"]
