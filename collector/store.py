"""One transaction per batch: registry updates, ledger insert, binary COPY of new envelopes' rows.

Envelope ids go into `envelopes` with ON CONFLICT DO NOTHING RETURNING; only the rows of envelopes
that came back are copied, so a redelivered envelope stores nothing twice. A message refused for any
reason — malformed, mis-addressed, another gateway's device, a reused seq — is refused before it
changes anything, and goes to dead letters with its reason. A reading repeated in a new envelope (a
gateway restart, an overlapping import) is caught by the unique (point_id, time) index: the batch is
then written again through the merge path of `collector.readings`. Monthly partitions (plain
PostgreSQL) are created in their own short transaction before the batch, so a batch never holds row
locks while it waits for the lock that creating a partition takes.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import psycopg

import wire
from collector import answers, db, ledger, readings, sparkplug_state, sparkplug_store
from collector.decode import (
    DECODER_FAULT,
    DeadLetter,
    Limits,
    Message,
    Parsed,
    RejectedError,
    Rows,
    parse_batch,
    to_rows,
)
from collector.points import DevicePoints
from collector.readings import Policy, copy_payload, ns_to_time
from collector.registry import Registry, is_history_writer
from collector.sparkplug import Outcome
from collector.sparkplug_sessions import Key, Restored

__all__ = ["BatchResult", "Store", "copy_payload"]

log = logging.getLogger(__name__)
PARTITION_LOCK = 7203116
_NS_PER_DAY = 86_400_000_000_000


def months_between(lo_ns: int, hi_ns: int) -> set[date]:
    """First days of the months from the one holding `lo_ns` to the one holding `hi_ns` (as stored)."""
    first, last = ns_to_time(lo_ns), ns_to_time(hi_ns)
    m, end = date(first.year, first.month, 1), date(last.year, last.month, 1)
    out = {m}
    while m < end:
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
        out.add(m)
    return out


class _PartitionsMissing(Exception):
    def __init__(self, months: set[date]) -> None:
        super().__init__(f"partitions missing for {sorted(months)}")
        self.months = months


@dataclass(slots=True)
class BatchResult:
    messages: int = 0
    envelopes_new: int = 0
    duplicates: int = 0
    rows: int = 0
    text_rows: int = 0
    seq_reuse: int = 0
    repeats: int = 0  # readings offered again at a stored (point, time) with the same value: dropped
    conflicts: int = 0  # readings of another value at a stored (point, time): refused, recorded
    replaced: int = 0  # stored readings superseded (policy "replace"), the old value recorded
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # (site, gw) of every gateway whose envelopes (or drop declaration) this batch handled
    gateways: set[tuple[str, str]] = field(default_factory=set)
    # new envelopes, and the samples of the new data envelopes, per (site, gw)
    envelopes_by_gateway: Counter[tuple[str, str]] = field(default_factory=Counter)
    samples_by_gateway: Counter[tuple[str, str]] = field(default_factory=Counter)
    sent: list[int] = field(default_factory=list)  # `sent` (ns) of every new data envelope
    sparkplug_duplicates: int = 0  # redeliveries the Sparkplug host recognised before storing

    def add(self, other: BatchResult) -> None:
        self.envelopes_new += other.envelopes_new
        self.duplicates += other.duplicates
        self.rows += other.rows
        self.text_rows += other.text_rows
        self.seq_reuse += other.seq_reuse
        self.repeats += other.repeats
        self.conflicts += other.conflicts
        self.replaced += other.replaced
        self.dead_letters += other.dead_letters
        self.gateways |= other.gateways
        self.envelopes_by_gateway.update(other.envelopes_by_gateway)
        self.samples_by_gateway.update(other.samples_by_gateway)
        self.sent += other.sent
        self.sparkplug_duplicates += other.sparkplug_duplicates


class Store:
    def __init__(self, dsn: str, limits: Limits | None = None, registry: Registry | None = None) -> None:
        self.dsn = dsn
        self.limits = limits or Limits()
        self.registry = registry or Registry()
        self._conn: psycopg.Connection | None = None
        self.storage = "postgresql"
        self._months: set[date] = set()

    # -- connection ----------------------------------------------------------------------------
    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self.dsn, connect_timeout=5)
                storage = db.storage_of(self._conn)
                self._conn.commit()
            except psycopg.OperationalError as exc:
                self._conn = None
                raise db.DatabaseUnavailableError(f"database unavailable: {db.one_line(exc)}") from None
            self.storage = storage
            if self.storage == "postgresql":
                self._months = self._existing_months(self._conn)
        return self._conn

    @staticmethod
    def _existing_months(conn: psycopg.Connection) -> set[date]:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'readings'::regclass AND c.relname ~ '^readings_[0-9]{6}$'"
        ).fetchall()
        conn.commit()
        return {date(int(r[0][9:13]), int(r[0][13:15]), 1) for r in rows}

    def sparkplug_sessions(self, limit: int, window: int) -> tuple[list[Restored], list[Key]]:
        """The Sparkplug host's saved sessions (`collector.sparkplug_state.load`)."""
        try:
            return sparkplug_state.load(self.connection(), limit, window)
        except psycopg.OperationalError as exc:
            self.close()
            raise db.DatabaseUnavailableError(f"database unavailable: {db.one_line(exc)}") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- writing -------------------------------------------------------------------------------
    def write(self, messages: Sequence[Message], *, now_ns: int | None = None) -> BatchResult:
        """Validate and store one batch atomically; raises DatabaseUnavailableError if not committed."""
        parsed, dead = parse_batch(messages, self.limits)
        result = self.write_parsed(parsed, dead, now_ns=now_ns)
        result.messages = len(messages)
        return result

    def write_parsed(
        self, parsed: Sequence[Parsed], dead: Sequence[DeadLetter], *, source: str = "mqtt",
        now_ns: int | None = None, strict: bool = False, policy: Policy = "refuse",
        sparkplug: Outcome | None = None,
    ) -> BatchResult:  # fmt: skip
        """Store already parsed envelopes (and interpreted Sparkplug messages, `collector.sparkplug`);
        `strict` rolls everything back on any rejection instead.

        `policy` decides a reading of another value at a stored (point, time): "refuse" keeps the
        stored one, "replace" supersedes it (both record the other value in reading_conflicts).
        """
        conn = self.connection()
        try:
            merge = policy == "replace"
            while True:
                try:
                    with conn.transaction():
                        result = self._write(
                            conn, parsed, list(dead), source, now_ns, merge, policy, sparkplug
                        )
                        if strict and result.dead_letters:
                            reasons = "; ".join(f"{d.topic}: {d.error}" for d in result.dead_letters[:20])
                            raise RejectedError(f"{len(result.dead_letters)} envelope(s) rejected: {reasons}")
                    break
                except _PartitionsMissing as missing:
                    self.registry.rollback()
                    self.ensure_months(missing.months)
                except psycopg.errors.UniqueViolation:
                    # A reading at a stored (point, time): write the batch again through the merge path.
                    self.registry.rollback()
                    if merge:
                        raise
                    merge = True
        except psycopg.OperationalError as exc:
            self.registry.rollback()
            self.close()
            raise db.DatabaseUnavailableError(f"batch not committed: {db.one_line(exc)}") from None
        except BaseException:
            self.registry.rollback()
            if conn.closed or conn.broken:
                self.close()
            raise
        self.registry.commit()
        return result

    def _write(
        self, conn: psycopg.Connection, parsed: Sequence[Parsed], dead: list[DeadLetter], source: str,
        now_ns: int | None, merge: bool, policy: Policy, sparkplug: Outcome | None = None,
    ) -> BatchResult:  # fmt: skip
        reg, limits = self.registry, self.limits
        history = source.startswith("import:")  # a history import describes devices it does not own
        result = BatchResult(dead_letters=dead)
        window = limits.window(now_ns if now_ns is not None else time.time_ns())
        if self.storage == "postgresql":
            # Before any row lock: a batch never waits for the readings table while holding one.
            conn.execute("LOCK TABLE ONLY readings IN ROW EXCLUSIVE MODE")
        batch = ledger.sort_batch(parsed, limits)
        result.duplicates, result.seq_reuse = batch.duplicates, len(batch.reused)
        dead += batch.reused
        # Births and deaths already in the ledger are redeliveries: re-applying an old birth would
        # undo a newer one, so they change nothing.
        known = ledger.stored_digests(
            conn, [k for k, e in batch.entries.items() if not isinstance(e.env, wire.Data)]
        )
        accepted: dict[ledger.Key, ledger.Entry] = {}
        data: list[ledger.Entry] = []
        results: list[Parsed] = []
        # Registry traffic first, in order, so data after a birth in the same batch finds its points.
        for p in parsed:
            env, topic = p.envelope, p.topic
            if env is None:
                self._gateway_message(conn, p, result)
            elif isinstance(env, wire.Command):
                pass  # a `cmd` is the sender's business: the platform records its own requests
            elif isinstance(env, wire.CommandResult):
                results.append(p)
            else:
                entry = batch.entries[(env.gw, env.seq)]
                if entry.parsed is not p:
                    continue  # repeated in this batch: counted or refused by sort_batch
                result.gateways.add((topic.site, env.gw))
                if isinstance(env, wire.Data):
                    data.append(entry)
                    continue
                stored = known.get(entry.key)
                if stored is not None:
                    if stored == entry.digest:
                        result.duplicates += 1
                    else:
                        result.seq_reuse += 1
                        dead.append(ledger.reuse_letter(entry, stored, limits))
                    continue
                try:
                    _check_sent(env, window)
                    if isinstance(env, wire.Birth):
                        reg.birth(conn, topic.site, env, history=history)
                    else:
                        reg.death(conn, topic.site, env, history=history)
                except RejectedError as exc:
                    dead.append(entry.refused(str(exc), limits))
                    continue
                accepted[entry.key] = entry
        dead += answers.check(conn, results, limits)
        rows: dict[ledger.Key, Rows] = {}
        seen: dict[tuple[str, str, str], tuple[int, int]] = {}
        for entry in data:
            env, site = entry.env, entry.parsed.topic.site
            assert isinstance(env, wire.Data)
            try:
                r = self._rows(conn, site, env, window, history=history)
            except RejectedError as exc:
                dead.append(entry.refused(str(exc), limits))
                continue
            accepted[entry.key] = entry
            rows[entry.key] = r
            k = (site, env.dev, env.gw)
            lo, hi = seen.get(k, (r.min_ts, r.max_ts))
            seen[k] = (min(lo, r.min_ts), max(hi, r.max_ts))
        sp = sparkplug_store.write(conn, reg, sparkplug, window, limits, dead) if sparkplug else None
        self._check_partitions([*rows.values(), *(r for _, r in sp.rows)] if sp else rows.values())
        new_ids, reused = ledger.insert(conn, accepted, source, limits)
        dead += reused
        result.envelopes_new = len(new_ids)
        result.seq_reuse += len(reused)
        result.duplicates += len(accepted) - len(new_ids) - len(reused)
        for key in new_ids:
            entry = accepted[key]
            gateway = (entry.parsed.topic.site, key[0])
            result.envelopes_by_gateway[gateway] += 1
            if isinstance(entry.env, wire.Data):
                result.samples_by_gateway[gateway] += len(entry.env.samples)
                result.sent.append(entry.env.sent)
        ids = dict(new_ids)
        if policy == "replace":  # the rows of envelopes already stored are offered again
            ids.update(self._known_ids(conn, [k for k in rows if k not in new_ids], accepted))
        new_rows = [(ids[k], r) for k, r in rows.items() if k in ids]
        if sp is not None:
            new_rows += sp.rows
            result.envelopes_new += sp.envelopes_new
            result.duplicates += sp.duplicates
            result.samples_by_gateway.update(sp.samples)
            result.sent += sp.sent
        offered = readings.Batch.of(new_rows)
        written = readings.merge(conn, offered, source, policy) if merge else readings.store(conn, offered)
        result.rows, result.text_rows = written.rows, written.text_rows
        result.repeats, result.conflicts, result.replaced = (
            written.repeats,
            written.conflicts,
            written.replaced,
        )
        self._store_status(conn, new_rows)
        reg.touch(conn, [(s, d, g, lo, hi) for (s, d, g), (lo, hi) in seen.items()] + (sp.seen if sp else []))
        if dead:
            for d in dead:
                if d.error.startswith(DECODER_FAULT):  # a fault of ours, not of the sender: say it
                    log.error("message on %r: %s", d.topic[:200], d.error)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO dead_letters (topic, payload, error, gw, seq) VALUES (%s, %s, %s, %s, %s)",
                    [(d.topic, d.payload, d.error, d.gw, d.seq) for d in dead],
                )
            result.gateways |= {(wire.parse_topic(d.topic).site, d.gw) for d in dead if d.gw is not None}
        return result

    def _rows(
        self, conn: psycopg.Connection, site: str, env: wire.Data, window: tuple[int, int], *, history: bool
    ) -> Rows:
        """The envelope's readings, checked against its device's latest birth and owner."""

        def rows_for(device: DevicePoints) -> Rows:
            _check_owner(device, env, site, history)
            return to_rows(env, device, window)

        return self.registry.resolve(conn, site, env.dev, rows_for)

    def _gateway_message(self, conn: psycopg.Connection, p: Parsed, result: BatchResult) -> None:
        topic = p.topic
        if p.status is not None:
            self.registry.status(conn, topic.site, topic.gateway, p.status)
        elif p.dropped is not None:
            d = p.dropped
            conn.execute(
                "INSERT INTO ack_watermarks AS a (gw, site, dropped_through, dropped_count)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (gw) DO UPDATE SET"
                " dropped_through = greatest(a.dropped_through, EXCLUDED.dropped_through),"
                " dropped_count = greatest(a.dropped_count, EXCLUDED.dropped_count), updated_at = now()",
                (d.gw, topic.site, d.through, d.count),
            )
            result.gateways.add((topic.site, d.gw))
        # `$stored`: a collector's own watermark, nothing to store

    # -- partitions (plain PostgreSQL) -----------------------------------------------------------
    def ensure_months(self, months: Iterable[date]) -> None:
        """Create the monthly partitions of `months` in a transaction of their own.

        Creating a partition locks the readings table exclusively; a batch that held row locks while
        waiting for that could deadlock with another batch, so batches never create partitions.
        """
        missing = set(months) - self._months
        if self.storage == "postgresql" and missing:
            conn = self.connection()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
                for m in sorted(missing):
                    conn.execute("SELECT ensure_readings_partitions(%s::date, 1)", (m,))
        self._months |= missing

    def _check_partitions(self, rows: Iterable[Rows]) -> None:
        if self.storage != "postgresql":
            return
        wanted: set[date] = set()
        for r in rows:
            if len(r):
                wanted |= months_between(r.min_ts, r.max_ts)
        if not wanted <= self._months:
            raise _PartitionsMissing(wanted - self._months)

    def _known_ids(
        self, conn: psycopg.Connection, keys: list[ledger.Key], entries: dict[ledger.Key, ledger.Entry]
    ) -> dict[ledger.Key, int]:
        """Envelope ids of envelopes already in the ledger with the same digest as offered now."""
        if not keys:
            return {}
        found = conn.execute(
            "SELECT e.gw, e.seq, e.envelope_id, e.sha256 FROM envelopes e"
            " JOIN unnest(%s::text[], %s::int8[]) AS u(g, s) ON e.gw = u.g AND e.seq = u.s",
            ([k[0] for k in keys], [k[1] for k in keys]),
        ).fetchall()
        return {
            (gw, int(seq)): int(eid) for gw, seq, eid, sha in found if sha == entries[(gw, int(seq))].digest
        }

    def _store_status(self, conn: psycopg.Connection, new_rows: list[tuple[int, Rows]]) -> None:
        """Status codes carried by bad/uncertain samples (rare: one small insert when there are any)."""
        coded = [(p, ns_to_time(t), c, e) for e, r in new_rows for (t, p, c) in r.status]
        if not coded:
            return
        conn.execute(
            "INSERT INTO reading_status (point_id, time, status_code, envelope_id)"
            " SELECT * FROM unnest(%s::int4[], %s::timestamptz[], %s::int8[], %s::int8[])"
            " ON CONFLICT DO NOTHING",
            tuple(map(list, zip(*coded, strict=True))),
        )


def _check_sent(env: wire.Birth | wire.Death, window: tuple[int, int]) -> None:
    lo, hi = window
    if not lo <= env.sent <= hi:
        raise RejectedError(f"$.sent: {env.sent} ns is outside the window [{lo}, {hi}]")


def _check_owner(device: DevicePoints, env: wire.Data, site: str, history: bool) -> None:
    if device.owner and device.owner != env.gw and not history and not is_history_writer(env.gw):
        raise RejectedError(f"device {env.dev!r} at site {site!r} is owned by {device.owner}")
