"""A tenant's admin manages its tokens through the API; the platform operator moves sites."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from api.store import ApiError, move_site
from tests.api.world import World

TOKENS = "/api/v1/tokens"


async def test_an_admin_creates_lists_and_revokes_the_tenant_s_tokens(
    http: httpx.AsyncClient, world: World
) -> None:
    admin = world.auth("alpha", "admin")
    made = await http.post(TOKENS, json={"role": "auditor", "label": "reviewer"}, headers=admin)
    assert made.status_code == 201 and made.json()["role"] == "auditor"
    token, token_id = made.json()["token"], made.json()["id"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await http.get("/api/v1/figures?window=2026-10", headers=bearer)).status_code == 200
    listed = (await http.get(TOKENS, headers=admin)).json()
    assert token_id in [t["id"] for t in listed] and all(
        "token" not in t and "sha256" not in t for t in listed
    )
    assert {t["id"] for t in listed} == {
        world.token_ids["alpha", r] for r in ("admin", "operator", "auditor")
    } | {token_id}  # alpha's own: none of beta's
    revoked = await http.post(f"{TOKENS}/{token_id}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert (await http.get("/api/v1/figures?window=2026-10", headers=bearer)).status_code == 401
    assert (await http.post(f"{TOKENS}/{token_id}/revoke", headers=admin)).status_code == 409
    with psycopg.connect(world.dsn) as conn:
        details = [
            r[0] for r in conn.execute("SELECT detail FROM audit_log WHERE path LIKE '/api/v1/tokens%'")
        ]
    assert any("created, role auditor" in d for d in details) and any(d.endswith("revoked") for d in details)
    assert not any(token in d for d in details)


async def test_only_an_admin_manages_tokens_and_only_its_own(http: httpx.AsyncClient, world: World) -> None:
    for role in ("operator", "auditor"):
        assert (await http.get(TOKENS, headers=world.auth("alpha", role))).status_code == 403
        made = await http.post(TOKENS, json={"role": "admin"}, headers=world.auth("alpha", role))
        assert made.status_code == 403
    beta_admin = world.token_ids["beta", "admin"]
    other = await http.post(f"{TOKENS}/{beta_admin}/revoke", headers=world.auth("alpha", "admin"))
    assert other.status_code == 404  # another tenant's token is one that does not exist
    bad = await http.post(TOKENS, json={"role": "root"}, headers=world.auth("alpha", "admin"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "role"]


async def test_a_moved_site_s_devices_follow_it(http: httpx.AsyncClient, world: World) -> None:
    assert move_site(world.dsn, "site-b", "alpha") == "beta"
    devices = (await http.get("/api/v1/devices", headers=world.auth("alpha", "operator"))).json()
    assert {d["device"] for d in devices} == {"press-a", "robot-a", "pump-b"}
    assert (await http.get("/api/v1/devices", headers=world.auth("beta", "operator"))).json() == []
    with pytest.raises(ApiError, match="belongs to tenant 'alpha' already"):
        move_site(world.dsn, "site-b", "alpha")
    with pytest.raises(ApiError, match="no tenant 'gamma'"):
        move_site(world.dsn, "site-b", "gamma")
    with psycopg.connect(world.dsn) as conn:
        rows = conn.execute(
            "SELECT n.name FROM audit_log a JOIN tenants n ON n.id = a.tenant"
            " WHERE a.path = 'plantproof api site move'"
        ).fetchall()
    assert sorted(r[0] for r in rows) == ["alpha", "beta"]  # both tenants' logs say so
