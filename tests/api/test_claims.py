"""Claims through the API: created from YAML or JSON, verified by the KPI engine, read by auditors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import psycopg

from collector.kpi.claims import Claim
from collector.kpi.verify import verify_claims
from tests.api.world import World

CLAIMS = "/api/v1/claims"
YAML_DOC = """periods:
  baseline: {start: 2026-10-01, end: 2026-10-15}
  reporting: {start: 2026-10-16, end: 2026-10-31}
claims:
  - id: robot-efficiency
    title: Robot work efficiency +10 %
    kpi: work_efficiency
    scope: {site: site-a, type: robot}
    change_pct: 10
"""
JSON_DOC = {
    "claims": [{
        "id": "all-yield", "title": "Yield +2 pp", "kpi": "quality", "change_pp": 2,
        "baseline": {"start": "2026-10-01", "end": "2026-10-15"},
        "reporting": {"start": "2026-10-16", "end": "2026-10-31"},
    }]
}  # fmt: skip


SITE = ["body", "claims", 0, "scope", "site"]


def _writes(dsn: str) -> list[tuple[str, str, int, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT role, method || ' ' || path, status, detail FROM audit_log"
            " WHERE method = 'POST' ORDER BY id"
        ).fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_claims_are_created_from_yaml_and_json_scoped_to_the_tenant(
    world: World, http: httpx.AsyncClient
) -> None:
    op = world.auth("alpha", "operator")
    made = await http.post(CLAIMS, content=YAML_DOC, headers={**op, "content-type": "application/yaml"})
    assert made.status_code == 201, made.text
    assert [c["id"] for c in made.json()] == ["robot-efficiency"]
    assert made.json()[0]["scope"]["site"] == ["site-a"]
    made = await http.post(CLAIMS, json=JSON_DOC, headers=op)
    assert made.status_code == 201, made.text
    assert made.json()[0]["scope"]["site"] == ["site-a"]  # no site given: the tenant's sites
    again = await http.post(CLAIMS, json=JSON_DOC, headers=op)
    assert again.status_code == 409 and "all-yield" in again.text
    listed = (await http.get(CLAIMS, headers=world.auth("alpha", "auditor"))).json()
    assert [c["id"] for c in listed] == ["all-yield", "press-downtime", "robot-efficiency"]
    assert all(c["last_verdict"] is None for c in listed)
    assert (await http.get(CLAIMS, headers=world.auth("beta", "auditor"))).json() == []
    theirs = await http.get(f"{CLAIMS}/all-yield", headers=world.auth("beta", "admin"))
    assert theirs.status_code == 404
    # beta may use the same claim id: ids are per tenant
    beta = await http.post(CLAIMS, json=JSON_DOC, headers=world.auth("beta", "operator"))
    assert beta.status_code == 201 and beta.json()[0]["scope"]["site"] == ["site-b"]
    refused = await http.post(CLAIMS, json=JSON_DOC, headers=world.auth("alpha", "auditor"))
    assert refused.status_code == 403
    assert _writes(world.dsn) == [
        ("operator", "POST /api/v1/claims", 201, "claims created: robot-efficiency"),
        ("operator", "POST /api/v1/claims", 201, "claims created: all-yield"),
        ("operator", "POST /api/v1/claims", 409, "claims refused: claims exist already: all-yield"),
        ("operator", "POST /api/v1/claims", 201, "claims created: all-yield"),
        ("auditor", "POST /api/v1/claims", 403, "role auditor may not use this route"),
    ]


async def test_a_bad_document_is_422_naming_the_field_and_line(world: World, http: httpx.AsyncClient) -> None:
    op = world.auth("alpha", "operator")
    cases = {
        YAML_DOC.replace("kpi: work_efficiency", "kpi: speed"): (["body", "claims", 0, "kpi"], "line 7"),
        YAML_DOC.replace("site: site-a", "site: site-b"): (SITE, "no site 'site-b'"),
        YAML_DOC.replace("site: site-a", "site: nowhere"): (SITE, "no site 'nowhere'"),
        YAML_DOC.replace("  baseline:", "  base:"): (["body", "periods", "base", "[key]"], "line 2"),
        "claims: [": (["body"], "invalid YAML"),
        json.dumps({"claims": [JSON_DOC["claims"][0], JSON_DOC["claims"][0]]}): (
            ["body", "claims", 1, "id"], "duplicate id 'all-yield'",
        ),
    }  # fmt: skip
    for doc, (loc, words) in cases.items():
        res = await http.post(CLAIMS, content=doc, headers=op)
        assert res.status_code == 422, (doc, res.text)
        detail = res.json()["detail"][0]
        assert detail["loc"] == loc and words in detail["msg"], (doc, detail)
    # another tenant's site reads exactly like a site that does not exist
    b = await http.post(CLAIMS, content=YAML_DOC.replace("site-a", "site-b"), headers=op)
    n = await http.post(CLAIMS, content=YAML_DOC.replace("site-a", "site-q"), headers=op)
    assert b.json()["detail"][0]["msg"].replace("site-b", "X") == n.json()["detail"][0]["msg"].replace(
        "site-q", "X"
    )
    assert (await http.get(CLAIMS, headers=op)).json()[0]["id"] == "press-downtime"  # nothing was created
    refusals = _writes(world.dsn)
    assert [r[2] for r in refusals] == [422] * (len(cases) + 2)  # each refusal is audited, with its field
    # the audit row names the field and the line, as the answer does
    assert refusals[0][3].startswith(
        "claims refused: body.claims.0.kpi: line 7: Input should be 'availability'"
    )


async def test_an_oversized_document_is_refused_before_it_is_read(
    world: World, http: httpx.AsyncClient
) -> None:
    op = world.auth("alpha", "operator")
    big = YAML_DOC + "#" * 300_000
    res = await http.post(CLAIMS, content=big, headers=op)
    assert res.status_code == 413 and "262144" in res.text

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(1000):
            yield b"#" * 1024

    res = await http.post(CLAIMS, content=chunks(), headers=op)
    assert res.status_code == 413
    lying = await http.post(CLAIMS, content=big, headers={**op, "content-length": "10"})
    assert lying.status_code in (400, 413)
    assert [r[2:] for r in _writes(world.dsn)][:2] == [
        (413, "claims refused: body larger than 262144 bytes")
    ] * 2


async def test_verify_keeps_the_engines_result_with_interval_and_daily_series(
    world: World, http: httpx.AsyncClient
) -> None:
    res = await http.post(f"{CLAIMS}/press-downtime/verify", headers=world.auth("alpha", "operator"))
    assert res.status_code == 200, res.text
    body = res.json()
    with psycopg.connect(world.dsn) as conn:
        row = conn.execute("SELECT claim FROM api_claims WHERE claim_id = 'press-downtime'").fetchone()
    assert row is not None
    (direct,) = verify_claims(world.dsn, [Claim.model_validate(row[0])])
    expected = json.loads(json.dumps(direct.to_json()))
    assert body["result"] == expected and body["verdict"] == direct.verdict
    assert body["result"]["devices"] == ["site-a/press-a"]
    assert body["interval"] == {
        "low": expected["ci_low"], "high": expected["ci_high"], "confidence": 0.9,
        "estimate": expected["point_estimate"], "unit": "%",
    }  # fmt: skip
    assert [d for d, _ in body["daily"]["baseline"]][:2] == ["2026-10-01", "2026-10-02"]
    assert len(body["daily"]["reporting"]) == 16
    refused = await http.post(f"{CLAIMS}/press-downtime/verify", headers=world.auth("alpha", "auditor"))
    assert refused.status_code == 403
    theirs = await http.post(f"{CLAIMS}/press-downtime/verify", headers=world.auth("beta", "operator"))
    assert theirs.status_code == 404
    results = (
        await http.get(f"{CLAIMS}/press-downtime/results", headers=world.auth("alpha", "auditor"))
    ).json()
    assert [r["verdict"] for r in results["results"]] == [direct.verdict]
    assert results["results"][0]["daily"] == body["daily"] and results["last_verdict"] == direct.verdict
    assert results["results"][0]["verified_by"] == world.token_ids["alpha", "operator"]
    assert _writes(world.dsn)[0] == (
        "operator", "POST /api/v1/claims/press-downtime/verify", 200,
        f"claim press-downtime verified: {direct.verdict}",
    )  # fmt: skip
