"""The `alarms` table: raised and cleared by the evaluator, read and acknowledged through the API.

A tenant sees the alarms of its sites and the platform's own (no site); any other alarm does not
exist for it. Who acknowledged a platform alarm, and the note, are shown only to the tenant whose
token it was. One alarm per (rule, subject) is active at a time (a partial unique index).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from api.alarm_rules import Finding, Key
from api.auth import Principal

State = Literal["active", "cleared", "all"]
_COLUMNS = (
    "id, rule, subject, site, severity, message, value, raised_at, cleared_at, acked_at, acked_by, ack_note"
)
_VISIBLE = "(a.site IS NULL OR a.site = ANY(%(sites)s))"
# What one tenant reads: another tenant's acknowledgement of a platform alarm shows only its time.
_SCOPED = (
    "a.id, a.rule, a.subject, a.site, a.severity, a.message, a.value, a.raised_at, a.cleared_at,"
    " a.acked_at, CASE WHEN k.tenant = %(tenant)s THEN a.acked_by END AS acked_by,"
    " CASE WHEN k.tenant = %(tenant)s THEN a.ack_note ELSE '' END AS ack_note"
    " FROM alarms a LEFT JOIN api_tokens k ON k.id = a.acked_by"
)


class Alarm(BaseModel):
    id: int
    rule: str
    subject: str
    site: str | None
    severity: str
    message: str
    value: float | None
    raised_at: datetime
    cleared_at: datetime | None
    acked_at: datetime | None
    acked_by: int | None  # the token that acknowledged it
    ack_note: str

    def event(self, kind: Literal["raised", "cleared"]) -> dict[str, Any]:
        """What a webhook receives."""
        body = self.model_dump(mode="json")
        return {"event": kind, "alarm": body}


async def _one(pool: AsyncConnectionPool, sql: str, params: dict[str, Any]) -> Alarm | None:
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(sql, params)
        row = await cur.fetchone()
    return Alarm(**row) if row else None


async def active(pool: AsyncConnectionPool) -> dict[Key, str]:
    """The active alarms' keys and severities."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT rule, subject, severity FROM alarms WHERE cleared_at IS NULL")
        return {(str(r[0]), str(r[1])): str(r[2]) for r in await cur.fetchall()}


async def raise_alarm(pool: AsyncConnectionPool, finding: Finding, at: datetime) -> Alarm | None:
    """The new alarm; None when another evaluator raised it first."""
    return await _one(
        pool,
        "INSERT INTO alarms (rule, subject, site, severity, message, value, raised_at)"
        " VALUES (%(rule)s, %(subject)s, %(site)s, %(severity)s, %(message)s, %(value)s, %(at)s)"
        f" ON CONFLICT (rule, subject) WHERE cleared_at IS NULL DO NOTHING RETURNING {_COLUMNS}",
        {
            "rule": finding.rule,
            "subject": finding.subject,
            "site": finding.site,
            "severity": finding.severity,
            "message": finding.message,
            "value": finding.value,
            "at": at,
        },
    )


async def clear(pool: AsyncConnectionPool, key: Key, at: datetime) -> Alarm | None:
    return await _one(
        pool,
        "UPDATE alarms SET cleared_at = greatest(raised_at, %(at)s)"
        " WHERE rule = %(rule)s AND subject = %(subject)s AND cleared_at IS NULL"
        f" RETURNING {_COLUMNS}",
        {"rule": key[0], "subject": key[1], "at": at},
    )


async def forget_cleared(pool: AsyncConnectionPool, days: float) -> int:
    """Delete alarms cleared more than `days` ago; returns how many."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "DELETE FROM alarms WHERE cleared_at < now() - make_interval(secs => %s)", (days * 86400,)
        )
        return cur.rowcount


def _scope(who: Principal) -> dict[str, Any]:
    return {"sites": list(who.sites), "tenant": who.tenant_id}


async def listed(pool: AsyncConnectionPool, who: Principal, state: State, limit: int) -> list[Alarm]:
    where = {"active": "a.cleared_at IS NULL", "cleared": "a.cleared_at IS NOT NULL", "all": "true"}[state]
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(
            f"SELECT {_SCOPED} WHERE {_VISIBLE} AND {where}"
            " ORDER BY a.raised_at DESC, a.id DESC LIMIT %(limit)s",
            {**_scope(who), "limit": limit},
        )
        return [Alarm(**r) for r in await cur.fetchall()]


async def count_active(pool: AsyncConnectionPool, who: Principal) -> int:
    """How many alarms the tenant sees raised and not cleared (the list, without fetching it)."""
    async with pool.connection() as conn:
        sql = f"SELECT count(*) FROM (SELECT {_SCOPED} WHERE {_VISIBLE} AND a.cleared_at IS NULL) s"
        cur = await conn.execute(sql, _scope(who))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def one(pool: AsyncConnectionPool, who: Principal, alarm_id: int) -> Alarm | None:
    sql = f"SELECT {_SCOPED} WHERE a.id = %(id)s AND {_VISIBLE}"
    return await _one(pool, sql, {**_scope(who), "id": alarm_id})


async def acknowledge(pool: AsyncConnectionPool, who: Principal, alarm_id: int, note: str) -> Alarm | None:
    """The alarm, acknowledged now; None when it is not the tenant's or was acknowledged already."""
    return await _one(
        pool,
        "UPDATE alarms a SET acked_at = now(), acked_by = %(token)s, ack_note = %(note)s"
        f" WHERE a.id = %(id)s AND a.acked_at IS NULL AND {_VISIBLE} RETURNING {_COLUMNS}",
        {**_scope(who), "id": alarm_id, "token": who.token_id, "note": note},
    )
