"""Tenants, their sites and API tokens, as the operator's commands create and revoke them.

A token is `secrets.token_urlsafe(32)` (256 random bits), shown once; only its SHA-256 is stored,
so the database holds nothing that authenticates. Each of these writes is a row in `audit_log`
(method `CLI`, the command as path, status 0, the operating-system user as client), in the same
transaction as the write. Errors are one-line `ApiError`s.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

import psycopg

from collector import db
from collector.errors import CollectorError

Role = Literal["admin", "operator", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)


class ApiError(CollectorError):
    """A tenant or token operation that cannot be done; the message is one line."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    id: int
    tenant: str
    role: Role
    token: str  # the only time the text exists outside the caller's hands


def _missing_schema(exc: psycopg.Error) -> ApiError | None:
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return ApiError("the API tables are missing: run `plantproof collector migrate` first")
    return None


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in a container, no USER variable
        return ""


def _record(
    conn: psycopg.Connection,
    command: str,
    tenant: int,
    detail: str,
    token_id: int | None = None,
    role: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit_log (token_id, tenant, role, client, method, path, status, detail)"
        " VALUES (%s, %s, %s, %s, 'CLI', %s, 0, %s)",
        (token_id, tenant, role, _operator(), f"plantproof api {command}", detail),
    )


def create_tenant(dsn: str, name: str, sites: list[str]) -> int:
    """A new tenant owning `sites` (a site has one owner); returns its id."""
    if not name.strip():
        raise ApiError("tenant name is empty")
    if any(not s.strip() for s in sites):
        raise ApiError("a site name is empty")
    try:
        with db.connect(dsn, doing="creating a tenant") as conn:
            row = conn.execute(
                "INSERT INTO tenants (name) VALUES (%s) ON CONFLICT (name) DO NOTHING RETURNING id", (name,)
            ).fetchone()
            if row is None:
                raise ApiError(f"tenant {name!r} exists already")
            for site in dict.fromkeys(sites):
                owner = conn.execute(
                    "SELECT t.name FROM tenant_sites s JOIN tenants t ON t.id = s.tenant WHERE s.site = %s",
                    (site,),
                ).fetchone()
                if owner is not None:
                    raise ApiError(f"site {site!r} belongs to tenant {owner[0]!r}")
                conn.execute("INSERT INTO tenant_sites (site, tenant) VALUES (%s, %s)", (site, row[0]))
            _record(conn, "tenant create", row[0], f"tenant {name} owns {', '.join(dict.fromkeys(sites))}")
            return int(row[0])
    except psycopg.Error as exc:
        raise _missing_schema(exc) or db.translate(exc, "creating a tenant") from None


def move_site(dsn: str, site: str, tenant: str) -> str | None:
    """Give `site` to `tenant` (the platform operator's act: a tenant cannot take another's site);
    returns the previous owner, None when the site had none. Both tenants' audit logs say so."""
    if not site.strip():
        raise ApiError("a site name is empty")
    try:
        with db.connect(dsn, doing="moving a site") as conn:
            target = conn.execute("SELECT id FROM tenants WHERE name = %s", (tenant,)).fetchone()
            if target is None:
                raise ApiError(f"no tenant {tenant!r} (create it with `plantproof api tenant create`)")
            before = conn.execute(
                "SELECT t.id, t.name FROM tenant_sites s JOIN tenants t ON t.id = s.tenant WHERE s.site = %s"
                " FOR UPDATE OF s",
                (site,),
            ).fetchone()
            if before is not None and before[0] == target[0]:
                raise ApiError(f"site {site!r} belongs to tenant {tenant!r} already")
            conn.execute(
                "INSERT INTO tenant_sites (site, tenant) VALUES (%s, %s)"
                " ON CONFLICT (site) DO UPDATE SET tenant = excluded.tenant",
                (site, target[0]),
            )
            detail = f"site {site} moved from tenant {before[1] if before else '(none)'} to tenant {tenant}"
            for owner in {target[0], *([before[0]] if before else [])}:
                _record(conn, "site move", owner, detail)
            return str(before[1]) if before else None
    except psycopg.Error as exc:
        raise _missing_schema(exc) or db.translate(exc, "moving a site") from None


def create_token(dsn: str, tenant: str, role: str, label: str = "") -> NewToken:
    if role not in ROLES:
        raise ApiError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    try:
        with db.connect(dsn, doing="creating a token") as conn:
            found = conn.execute("SELECT id FROM tenants WHERE name = %s", (tenant,)).fetchone()
            if found is None:
                raise ApiError(f"no tenant {tenant!r} (create it with `plantproof api tenant create`)")
            row = conn.execute(
                "INSERT INTO api_tokens (tenant, role, sha256, label) VALUES (%s, %s, %s, %s) RETURNING id",
                (found[0], role, token_hash(token), label),
            ).fetchone()
            assert row is not None
            _record(conn, "token create", found[0], f"label {label!r}", row[0], role)
            return NewToken(int(row[0]), tenant, role, token)
    except psycopg.Error as exc:
        raise _missing_schema(exc) or db.translate(exc, "creating a token") from None


def revoke_token(dsn: str, token_id: int) -> bool:
    """Revoke token `token_id`; False when it was revoked already. ApiError when there is none."""
    try:
        with db.connect(dsn, doing="revoking a token") as conn:
            row = conn.execute(
                "SELECT revoked_at, tenant, role FROM api_tokens WHERE id = %s FOR UPDATE", (token_id,)
            ).fetchone()
            if row is None:
                raise ApiError(f"no token with id {token_id}")
            if row[0] is not None:
                return False
            conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (token_id,))
            _record(conn, "token revoke", row[1], "revoked", token_id, row[2])
            return True
    except psycopg.Error as exc:
        raise _missing_schema(exc) or db.translate(exc, "revoking a token") from None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    tenant: str
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def list_tokens(dsn: str, tenant: str | None = None) -> list[TokenInfo]:
    """Every token (of `tenant`, when given), oldest first: what it is, never its text."""
    try:
        with db.connect(dsn, doing="listing tokens") as conn:
            rows = conn.execute(
                "SELECT k.id, t.name, k.role, k.label, k.created_at, k.revoked_at"
                " FROM api_tokens k JOIN tenants t ON t.id = k.tenant"
                " WHERE %(tenant)s::text IS NULL OR t.name = %(tenant)s ORDER BY k.id",
                {"tenant": tenant},
            ).fetchall()
    except psycopg.Error as exc:
        raise _missing_schema(exc) or db.translate(exc, "listing tokens") from None
    return [TokenInfo(*r) for r in rows]
