"""A tenant's admin manages the tenant's tokens: list (never a token's text), create, revoke.

Tokens are made exactly as `plantproof api token create` makes them (api.store: random, stored as
their SHA-256, the text shown once); a token of another tenant is 404, like one that does not exist.
Every creation and revocation is in the audit log with the admin's token.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field

from api.auth import Principal, require
from api.deps import Svc, record, refusals
from api.store import token_hash

router = APIRouter(prefix="/api/v1", tags=["tokens"])
Admin = Annotated[Principal, Depends(require("admin"))]
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class TokenRequest(BaseModel, extra="forbid"):
    role: Literal["admin", "operator", "auditor"]
    label: str = Field(default="", max_length=200)


class TokenInfo(BaseModel):
    id: int
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class NewToken(TokenInfo):
    token: str  # shown in this answer only; the service keeps its SHA-256


@router.get("/tokens", response_model=list[TokenInfo])
async def list_tokens(who: Admin, service: Svc) -> list[TokenInfo]:
    """The tenant's tokens, oldest first: what each is, never its text."""
    rows = await service.rows(
        "SELECT id, role, label, created_at, revoked_at FROM api_tokens WHERE tenant = %(t)s ORDER BY id",
        {"t": who.tenant_id},
    )
    return [TokenInfo(**r) for r in rows]


@router.post("/tokens", status_code=201, response_model=NewToken)
async def create_token(who: Admin, service: Svc, request: Request, body: TokenRequest) -> NewToken:
    """A new token of the tenant; its text is in this answer and nowhere else."""
    token = secrets.token_urlsafe(32)
    rows = await service.rows(
        "INSERT INTO api_tokens (tenant, role, sha256, label) VALUES (%(t)s, %(role)s, %(sha)s, %(label)s)"
        " RETURNING id, role, label, created_at, revoked_at",
        {"t": who.tenant_id, "role": body.role, "sha": token_hash(token), "label": body.label},
    )
    made = NewToken(**rows[0], token=token)
    what = f"token {made.id} created, role {made.role}, label {made.label!r}"
    await record(service, request, who, 201, what)
    return made


@router.post("/tokens/{token_id}/revoke", response_model=TokenInfo)
async def revoke_token(who: Admin, service: Svc, request: Request, token_id: TokenId) -> TokenInfo:
    """Revoke one of the tenant's tokens (refused from its next request on); 409 if revoked already."""
    params = {"id": token_id, "t": who.tenant_id}
    async with refusals(service, request, who, f"token {token_id} revocation"):
        rows = await service.rows(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = %(id)s AND tenant = %(t)s"
            " AND revoked_at IS NULL RETURNING id, role, label, created_at, revoked_at",
            params,
        )
        if not rows:
            sql = "SELECT 1 FROM api_tokens WHERE id = %(id)s AND tenant = %(t)s"
            if await service.rows(sql, params):
                raise HTTPException(409, "revoked already")
            raise HTTPException(404, f"no token {token_id}")
    await record(service, request, who, 200, f"token {token_id} revoked")
    return TokenInfo(**rows[0])
