"""Sparkplug B messages into the registry, the ledger and readings, inside the batch's transaction.

Each interpreted message (`collector.sparkplug`) is entered in `sparkplug_messages` under its
ledger identity with ON CONFLICT DO NOTHING; only the ones that come back are applied, so a
redelivered message changes nothing and stores nothing twice. A message the host could not
interpret whose identity the ledger already holds is a redelivery too (the session was lost with a
restart), not a dead letter. Births and deaths go through the registry exactly as v1 births and
deaths; DATA becomes rows checked against the device's latest birth, in an envelope of its own.
The host's sessions as they are after the batch are saved in the same transaction
(`collector.sparkplug_state`), so a restarted collector resumes them exactly where the stored
messages end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

import wire
from collector import sparkplug_state
from collector.decode import DeadLetter, Limits, RejectedError, Rows, dead_letter, to_rows
from collector.points import DevicePoints
from collector.registry import Registry
from collector.sparkplug import Identity, Interpreted, Outcome

SOURCE = "sparkplug"


@dataclass(slots=True)
class Written:
    rows: list[tuple[int, Rows]] = field(default_factory=list)  # (envelope id, rows) to copy
    envelopes_new: int = 0
    duplicates: int = 0
    samples: dict[tuple[str, str], int] = field(default_factory=dict)  # (site, gw) → new samples
    sent: list[int] = field(default_factory=list)
    seen: list[tuple[str, str, str, int, int]] = field(default_factory=list)  # for Registry.touch


def write(
    conn: psycopg.Connection, registry: Registry, outcome: Outcome, window: tuple[int, int],
    limits: Limits, dead: list[DeadLetter],
) -> Written:  # fmt: skip
    out = Written()
    sparkplug_state.save(conn, outcome.saved, outcome.forgotten)
    probes = [r.probe for r in outcome.refused if r.probe is not None]
    held = _held(conn, probes)
    for r in outcome.refused:
        if r.probe is not None and r.probe in held:
            out.duplicates += 1
        else:
            dead.append(r.letter)
    new = _enter(conn, outcome.interpreted)
    out.duplicates += len(outcome.interpreted) - len(new)
    born: dict[tuple[str, str], int] = {}  # bdSeq of an NBIRTH in this batch, per edge node
    envelopes: list[tuple[Interpreted, int, wire.Birth | wire.Data | wire.Death, Rows | None]] = []
    for item in outcome.interpreted:
        ledger_id = new.get(item.identity)
        if ledger_id is None:
            continue
        ident, env = item.identity, item.envelope
        node = (ident.group, ident.edge_node)
        try:
            if item.online is False:  # NDEATH: only the Will of the session the ledger knows
                bdseq = born.get(node)
                if bdseq is None:
                    bdseq = _last_bdseq(conn, *node)
                if bdseq is None or bdseq == ident.bdseq:
                    registry.status(conn, item.site, item.gw, wire.STATUS_OFFLINE)
                continue
            if item.online is True:
                born[node] = ident.bdseq
                registry.status(conn, item.site, item.gw, wire.STATUS_ONLINE)
            if env is None:
                continue
            _check_sent(env, window)
            rows = None
            if isinstance(env, wire.Birth):
                registry.birth(conn, item.site, env)
                if item.values is not None:  # the birth stands even if its values are refused
                    try:
                        rows = _rows(conn, registry, item.site, item.values, window)
                    except RejectedError as exc:
                        dead.append(
                            dead_letter(
                                item.topic, item.payload, f"sparkplug: BIRTH values refused: {exc}", limits
                            )
                        )
            elif isinstance(env, wire.Death):
                registry.death(conn, item.site, env)
            else:
                rows = _rows(conn, registry, item.site, env, window)
        except RejectedError as exc:
            dead.append(dead_letter(item.topic, item.payload, str(exc), limits))
            continue
        envelopes.append((item, ledger_id, env, rows))
    ids = _envelopes(conn, envelopes)
    out.envelopes_new = len(ids)
    for (item, _, env, rows), envelope_id in zip(envelopes, ids, strict=True):
        data = env if isinstance(env, wire.Data) else item.values
        if rows is None or data is None:
            continue
        out.rows.append((envelope_id, rows))
        key = (item.site, item.gw)
        out.samples[key] = out.samples.get(key, 0) + len(data.samples)
        if isinstance(env, wire.Data):
            out.sent.append(env.sent)
        out.seen.append((item.site, data.dev, item.gw, rows.min_ts, rows.max_ts))
    return out


def _held(
    conn: psycopg.Connection, probes: list[tuple[str, str, int, int, str]]
) -> set[tuple[str, str, int, int, str]]:
    if not probes:
        return set()
    found = conn.execute(
        "SELECT m.group_id, m.edge_node, m.seq, m.timestamp_ms, m.sha256 FROM sparkplug_messages m"
        " JOIN unnest(%s::text[], %s::text[], %s::int4[], %s::int8[], %s::text[]) AS u(g, e, s, t, h)"
        " ON m.group_id = u.g AND m.edge_node = u.e AND m.seq = u.s AND m.timestamp_ms = u.t"
        " AND m.sha256 = u.h",
        tuple(map(list, zip(*probes, strict=True))),
    ).fetchall()
    return {(str(g), str(e), int(s), int(t), str(h)) for g, e, s, t, h in found}


def _enter(conn: psycopg.Connection, items: list[Interpreted]) -> dict[Identity, int]:
    """Ledger ids of the messages entered now (absent: already held, or twice in this batch)."""
    if not items:
        return {}
    unique = list(dict.fromkeys(i.identity for i in items))
    cols = (
        [u.group for u in unique], [u.edge_node for u in unique], [u.bdseq for u in unique],
        [u.seq for u in unique], [u.timestamp for u in unique], [u.sha256 for u in unique],
        [u.message_type for u in unique], [u.device for u in unique],
    )  # fmt: skip
    rows = conn.execute(
        "INSERT INTO sparkplug_messages"
        " (group_id, edge_node, bdseq, seq, timestamp_ms, sha256, message_type, device)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::int8[], %s::int4[], %s::int8[], %s::text[],"
        " %s::text[], %s::text[]) ON CONFLICT DO NOTHING"
        " RETURNING group_id, edge_node, bdseq, seq, timestamp_ms, sha256, id",
        cols,
    ).fetchall()
    by_key = {(str(g), str(e), int(b), int(s), int(t), str(h)): int(i) for g, e, b, s, t, h, i in rows}
    out: dict[Identity, int] = {}
    for u in unique:
        found = by_key.get((u.group, u.edge_node, u.bdseq, u.seq, u.timestamp, u.sha256))
        if found is not None:
            out[u] = found
    return out


def _last_bdseq(conn: psycopg.Connection, group: str, edge_node: str) -> int | None:
    row = conn.execute(
        "SELECT bdseq FROM sparkplug_messages WHERE group_id = %s AND edge_node = %s"
        " AND message_type = 'NBIRTH' ORDER BY id DESC LIMIT 1",
        (group, edge_node),
    ).fetchone()
    return None if row is None else int(row[0])


def _envelopes(
    conn: psycopg.Connection,
    items: list[tuple[Interpreted, int, wire.Birth | wire.Data | wire.Death, Rows | None]],
) -> list[int]:
    """One envelope per applied message, named (gateway, ledger id): the readings' provenance."""
    if not items:
        return []
    kinds = ["data" if isinstance(e, wire.Data) else "birth" if isinstance(e, wire.Birth) else "death"
             for _, _, e, _ in items]  # fmt: skip
    sizes = [len(e.samples) if isinstance(e, wire.Data) else len(e.points) if isinstance(e, wire.Birth)
             else 0 for _, _, e, _ in items]  # fmt: skip
    rows = conn.execute(
        "INSERT INTO envelopes (gw, seq, kind, site, dev, sent_at, n, sha256, source)"
        " SELECT g, s, k, si, d, to_timestamp(t::float8 / 1e9), n, h, %s FROM unnest("
        "%s::text[], %s::int8[], %s::text[], %s::text[], %s::text[], %s::int8[], %s::int4[], %s::text[])"
        " AS u(g, s, k, si, d, t, n, h) RETURNING gw, seq, envelope_id",
        (
            SOURCE,
            [i.gw for i, _, _, _ in items],
            [lid for _, lid, _, _ in items],
            kinds,
            [i.site for i, _, _, _ in items],
            [e.dev for _, _, e, _ in items],
            [e.sent for _, _, e, _ in items],
            sizes,
            [i.identity.sha256 for i, _, _, _ in items],
        ),
    ).fetchall()
    ids = {(str(g), int(s)): int(e) for g, s, e in rows}
    return [ids[(i.gw, lid)] for i, lid, _, _ in items]


def _rows(
    conn: psycopg.Connection, registry: Registry, site: str, env: wire.Data, window: tuple[int, int]
) -> Rows:
    def rows_for(device: DevicePoints) -> Rows:
        if device.owner and device.owner != env.gw:
            raise RejectedError(f"device {env.dev!r} at site {site!r} is owned by {device.owner}")
        return to_rows(env, device, window)

    return registry.resolve(conn, site, env.dev, rows_for)


def _check_sent(env: wire.Birth | wire.Data | wire.Death, window: tuple[int, int]) -> None:
    lo, hi = window
    if not lo <= env.sent <= hi:
        raise RejectedError(f"$.sent: {env.sent} ns is outside the window [{lo}, {hi}]")
