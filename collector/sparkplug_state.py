"""Sparkplug host sessions in PostgreSQL (`sparkplug_sessions`): saved inside the batch's transaction,
loaded when the collector starts (`collector.sparkplug_sessions` says what they hold)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from collector.sparkplug_sessions import BadSavedSession, Key, Restored, Saved, decode_tables, encode_tables

log = logging.getLogger(__name__)


def save(conn: psycopg.Connection, saved: Sequence[Saved], forgotten: Sequence[Key]) -> None:
    born = [s for s in saved if s.alive and s.tables is not None]
    if born:  # a BIRTH or a device's death in the batch: the session's tables as they now are
        _upsert(conn, born, ", tables = EXCLUDED.tables",
                [Jsonb(encode_tables(s.tables)) for s in born if s.tables is not None])  # fmt: skip
    going = [s for s in saved if s.alive and s.tables is None]
    if going:  # DATA only: its last seq
        _upsert(conn, going, "", [Jsonb({}) for _ in going])
    dead = [s for s in saved if not s.alive]
    if dead:
        conn.execute(
            "UPDATE sparkplug_sessions s SET alive = false, tables = '{}', updated_at = now()"
            " FROM unnest(%s::text[], %s::text[], %s::int8[], %s::bool[]) AS u(g, e, b, checked)"
            " WHERE s.group_id = u.g AND s.edge_node = u.e AND (NOT u.checked OR s.bdseq = u.b)",
            ([s.group for s in dead], [s.edge_node for s in dead], [s.bdseq for s in dead],
             [s.if_bdseq for s in dead]),
        )  # fmt: skip
    if forgotten:
        conn.execute(
            "DELETE FROM sparkplug_sessions s USING unnest(%s::text[], %s::text[]) AS u(g, e)"
            " WHERE s.group_id = u.g AND s.edge_node = u.e AND NOT s.alive",
            ([g for g, _ in forgotten], [e for _, e in forgotten]),
        )


def _upsert(conn: psycopg.Connection, live: list[Saved], tables: str, values: list[Jsonb]) -> None:
    conn.execute(
        "INSERT INTO sparkplug_sessions (group_id, edge_node, bdseq, seq, alive, tables)"
        " SELECT g, e, b, s, true, t FROM unnest("
        "%s::text[], %s::text[], %s::int8[], %s::int4[], %s::jsonb[]) AS u(g, e, b, s, t)"
        " ON CONFLICT (group_id, edge_node) DO UPDATE SET bdseq = EXCLUDED.bdseq,"
        f" seq = EXCLUDED.seq, alive = true, updated_at = now(){tables}",
        ([s.group for s in live], [s.edge_node for s in live], [s.bdseq for s in live],
         [s.seq for s in live], values),
    )  # fmt: skip


def load(conn: psycopg.Connection, limit: int, window: int) -> tuple[list[Restored], list[Key]]:
    """Live sessions (at most `limit`, the latest first), each with its messages among the last
    `window` stored, and the ended ones, the longest dead first."""
    rows = conn.execute(
        "SELECT group_id, edge_node, bdseq, seq, alive, tables FROM sparkplug_sessions"
        " ORDER BY alive DESC, CASE WHEN alive THEN updated_at END DESC, updated_at, group_id, edge_node"
    ).fetchall()
    last: dict[tuple[str, str, int], set[tuple[int, str]]] = {}
    for group, edge_node, bdseq, seq, digest in conn.execute(
        "SELECT group_id, edge_node, bdseq, seq, sha256 FROM sparkplug_messages ORDER BY id DESC LIMIT %s",
        (window,),
    ).fetchall():
        if seq >= 0:
            last.setdefault((str(group), str(edge_node), int(bdseq)), set()).add((int(seq), str(digest)))
    live: list[Restored] = []
    dead: list[Key] = []
    for group, edge_node, bdseq, seq, alive, tables in rows:
        key = (str(group), str(edge_node))
        if not alive:
            dead.append(key)
            continue
        if len(live) >= limit:
            continue
        where = f"sparkplug_sessions({group}/{edge_node}).tables"
        try:
            held = decode_tables(tables, where)
        except BadSavedSession as exc:  # its DATA will ask for a rebirth, as without a saved session
            log.error("Sparkplug session not restored: %s", exc)
            continue
        stored = frozenset(last.get((*key, int(bdseq)), ()))
        live.append(Restored(*key, int(bdseq), int(seq), held, stored, _birth(conn, *key, int(bdseq))))
    conn.commit()
    return live, dead


def _birth(conn: psycopg.Connection, group: str, edge_node: str, bdseq: int) -> str | None:
    """The SHA-256 of the session's NBIRTH: redelivered, it restarts nothing."""
    row = conn.execute(
        "SELECT sha256 FROM sparkplug_messages WHERE group_id = %s AND edge_node = %s"
        " AND message_type = 'NBIRTH' AND bdseq = %s ORDER BY id DESC LIMIT 1",
        (group, edge_node, bdseq),
    ).fetchone()
    return None if row is None else str(row[0])
