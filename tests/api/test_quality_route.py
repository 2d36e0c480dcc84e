"""Data quality through the platform service and its console: every role, the tenant's sites only."""

from __future__ import annotations

import httpx
import psycopg

from tests.api.world import World

QUALITY = "/api/v1/quality?window=2026-10"


def _registered_from_october(dsn: str) -> None:
    """The seed registers its devices now; their readings are October's, so they were seen then."""
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE devices SET first_seen = '2026-10-01T00:00Z'")


async def test_each_role_reads_the_quality_of_its_tenants_sites_only(
    world: World, http: httpx.AsyncClient
) -> None:
    _registered_from_october(world.dsn)
    for role in ("admin", "operator", "auditor"):
        res = await http.get(QUALITY, headers=world.auth("alpha", role))
        assert res.status_code == 200, (role, res.text)
    alpha = (await http.get(QUALITY, headers=world.auth("alpha", "auditor"))).json()
    assert [s["site"] for s in alpha["sites"]] == ["site-a"]
    (site,) = alpha["sites"]
    assert [d["device"] for d in site["devices"]] == ["press-a", "robot-a"]
    # three readings a day on 20 (press-a) and 5 (robot-a) days: far from complete, all valid and timely
    assert 0 < site["dimensions"]["completeness"] < 0.1
    assert site["dimensions"]["validity"] == site["dimensions"]["timeliness"] == 1.0
    assert site["affected_points"]["completeness"] == ["robot-a/speed", "press-a/temp"]
    assert alpha["formula"].startswith("score = 100 × mean(") and "device_types" not in alpha
    beta = (await http.get(QUALITY, headers=world.auth("beta", "auditor"))).json()
    assert [s["site"] for s in beta["sites"]] == ["site-b"]
    assert "press-a" not in str(beta) and "site-a" not in str(beta)
    assert (await http.get(QUALITY)).status_code == 401
    assert (
        await http.get("/api/v1/quality?window=2026-13-40", headers=world.auth("alpha", "admin"))
    ).status_code == 422


async def test_the_console_shows_the_assessment_in_both_languages(
    world: World, http: httpx.AsyncClient
) -> None:
    _registered_from_october(world.dsn)
    await http.post("/console/signin", data={"token": world.tokens["alpha", "auditor"]})
    page = await http.get("/console/quality?window=2026-10&lang=en")
    assert page.status_code == 200
    assert "id='en-quality'" in page.text and "press-a/temp" in page.text and "pump-b" not in page.text
    assert 'href="/console/quality"' in page.text.split("<main")[0]  # in the navigation
    zh = await http.get("/console/quality?window=2026-10&lang=zh")
    assert "数据质量" in zh.text and "完整性" in zh.text
