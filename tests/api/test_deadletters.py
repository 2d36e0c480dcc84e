"""Dead letters through the API: the tenant's only, payloads cut to the bound, never for auditors."""

from __future__ import annotations

import httpx

from tests.api.world import LETTERS, World, client

LETTERS_URL = "/api/v1/dead-letters"


async def test_operators_see_their_sites_letters_truncated(world: World, http: httpx.AsyncClient) -> None:
    alpha = (await http.get(LETTERS_URL, headers=world.auth("alpha", "operator"))).json()
    topic, payload, error = LETTERS[0]
    assert [(d["topic"], d["site"], d["error"]) for d in alpha] == [(topic, "site-a", error)]
    (letter,) = alpha
    assert letter["payload_bytes"] == len(payload) and letter["truncated"]
    assert letter["payload"] == payload[:1024].decode()
    beta = (await http.get(LETTERS_URL, headers=world.auth("beta", "admin"))).json()
    assert [(d["site"], d["payload"], d["truncated"]) for d in beta] == [("site-b", "\x00\ufffd", False)]
    older = await http.get(f"{LETTERS_URL}?before_id={letter['id']}", headers=world.auth("alpha", "operator"))
    assert older.json() == []
    refused = await http.get(LETTERS_URL, headers=world.auth("alpha", "auditor"))
    assert refused.status_code == 403
    bad = await http.get(f"{LETTERS_URL}?limit=5000", headers=world.auth("alpha", "operator"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_the_payload_bound_is_the_services(world: World) -> None:
    async with client(world.settings(limits={"dead_letter_payload_bytes": 16})) as (http, _):
        (letter,) = (await http.get(LETTERS_URL, headers=world.auth("alpha", "operator"))).json()
    assert letter["payload"] == LETTERS[0][1][:16].decode() and letter["truncated"]
