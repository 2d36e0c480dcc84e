"""The provenance ledger: `(gw, seq)` names one envelope forever.

A second envelope under a known `(gw, seq)` is a redelivery when its digest matches (counted, skipped)
and a seq reuse when it does not: that one goes to dead letters with its topic and payload, and
changes nothing — within one batch as across batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

import wire
from collector.decode import DeadLetter, Limits, Parsed, dead_letter

Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Entry:
    """A gateway envelope of this batch with its ledger digest."""

    parsed: Parsed
    env: wire.Data | wire.Birth | wire.Death
    digest: str

    @property
    def key(self) -> Key:
        return (self.env.gw, self.env.seq)

    def refused(self, why: str, limits: Limits) -> DeadLetter:
        """A dead letter for this envelope that keeps its topic, payload and (gw, seq)."""
        payload = self.parsed.payload or wire.encode(self.env)
        return dead_letter(str(self.parsed.topic), payload, why, limits, ident=self.key)


@dataclass(slots=True)
class Sorted:
    """The gateway envelopes of a batch, first of each (gw, seq) only."""

    entries: dict[Key, Entry]
    duplicates: int  # the same envelope more than once in the batch
    reused: list[DeadLetter]  # another envelope under a (gw, seq) already in the batch


def sort_batch(parsed: Sequence[Parsed], limits: Limits) -> Sorted:
    entries: dict[Key, Entry] = {}
    duplicates = 0
    reused: list[DeadLetter] = []
    for p in parsed:
        env = p.envelope
        if not isinstance(env, wire.Data | wire.Birth | wire.Death):
            continue
        entry = Entry(p, env, wire.digest(env))
        first = entries.get(entry.key)
        if first is None:
            entries[entry.key] = entry
        elif first.digest == entry.digest:
            duplicates += 1
        else:
            why = (
                f"seq reuse within one batch: ({env.gw}, {env.seq}) came with digests"
                f" {first.digest} and {entry.digest}"
            )
            reused.append(entry.refused(why, limits))
    return Sorted(entries, duplicates, reused)


def stored_digests(conn: psycopg.Connection, keys: Sequence[Key]) -> dict[Key, str]:
    """Digests already in the ledger for these keys."""
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT e.gw, e.seq, e.sha256 FROM envelopes e JOIN unnest(%s::text[], %s::int8[]) AS u(g, s)"
        " ON e.gw = u.g AND e.seq = u.s",
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()
    return {(r[0], int(r[1])): str(r[2]) for r in rows}


def reuse_letter(entry: Entry, stored: str, limits: Limits) -> DeadLetter:
    env = entry.env
    why = f"seq reuse: ({env.gw}, {env.seq}) is already stored with digest {stored}, this one has"
    why += f" {entry.digest}"
    return entry.refused(why, limits)


def _size(env: wire.Data | wire.Birth | wire.Death) -> int:
    if isinstance(env, wire.Data):
        return len(env.samples)
    return len(env.points) if isinstance(env, wire.Birth) else 0


def insert(
    conn: psycopg.Connection, entries: dict[Key, Entry], source: str, limits: Limits
) -> tuple[dict[Key, int], list[DeadLetter]]:
    """Enter the envelopes; returns the envelope ids of the new ones and the seq-reuse dead letters.

    ON CONFLICT DO NOTHING makes a redelivery (or a race with another collector) store nothing twice.
    """
    if not entries:
        return {}, []
    keys = sorted(entries)  # one order for every process: no deadlocks between collectors
    batch = [entries[k] for k in keys]
    kinds = [
        "data" if isinstance(e.env, wire.Data) else "birth" if isinstance(e.env, wire.Birth) else "death"
        for e in batch
    ]
    cur = conn.execute(
        "INSERT INTO envelopes (gw, seq, kind, site, dev, sent_at, n, sha256, source)"
        " SELECT g, s, k, si, d, to_timestamp(t::float8 / 1e9), n, h, %s FROM unnest("
        "%s::text[], %s::int8[], %s::text[], %s::text[], %s::text[], %s::int8[], %s::int4[], %s::text[])"
        " AS u(g, s, k, si, d, t, n, h) ON CONFLICT (gw, seq) DO NOTHING RETURNING gw, seq, envelope_id",
        (
            source,
            [k[0] for k in keys],
            [k[1] for k in keys],
            kinds,
            [e.parsed.topic.site for e in batch],
            [e.env.dev for e in batch],
            [e.env.sent for e in batch],
            [_size(e.env) for e in batch],
            [e.digest for e in batch],
        ),
    )
    new = {(r[0], int(r[1])): int(r[2]) for r in cur.fetchall()}
    reused: list[DeadLetter] = []
    if len(new) < len(keys):
        old = [k for k in keys if k not in new]
        stored = stored_digests(conn, old)
        for k in old:
            entry = entries[k]
            if stored.get(k, entry.digest) != entry.digest:
                reused.append(reuse_letter(entry, stored[k], limits))
    return new, reused
