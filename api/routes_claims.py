"""Claims of a tenant: created from a YAML or JSON claims document, verified by the KPI engine.

A document is read by the collector's claims parser (collector.kpi.claimfile), so its errors are
the CLI's: a 422 whose `loc` is the field and whose message has the line. Each claim's scope is
narrowed to the tenant's sites; naming another site is a 422 like naming no site at all. A
verification stores the engine's full result (interval, coverage, daily series) with who asked.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from psycopg.types.json import Jsonb

from api.auth import Principal
from api.deps import Operating, Reading, Svc, invalid, read_body, record, refusals
from collector.kpi.claimfile import parse_claims
from collector.kpi.claims import Claim
from infra.yamlconfig import ConfigFileError, parse_yaml

router = APIRouter(prefix="/api/v1", tags=["claims"])
ClaimId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
BODY = "request body"

_LIST = """
SELECT c.claim_id, c.claim, c.created_at, c.created_by, r.verified_at, r.verdict
FROM api_claims c
LEFT JOIN LATERAL (
    SELECT verified_at, verdict FROM api_claim_results WHERE claim = c.id ORDER BY verified_at DESC LIMIT 1
) r ON true
WHERE c.tenant = %(tenant)s AND (%(claim)s::text IS NULL OR c.claim_id = %(claim)s)
ORDER BY c.claim_id
"""
_RESULTS = """
SELECT r.verified_at, r.verified_by, r.verdict, r.result FROM api_claim_results r
JOIN api_claims c ON c.id = r.claim
WHERE c.tenant = %(tenant)s AND c.claim_id = %(claim)s
ORDER BY r.verified_at DESC, r.id DESC LIMIT %(limit)s
"""


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    claim = row["claim"]
    return {
        "id": row["claim_id"], "title": claim["title"], "kpi": claim["kpi"], "scope": claim["scope"],
        "baseline": claim["baseline"], "reporting": claim["reporting"],
        "created_at": row["created_at"], "created_by": row["created_by"],
        "last_verified_at": row["verified_at"], "last_verdict": row["verdict"],
    }  # fmt: skip


def parse_document(text: bytes, sites: tuple[str, ...]) -> list[Claim]:
    """The claims of a request body; 422 naming the field (and the line) otherwise."""
    try:
        return parse_claims(parse_yaml(text.decode("utf-8"), BODY), sites=sites)
    except UnicodeDecodeError as exc:
        raise invalid("body", (), f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except ConfigFileError as exc:
        loc = tuple(int(p) if p.isdigit() else p for p in (exc.field or "").split(".") if p)
        where = f"line {exc.line}: " if exc.line else ""
        raise invalid("body", loc, f"{where}{exc.message}") from None


# The body is read as bytes (bounded) and parsed by the claims parser, so the schema is stated here.
CLAIMS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object", "required": ["claims"]}},
        },
    }
}


@router.post("/claims", status_code=201, openapi_extra=CLAIMS_BODY)
async def create_claims(who: Operating, service: Svc, request: Request) -> list[dict[str, Any]]:
    """Create the claims of a YAML or JSON claims document (the `configs/claims/*.yaml` format)."""
    async with refusals(service, request, who, "claims"):
        body = await read_body(request, service.settings.limits.max_claims_bytes)
        claims = parse_document(body, who.sites)
        async with service.pool.connection() as conn, conn.transaction():
            taken = await (
                await conn.execute(
                    "SELECT claim_id FROM api_claims WHERE tenant = %s AND claim_id = ANY(%s)",
                    (who.tenant_id, [c.id for c in claims]),
                )
            ).fetchall()
            if taken:
                raise HTTPException(409, f"claims exist already: {', '.join(r[0] for r in taken)}")
            for c in claims:
                await conn.execute(
                    "INSERT INTO api_claims (tenant, claim_id, claim, created_by) VALUES (%s, %s, %s, %s)",
                    (who.tenant_id, c.id, Jsonb(c.model_dump(mode="json")), who.token_id),
                )
    await record(service, request, who, 201, f"claims created: {', '.join(c.id for c in claims)}")
    rows = await service.rows(_LIST, {"tenant": who.tenant_id, "claim": None})
    made = {c.id for c in claims}
    return [_summary(r) for r in rows if r["claim_id"] in made]


@router.get("/claims")
async def list_claims(who: Reading, service: Svc) -> list[dict[str, Any]]:
    """The tenant's claims with their last verdict."""
    return [_summary(r) for r in await service.rows(_LIST, {"tenant": who.tenant_id, "claim": None})]


async def _claim(service: Svc, who: Principal, claim_id: str) -> dict[str, Any]:
    rows = await service.rows(_LIST, {"tenant": who.tenant_id, "claim": claim_id})
    if not rows:
        raise HTTPException(404, f"no claim {claim_id!r}")
    return rows[0]


@router.get("/claims/{claim_id}")
async def get_claim(who: Reading, service: Svc, claim_id: ClaimId) -> dict[str, Any]:
    """One claim as stored (periods filled, scope narrowed to the tenant's sites)."""
    row = await _claim(service, who, claim_id)
    return {**_summary(row), "claim": row["claim"]}


@router.post("/claims/{claim_id}/verify")
async def verify_claim(who: Operating, service: Svc, request: Request, claim_id: ClaimId) -> dict[str, Any]:
    """Verify the claim against the plant data now (the KPI engine); the result is kept."""
    from collector.kpi.verify import verify_claims

    async with refusals(service, request, who, f"claim {claim_id} verification"):
        row = await _claim(service, who, claim_id)
    claim = Claim.model_validate(row["claim"])
    async with service.figures_slots:
        (result,) = await asyncio.to_thread(verify_claims, service.settings.dsn, [claim])
    body = result.to_json()
    async with service.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO api_claim_results (claim, verified_by, verdict, result)"
            " SELECT id, %s, %s, %s FROM api_claims WHERE tenant = %s AND claim_id = %s"
            " RETURNING verified_at",
            (who.token_id, result.verdict, Jsonb(body), who.tenant_id, claim_id),
        )
        stored = await cur.fetchone()
    assert stored is not None
    await record(service, request, who, 200, f"claim {claim_id} verified: {result.verdict}")
    return {"verified_at": stored[0], "verified_by": who.token_id, **_result(body)}


def _result(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "verdict": body["verdict"],
        "interval": {"low": body["ci_low"], "high": body["ci_high"], "confidence": body["confidence"],
                     "estimate": body["point_estimate"], "unit": body["unit"]},
        "daily": body["series"],
        "result": body,
    }  # fmt: skip


@router.get("/claims/{claim_id}/results")
async def claim_results(
    who: Reading, service: Svc, claim_id: ClaimId, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> dict[str, Any]:
    """The claim's verifications, newest first: verdict, interval and the daily series of both periods."""
    row = await _claim(service, who, claim_id)
    rows = await service.rows(_RESULTS, {"tenant": who.tenant_id, "claim": claim_id, "limit": limit})
    results = [{"verified_at": r["verified_at"], "verified_by": r["verified_by"], **_result(r["result"])}
               for r in rows]  # fmt: skip
    return {**_summary(row), "results": results}
