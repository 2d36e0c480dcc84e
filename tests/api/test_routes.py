"""Roles, tenant isolation and the scoped figures of the platform API, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from api.settings import ApiSettings
from tests.api.world import BUNDLE_ID, World, build, client
from tests.servers import PostgresServer

V1 = "/api/v1"
A_DEVICE = "/api/v1/devices/site-a/press-a"
# route -> the roles allowed on it; every other role is refused with 403
ROUTES: dict[str, set[str]] = {
    "/api/v1/gateways": {"admin", "operator"},
    "/api/v1/devices": {"admin", "operator"},
    A_DEVICE: {"admin", "operator"},
    "/api/v1/figures?window=2026-10": {"admin", "operator", "auditor"},
    "/api/v1/tiers?window=2026-10": {"admin", "operator", "auditor"},
    "/api/v1/audit": {"admin", "auditor"},
    f"{A_DEVICE}/points/temp/readings?start=2026-10-01T00:00:00Z&end=2026-10-02T00:00:00Z": {
        "admin",
        "operator",
    },
    f"{A_DEVICE}/history": {"admin", "operator"},
    "/api/v1/claims": {"admin", "operator", "auditor"},
    "/api/v1/claims/press-downtime": {"admin", "operator", "auditor"},
    "/api/v1/claims/press-downtime/results": {"admin", "operator", "auditor"},
    "/api/v1/evidence": {"admin", "operator", "auditor"},
    f"/api/v1/evidence/{BUNDLE_ID}": {"admin", "operator", "auditor"},
    "/api/v1/dead-letters": {"admin", "operator"},
    "/api/v1/alarms": {"admin", "operator", "auditor"},
    "/api/v1/tokens": {"admin"},
}


def _audit(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT token_id, tenant, role, method, path, status, detail FROM audit_log"
            " WHERE method <> 'CLI' ORDER BY id"
        ).fetchall()


async def test_each_role_reaches_its_routes_and_is_refused_the_others(
    world: World, http: httpx.AsyncClient
) -> None:
    refused = []
    for path, allowed in ROUTES.items():
        for role in ("admin", "operator", "auditor"):
            res = await http.get(path, headers=world.auth("alpha", role))
            assert res.status_code == (200 if role in allowed else 403), (path, role, res.text)
            if role not in allowed:
                refused.append((world.token_ids["alpha", role], role, path.split("?")[0]))
    rows = _audit(world.dsn)
    assert [(r[0], r[2], r[4]) for r in rows] == refused  # each refusal, with its token and role
    assert {r[5] for r in rows} == {403} and all(r[3] == "GET" for r in rows)
    # auditors read their tenant's audit log, which holds these refusals
    log = (await http.get(f"{V1}/audit", headers=world.auth("alpha", "auditor"))).json()
    requests = [e for e in log if e["method"] == "GET"]
    assert {e["status"] for e in requests} == {403} and len(requests) == len(refused)
    # and the commands that made the tenant and its three tokens, newest first
    assert [e["path"] for e in log if e["method"] == "CLI"] == ["plantproof api token create"] * 3 + [
        "plantproof api tenant create"
    ]
    beta = (await http.get(f"{V1}/audit", headers=world.auth("beta", "auditor"))).json()
    assert [e for e in beta if e["method"] == "GET"] == []


async def test_unknown_missing_and_revoked_tokens_are_401_and_audited(
    world: World, http: httpx.AsyncClient
) -> None:
    from api.store import revoke_token

    devices = f"{V1}/devices"
    assert (await http.get(devices)).status_code == 401
    res = await http.get(devices, headers={"Authorization": "Bearer not-a-token"})
    assert res.status_code == 401 and res.headers["www-authenticate"] == "Bearer"
    assert (await http.get(devices, headers=world.auth("alpha", "operator"))).status_code == 200
    assert revoke_token(world.dsn, world.token_ids["alpha", "operator"]) is True
    assert revoke_token(world.dsn, world.token_ids["alpha", "operator"]) is False
    assert (await http.get(devices, headers=world.auth("alpha", "operator"))).status_code == 401
    assert (await http.get(devices, headers=world.auth("alpha", "admin"))).status_code == 200
    rows = _audit(world.dsn)
    assert [(r[0], r[5], r[6]) for r in rows] == [
        (None, 401, "no bearer token"),
        (None, 401, "unknown token"),
        (world.token_ids["alpha", "operator"], 401, "revoked token"),
    ]


def _fill(template: str, params: list[dict[str, Any]], alarm_ids: dict[str, int]) -> str:
    """A concrete request for an OpenAPI path, using tenant alpha's ids for every parameter."""
    values = {
        "site": "site-a", "device": "press-a", "point": "temp", "window": "2026-10", "limit": "100",
        "start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z", "before": "2027-01-01T00:00:00Z",
        "max_points": "1000", "claim_id": "press-downtime", "bundle_id": BUNDLE_ID, "before_id": "1000000",
        "offset": "0",
    }  # fmt: skip
    values |= {"state": "all", "alarm_id": str(alarm_ids["site-a"])}
    query = []
    for p in params:
        assert p["name"] in values, f"a new parameter {p['name']!r}: give it one of alpha's values here"
        if p["in"] == "path":
            template = template.replace("{" + p["name"] + "}", values[p["name"]])
        elif p["in"] == "query":
            query.append(f"{p['name']}={values[p['name']]}")
    return template + ("?" + "&".join(query) if query else "")


async def test_every_get_route_shows_beta_nothing_of_alpha(world: World, http: httpx.AsyncClient) -> None:
    spec = (await http.get(f"{V1}/openapi.json")).json()
    requests = [_fill(path, op.get("parameters", []), world.alarms) for path, item in spec["paths"].items()
                for method, op in item.items() if method == "get"]  # fmt: skip
    assert len(requests) >= len(ROUTES)  # the walk covers every route, new ones included
    for url in requests:
        mine = await http.get(url, headers=world.auth("alpha", "admin"))
        theirs = await http.get(url, headers=world.auth("beta", "admin"))
        assert mine.status_code == 200, (url, mine.text)
        assert theirs.status_code in (200, 404), (url, theirs.text)
        if url.endswith("/tokens"):  # tokens name no site: their labels name the tenant
            assert "alpha admin" in mine.text and "alpha" not in theirs.text, (url, theirs.text)
            continue
        # alpha's own answer names its site or device, so the check below can fail
        assert "site-a" in mine.text or url.endswith("/audit?limit=100"), url
        if theirs.status_code == 200:
            assert "site-a" not in theirs.text and "a/press-a" not in theirs.text, (url, theirs.text)
            assert "press-a" not in theirs.text and "robot-a" not in theirs.text, url
    assert (await http.get(A_DEVICE, headers=world.auth("beta", "admin"))).status_code == 404
    assert (await http.get(f"{V1}/devices?site=site-a", headers=world.auth("beta", "admin"))).json() == []


async def test_device_detail_and_lists_are_the_tenants(world: World, http: httpx.AsyncClient) -> None:
    res = await http.get(A_DEVICE, headers=world.auth("alpha", "operator"))
    body = res.json()
    assert body["site"] == "site-a" and body["device"] == "press-a" and body["gateway"] == "gw-a"
    assert [p["name"] for p in body["points"]] == ["temp"]
    assert body["points"][0]["last_reading"].startswith("2026-10-20T23:59")
    missing = await http.get(f"{V1}/devices/site-a/nothing", headers=world.auth("alpha", "operator"))
    other = await http.get(f"{V1}/devices/site-b/pump-b", headers=world.auth("alpha", "operator"))
    assert missing.status_code == other.status_code == 404  # another tenant's device does not exist
    devices = (await http.get(f"{V1}/devices", headers=world.auth("alpha", "admin"))).json()
    assert [d["device"] for d in devices] == ["press-a", "robot-a"]
    gateways = (await http.get(f"{V1}/gateways", headers=world.auth("beta", "admin"))).json()
    assert [g["gw"] for g in gateways] == ["gw-b"]


async def test_figures_and_tiers_count_the_tenants_sites_only(world: World, http: httpx.AsyncClient) -> None:
    alpha = (await http.get(f"{V1}/figures?window=2026-10", headers=world.auth("alpha", "auditor"))).json()
    connected = alpha["figures"]["connected_equipment"]
    assert connected["default"]["value"] == 1
    assert [m["device"] for m in connected["default"]["members"]] == ["site-a/press-a"]
    assert [m["device"] for m in connected["any_day"]["members"]] == ["site-a/press-a", "site-a/robot-a"]
    assert alpha["figures"]["data_collection_points"]["default"]["value"] == 0  # pump-b is beta's
    assert alpha["figures"]["monthly_model_invocations"]["value"] is None
    assert alpha["scope"]["sites"] == ["site-a"] and "monthly_model_invocations" in alpha["scope"]["withheld"]
    beta = (await http.get(f"{V1}/figures?window=2026-10", headers=world.auth("beta", "auditor"))).json()
    assert beta["figures"]["data_collection_points"]["default"]["value"] == 1
    assert beta["figures"]["connected_equipment"]["default"]["value"] == 1
    tiers = (await http.get(f"{V1}/tiers?window=2026-10", headers=world.auth("alpha", "auditor"))).json()
    e1 = next(t for t in tiers["tiers"]["enterprise"]["thresholds"] if t["id"] == "E1")
    assert e1["value"] == 1 and e1["status"] == "fail"


async def test_validation_errors_are_422_naming_the_field(world: World, http: httpx.AsyncClient) -> None:
    for window in ("2026-13", "October", "2020-01..2026-12"):
        res = await http.get(f"{V1}/figures?window={window}", headers=world.auth("alpha", "auditor"))
        assert res.status_code == 422, window
        assert res.json()["detail"][0]["loc"] == ["query", "window"], res.text
    res = await http.get(f"{V1}/audit?limit=0", headers=world.auth("alpha", "admin"))
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_repeated_failures_from_one_address_are_rate_limited(world: World) -> None:
    settings = ApiSettings(dsn=world.dsn, limits={"auth_failures": 3, "auth_window_s": 600})
    bad = {"Authorization": "Bearer wrong"}
    async with client(settings, "192.0.2.7") as (http, app):
        for _ in range(3):
            assert (await http.get(f"{V1}/devices", headers=bad)).status_code == 401
        res = await http.get(f"{V1}/devices", headers=world.auth("alpha", "admin"))
        assert res.status_code == 429 and int(res.headers["retry-after"]) > 0  # even a valid token
        assert (await http.get(f"{V1}/devices", headers=bad)).status_code == 429
        app.state.auth.limiter.window_s = 0.0  # the window has passed
        assert (await http.get(f"{V1}/devices", headers=world.auth("alpha", "admin"))).status_code == 200
    async with client(settings, "192.0.2.8") as (other, _):  # another address is not limited
        assert (await other.get(f"{V1}/devices", headers=world.auth("alpha", "admin"))).status_code == 200
    statuses = [(r[5], r[6]) for r in _audit(world.dsn)]
    assert statuses == [(401, "unknown token")] * 3 + [(429, "rate limited: 3 failed authentications")]


def test_the_failure_table_is_bounded() -> None:
    from api.auth import FailureLimiter

    limiter = FailureLimiter(limit=2, window_s=60, clients=100)
    for i in range(1000):
        limiter.record(f"10.0.{i // 256}.{i % 256}", now=float(i))
    assert len(limiter) == 100
    assert limiter.record("x", 0.0) is False and limiter.record("x", 1.0) is True
    assert limiter.blocked("x", 59.0) and not limiter.blocked("x", 60.0)


async def test_a_database_outage_is_503_and_the_service_recovers(
    postgres_factory: Callable[..., PostgresServer],
) -> None:
    server = postgres_factory()
    world = build(server.create_database())
    settings = ApiSettings(dsn=world.dsn, limits={"pool_min": 1, "pool_max": 2})
    async with client(settings) as (http, _):
        devices = f"{V1}/devices"
        assert (await http.get(devices, headers=world.auth("alpha", "operator"))).status_code == 200
        server.stop(mode="immediate")
        down = await http.get(devices, headers=world.auth("alpha", "operator"))
        assert down.status_code == 503 and down.json() == {"detail": "database unavailable"}
        figures = await http.get(f"{V1}/figures?window=2026-10", headers=world.auth("alpha", "auditor"))
        assert figures.status_code == 503
        server.start()
        for _ in range(50):  # the pool replaces its broken connections
            res = await http.get(devices, headers=world.auth("alpha", "operator"))
            if res.status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert res.status_code == 200 and [d["device"] for d in res.json()] == ["press-a", "robot-a"]
