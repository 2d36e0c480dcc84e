"""Bearer tokens, roles, the audit log and the limit on failed authentications.

A request's token is looked up by its SHA-256 (`api.store.token_hash`); an unknown or revoked
token is 401, a valid one without the route's role 403, and both are written to `audit_log`
(with the token's id when there is one, never its text). A client address that fails `limit`
times within `window_s` gets 429 until the window passes, before its token is even looked at.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from api.store import Role, token_hash

log = logging.getLogger("plantproof.api")
bearer = HTTPBearer(auto_error=False, description="a token from `plantproof api token create`")


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: int
    tenant_id: int
    tenant: str
    role: Role
    sites: tuple[str, ...]  # the sites the tenant owns: every query is scoped to these


class FailureLimiter:
    """Failed authentications per client address in fixed windows, for at most `clients` addresses."""

    def __init__(self, limit: int, window_s: float, clients: int) -> None:
        self.limit, self.window_s, self.clients = limit, window_s, clients
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def _current(self, client: str, now: float) -> int:
        entry = self._seen.get(client)
        if entry is None or now - entry[0] >= self.window_s:
            return 0
        return entry[1]

    def blocked(self, client: str, now: float) -> bool:
        return self._current(client, now) >= self.limit

    def record(self, client: str, now: float) -> bool:
        """Count one failure; True when it is the one that reaches the limit."""
        entry = self._seen.pop(client, None)
        if entry is None or now - entry[0] >= self.window_s:
            entry = (now, 0)
        count = entry[1] + 1
        self._seen[client] = (entry[0], count)
        while len(self._seen) > self.clients:  # the least recently failing address goes first
            self._seen.popitem(last=False)
        return count == self.limit

    def retry_after(self, client: str, now: float) -> int:
        entry = self._seen.get(client)
        return max(1, int(entry[0] + self.window_s - now + 0.999)) if entry else 1

    def __len__(self) -> int:
        return len(self._seen)


async def audit(
    pool: AsyncConnectionPool,
    request: Request,
    status: int,
    detail: str,
    principal: Principal | None = None,
    token_id: int | None = None,
) -> None:
    """One row in audit_log; a failure to write it is logged, never turned into a success."""
    who = principal
    try:
        async with pool.connection() as conn:
            await conn.execute(
                "INSERT INTO audit_log (token_id, tenant, role, client, method, path, status, detail)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    who.token_id if who else token_id,
                    who.tenant_id if who else None,
                    who.role if who else None,
                    client_of(request),
                    request.method,
                    request.url.path,
                    status,
                    detail,
                ),
            )
    except Exception as exc:  # the refusal stands; the missing row is logged
        log.error("audit_log: could not record %s %s %d: %s", request.method, request.url.path, status, exc)


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


_LOOKUP = """
SELECT t.id, t.tenant, t.role, t.revoked_at IS NOT NULL, n.name,
       coalesce(array_agg(s.site ORDER BY s.site) FILTER (WHERE s.site IS NOT NULL), '{}')
FROM api_tokens t
JOIN tenants n ON n.id = t.tenant
LEFT JOIN tenant_sites s ON s.tenant = t.tenant
WHERE t.sha256 = %s
GROUP BY t.id, n.name
"""


class Authenticator:
    def __init__(self, pool: AsyncConnectionPool, limiter: FailureLimiter) -> None:
        self.pool, self.limiter = pool, limiter

    async def _refuse(self, request: Request, detail: str, token_id: int | None = None) -> HTTPException:
        client, now = client_of(request), time.monotonic()
        tripped = self.limiter.record(client, now)
        await audit(self.pool, request, 401, detail, token_id=token_id)
        if tripped:
            await audit(self.pool, request, 429, f"rate limited: {self.limiter.limit} failed authentications")
        return HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})

    async def principal(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> Principal:
        client, now = client_of(request), time.monotonic()
        if self.limiter.blocked(client, now):
            retry = str(self.limiter.retry_after(client, now))
            raise HTTPException(429, "too many failed authentications", headers={"Retry-After": retry})
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise await self._refuse(request, "no bearer token")
        async with self.pool.connection() as conn:
            cur = await conn.execute(_LOOKUP, (token_hash(credentials.credentials),))
            row = await cur.fetchone()
        if row is None:
            raise await self._refuse(request, "unknown token")
        if row[3]:
            raise await self._refuse(request, "revoked token", token_id=row[0])
        return Principal(row[0], row[1], row[4], row[2], tuple(row[5]))


# The console's signed-in browser sends its token in this cookie (HttpOnly, SameSite=Strict).
SESSION_COOKIE = "pp_session"
# A browser request authenticated by the cookie that changes something must carry this header: a
# page of another site cannot set it without a CORS preflight, which this service never grants.
CONSOLE_HEADER = "X-PlantProof-Console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    token = request.cookies.get(SESSION_COOKIE)
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token) if token else None


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, 401/403/429 otherwise (refusals audited).

    The bearer header wins; without one, the console's session cookie is taken (for a change, only
    with the console's header)."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        auth: Authenticator = request.app.state.auth
        if credentials is None and (cookie := session_credentials(request)) is not None:
            if request.method not in SAFE_METHODS and CONSOLE_HEADER.lower() not in request.headers:
                await audit(auth.pool, request, 403, "cookie without the console header")
                raise HTTPException(403, f"a change from a browser session needs the {CONSOLE_HEADER} header")
            credentials = cookie
        who = await auth.principal(request, credentials)
        if who.role not in roles:
            await audit(auth.pool, request, 403, f"role {who.role} may not use this route", who)
            raise HTTPException(403, f"role {who.role} may not use this route")
        return who

    dependency.__name__ = f"require_{'_'.join(roles)}"
    return dependency
