"""The console's pages over HTTP: sign-in, role gates, tenant scope, languages (real PostgreSQL)."""

from __future__ import annotations

import httpx

from api.auth import CONSOLE_HEADER, SESSION_COOKIE
from tests.api.world import World


async def _sign_in(http: httpx.AsyncClient, world: World, tenant: str, role: str) -> httpx.Response:
    return await http.post("/console/signin", data={"token": world.tokens[tenant, role]})


async def test_pages_send_a_stranger_to_sign_in(http: httpx.AsyncClient) -> None:
    for path in ("/console/", "/console/figures", "/console/audit", "/console/devices/site-a/press-a"):
        res = await http.get(path)
        assert res.status_code == 303 and res.headers["location"] == "/console/signin", path
    assert (await http.get("/")).headers["location"] == "/console/"


async def test_a_wrong_token_is_refused_on_the_page(http: httpx.AsyncClient) -> None:
    res = await http.post("/console/signin", data={"token": "not-a-token"}, headers={"accept-language": "en"})
    assert res.status_code == 401 and "invalid or revoked" in res.text
    assert SESSION_COOKIE not in res.cookies


async def test_an_oversized_sign_in_form_is_refused_before_reading(http: httpx.AsyncClient) -> None:
    res = await http.post("/console/signin", data={"token": "x" * 10_000})
    assert res.status_code == 413


async def test_an_operator_sees_the_fleet_of_the_tenant_only(http: httpx.AsyncClient, world: World) -> None:
    res = await _sign_in(http, world, "alpha", "operator")
    assert res.status_code == 303 and res.headers["location"] == "/console/"
    cookie = res.cookies[SESSION_COOKIE]
    assert cookie == world.tokens["alpha", "operator"]
    assert (
        "httponly" in res.headers["set-cookie"].lower()
        and "samesite=strict" in res.headers["set-cookie"].lower()
    )
    page = await http.get("/console/?lang=en")
    assert page.status_code == 200
    assert "press-a" in page.text and "robot-a" in page.text and "pump-b" not in page.text
    assert "of 2 devices" in page.text
    device = await http.get("/console/devices/site-a/press-a")
    assert device.status_code == 200 and "temp" in device.text
    # Another tenant's device is 404, exactly like a missing one.
    assert (await http.get("/console/devices/site-b/pump-b")).status_code == 404
    assert (await http.get("/console/devices/site-a/nothing")).status_code == 404


async def test_an_auditor_gets_figures_and_no_fleet(http: httpx.AsyncClient, world: World) -> None:
    res = await _sign_in(http, world, "alpha", "auditor")
    assert res.headers["location"] == "/console/figures"
    assert (await http.get("/console/")).status_code == 403
    page = await http.get("/console/figures?window=2026-10&lang=en")
    assert page.status_code == 200
    assert 'href="/console/"' not in page.text.split("<main")[0]  # no fleet link anywhere in the header
    # press-a counts (20 active days); pump-b is tenant beta's and appears nowhere.
    assert "press-a" in page.text and "pump-b" not in page.text
    assert "connected equipment (接入设备)" in page.text
    assert (await http.get("/console/audit")).status_code == 200


async def test_the_language_switch_is_remembered(http: httpx.AsyncClient, world: World) -> None:
    await _sign_in(http, world, "beta", "operator")
    zh = await http.get("/console/?lang=zh")
    assert "设备总览" in zh.text and 'lang="zh-Hans"' in zh.text
    again = await http.get("/console/")
    assert "设备总览" in again.text
    en = await http.get("/console/?lang=en")
    assert "Fleet" in en.text and 'lang="en"' in en.text


async def test_the_api_reads_with_the_session_cookie(http: httpx.AsyncClient, world: World) -> None:
    await _sign_in(http, world, "alpha", "operator")
    res = await http.get("/api/v1/devices")
    assert res.status_code == 200 and {d["device"] for d in res.json()} == {"press-a", "robot-a"}


async def test_signing_out_ends_the_session(http: httpx.AsyncClient, world: World) -> None:
    await _sign_in(http, world, "alpha", "admin")
    assert (await http.get("/console/audit")).status_code == 200
    out = await http.post("/console/signout")
    assert out.status_code == 303
    assert (await http.get("/console/audit")).status_code == 303


async def test_alarms_show_the_tenant_its_own_and_the_platform_s(
    http: httpx.AsyncClient, world: World
) -> None:
    await _sign_in(http, world, "alpha", "operator")
    page = await http.get("/console/alarms?lang=en")
    assert "site-a/gw-a" in page.text and "broker" in page.text and "site-b/gw-b" not in page.text
    assert page.text.count("data-ack=") == 2  # an operator may acknowledge both
    fleet = await http.get("/console/")
    assert "2 active alarms" in fleet.text


async def test_an_auditor_sees_alarms_without_acknowledge_buttons(
    http: httpx.AsyncClient, world: World
) -> None:
    await _sign_in(http, world, "alpha", "auditor")
    page = await http.get("/console/alarms?lang=en")
    assert page.status_code == 200 and "site-a/gw-a" in page.text and "data-ack=" not in page.text


async def test_a_change_with_the_session_cookie_needs_the_console_header(
    http: httpx.AsyncClient, world: World
) -> None:
    await _sign_in(http, world, "alpha", "operator")
    path = f"/api/v1/alarms/{world.alarms['site-a']}/ack"
    # A form posted from another site carries no custom header: refused before anything changes.
    refused = await http.post(path, json={})
    assert refused.status_code == 403 and CONSOLE_HEADER in refused.json()["detail"]
    assert (await http.get(f"/api/v1/alarms/{world.alarms['site-a']}")).json()["acked_at"] is None
    done = await http.post(path, json={"note": "seen"}, headers={CONSOLE_HEADER: "1"})
    assert done.status_code == 200 and done.json()["ack_note"] == "seen"


async def test_an_auditor_reads_claims_without_a_verify_button(http: httpx.AsyncClient, world: World) -> None:
    doc = {"claims": [{"id": "yield", "title": "Yield +2 pp", "kpi": "quality", "change_pp": 2,
                       "baseline": {"start": "2026-10-01", "end": "2026-10-15"},
                       "reporting": {"start": "2026-10-16", "end": "2026-10-31"}}]}  # fmt: skip
    assert (
        await http.post("/api/v1/claims", json=doc, headers=world.auth("alpha", "operator"))
    ).status_code == 201
    await _sign_in(http, world, "alpha", "auditor")
    listed = await http.get("/console/claims?lang=en")
    assert listed.status_code == 200 and "Yield +2 pp" in listed.text
    page = await http.get("/console/claims/yield")
    assert page.status_code == 200 and "data-verify" not in page.text and "Not verified yet." in page.text
    await _sign_in(http, world, "beta", "auditor")
    assert (await http.get("/console/claims/yield")).status_code == 404  # alpha's claim
