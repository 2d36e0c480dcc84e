"""One transaction per batch: registry updates, ledger insert, binary COPY of new envelopes' rows.

Envelope ids go into `envelopes` with ON CONFLICT DO NOTHING RETURNING; only the rows of envelopes
that came back are copied, so a redelivered envelope stores nothing twice. A message refused for any
reason — malformed, mis-addressed, another gateway's device, a reused seq — is refused before it
changes anything, and goes to dead letters with its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain

import numpy as np
import psycopg

import wire
from collector import ledger
from collector.decode import (
    DeadLetter,
    DevicePoints,
    Limits,
    Parsed,
    RejectedError,
    Rows,
    dead_letter,
    identify,
    parse,
    to_rows,
)
from collector.errors import CollectorError
from collector.registry import Registry, is_history_writer, ns_to_dt

log = logging.getLogger(__name__)
# Batches hold this shared; the rollup job takes it exclusively while it moves its watermark.
ROLLUP_LOCK = 7203115
PARTITION_LOCK = 7203116
_PG_EPOCH_US = 946_684_800_000_000
_NS_PER_DAY = 86_400_000_000_000
_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_TRAILER = b"\xff\xff"
_ROW = np.dtype(
    [("nf", ">i2"), ("l1", ">i4"), ("t", ">i8"), ("l2", ">i4"), ("p", ">i4"), ("l3", ">i4"), ("v", ">f8"),
     ("l4", ">i4"), ("q", ">i2"), ("l5", ">i4"), ("e", ">i8")]
)  # fmt: skip
_ROW_NULL = np.dtype(
    [("nf", ">i2"), ("l1", ">i4"), ("t", ">i8"), ("l2", ">i4"), ("p", ">i4"), ("l3", ">i4"),
     ("l4", ">i4"), ("q", ">i2"), ("l5", ">i4"), ("e", ">i8")]
)  # fmt: skip


class StoreUnavailableError(CollectorError):
    """The database cannot be reached; the batch was not committed and may be retried as is."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    size: int | None = None  # on the wire, when `payload` holds only the beginning of an oversized one


@dataclass(slots=True)
class BatchResult:
    messages: int = 0
    envelopes_new: int = 0
    duplicates: int = 0
    rows: int = 0
    text_rows: int = 0
    seq_reuse: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # (site, gw) of every gateway whose envelopes (or drop declaration) this batch handled
    gateways: set[tuple[str, str]] = field(default_factory=set)

    def add(self, other: BatchResult) -> None:
        self.envelopes_new += other.envelopes_new
        self.duplicates += other.duplicates
        self.rows += other.rows
        self.text_rows += other.text_rows
        self.seq_reuse += other.seq_reuse
        self.dead_letters += other.dead_letters
        self.gateways |= other.gateways


def copy_payload(times_ns: np.ndarray, pids: np.ndarray, values: np.ndarray, quals: np.ndarray,
                 env_ids: np.ndarray) -> bytes:  # fmt: skip
    """PostgreSQL binary COPY data for readings(time, point_id, value, quality, envelope_id)."""
    t_us = times_ns // 1000 - _PG_EPOCH_US
    null = np.isnan(values)
    parts = [_HEADER]
    for dtype, mask in ((_ROW, ~null), (_ROW_NULL, null)):
        n = int(mask.sum())
        if n == 0:
            continue
        buf = np.empty(n, dtype=dtype)
        buf["nf"], buf["l1"], buf["l2"], buf["l4"], buf["l5"] = 5, 8, 4, 2, 8
        buf["t"], buf["p"], buf["q"], buf["e"] = t_us[mask], pids[mask], quals[mask], env_ids[mask]
        if dtype is _ROW:
            buf["l3"], buf["v"] = 8, values[mask]
        else:
            buf["l3"] = -1
        parts.append(buf.tobytes())
    parts.append(_TRAILER)
    return b"".join(parts)


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
                row = self._conn.execute(
                    "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
                ).fetchone()
                self._conn.commit()
            except psycopg.OperationalError as exc:
                self._conn = None
                raise StoreUnavailableError(f"database unavailable: {_one_line(exc)}") from None
            self.storage = "timescaledb" if row else "postgresql"
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- writing -------------------------------------------------------------------------------
    def write(self, messages: Sequence[Message], *, now_ns: int | None = None) -> BatchResult:
        """Validate and store one batch atomically; raises StoreUnavailableError if not committed."""
        parsed, dead = self.prepare(messages)
        result = self.write_parsed(parsed, dead, now_ns=now_ns)
        result.messages = len(messages)
        return result

    def prepare(self, messages: Sequence[Message]) -> tuple[list[Parsed], list[DeadLetter]]:
        """The checks that need no database (may run while the previous batch commits)."""
        parsed: list[Parsed] = []
        dead: list[DeadLetter] = []
        for msg in messages:
            try:
                parsed.append(parse(msg.topic, msg.payload, self.limits, msg.size))
                continue
            except RejectedError as exc:
                why = str(exc)
            except Exception as exc:  # a decoder fault must cost one message, never the process
                why = f"could not be decoded: {type(exc).__name__}: {exc}"
                log.error("message on %r: %s", msg.topic[:200], why)
            ident = identify(msg.topic, msg.payload) if msg.size is None else None
            dead.append(dead_letter(msg.topic, msg.payload, why, self.limits, msg.size, ident))
        return parsed, dead

    def write_parsed(
        self, parsed: Sequence[Parsed], dead: Sequence[DeadLetter], *, source: str = "mqtt",
        now_ns: int | None = None, strict: bool = False,
    ) -> BatchResult:  # fmt: skip
        """Store already parsed envelopes; `strict` rolls everything back on any rejection instead."""
        conn = self.connection()
        try:
            with conn.transaction():
                result, months = self._write(conn, parsed, list(dead), source, now_ns)
                if strict and result.dead_letters:
                    reasons = "; ".join(f"{d.topic}: {d.error}" for d in result.dead_letters[:20])
                    raise RejectedError(f"{len(result.dead_letters)} envelope(s) rejected: {reasons}")
        except psycopg.OperationalError as exc:
            self.registry.rollback()
            self.close()
            raise StoreUnavailableError(f"batch not committed: {_one_line(exc)}") from None
        except BaseException:
            self.registry.rollback()
            if conn.closed or conn.broken:
                self.close()
            raise
        self.registry.commit()
        self._months |= months
        return result

    def _write(
        self, conn: psycopg.Connection, parsed: Sequence[Parsed], dead: list[DeadLetter], source: str,
        now_ns: int | None,
    ) -> tuple[BatchResult, set[date]]:  # fmt: skip
        reg, limits = self.registry, self.limits
        history = source.startswith("import:")  # a history import describes devices it does not own
        result = BatchResult(dead_letters=dead)
        window = limits.window(now_ns if now_ns is not None else time.time_ns())
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (ROLLUP_LOCK,))
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
        # Registry traffic first, in order, so data after a birth in the same batch finds its points.
        for p in parsed:
            env, topic = p.envelope, p.topic
            if env is None:
                self._gateway_message(conn, p, result)
            elif isinstance(env, wire.Command):
                reg.command(conn, topic.site, topic.gateway, env)
            elif isinstance(env, wire.CommandResult):
                reg.result(conn, topic.site, env)
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
        months = self._ensure_partitions(conn, rows.values())
        new_ids, reused = ledger.insert(conn, accepted, source, limits)
        dead += reused
        result.envelopes_new = len(new_ids)
        result.seq_reuse += len(reused)
        result.duplicates += len(accepted) - len(new_ids) - len(reused)
        new_rows = [(new_ids[k], r) for k, r in rows.items() if k in new_ids]
        result.rows, result.text_rows = self._copy(conn, new_rows)
        self._store_status(conn, new_rows)
        if new_rows:
            self._mark_dirty(conn, [r for _, r in new_rows])
        reg.touch(conn, [(s, d, g, lo, hi) for (s, d, g), (lo, hi) in seen.items()])
        if dead:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO dead_letters (topic, payload, error, gw, seq) VALUES (%s, %s, %s, %s, %s)",
                    [(d.topic, d.payload, d.error, d.gw, d.seq) for d in dead],
                )
            result.gateways |= {(wire.parse_topic(d.topic).site, d.gw) for d in dead if d.gw is not None}
        return result, months

    def _rows(
        self, conn: psycopg.Connection, site: str, env: wire.Data, window: tuple[int, int], *, history: bool
    ) -> Rows:
        """The envelope's readings, checked against its device's latest birth and owner."""
        device = self.registry.lookup(conn, site, env.dev)
        if device is None:
            raise RejectedError(f"no birth yet for device {env.dev!r} at site {site!r}")
        try:
            _check_owner(device, env, site, history)
            return to_rows(env, device, window)
        except RejectedError:
            # Another process may have seen a newer birth, or an operator moved the device.
            fresh = self.registry.lookup(conn, site, env.dev, refresh=True)
            if fresh is None or fresh == device:
                raise
            _check_owner(fresh, env, site, history)
            return to_rows(env, fresh, window)

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

    def _ensure_partitions(self, conn: psycopg.Connection, rows: object) -> set[date]:
        if self.storage != "postgresql":
            return set()
        wanted: set[date] = set()
        for r in rows:  # type: ignore[attr-defined]
            if len(r) == 0:
                continue
            for ts in (r.min_ts, r.max_ts):
                d = ns_to_dt(ts)
                wanted.add(date(d.year, d.month, 1))
            # Envelopes spanning more than two months are rare; cover every month in between.
            first, last = min(wanted), max(wanted)
            m = first
            while m < last:
                m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
                wanted.add(m)
        missing = wanted - self._months
        if missing:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            for m in sorted(missing):
                conn.execute("SELECT ensure_readings_partitions(%s::date, 1)", (m,))
        return missing

    def _copy(self, conn: psycopg.Connection, new_rows: list[tuple[int, Rows]]) -> tuple[int, int]:
        if not new_rows:
            return 0, 0
        counts = [len(r.times) for _, r in new_rows]
        total = sum(counts)
        if total:
            flat = chain.from_iterable
            times = np.array(list(flat(r.times for _, r in new_rows)), dtype=np.int64)
            pids = np.array(list(flat(r.point_ids for _, r in new_rows)), dtype=np.int32)
            vals = np.array(
                list(flat(r.values for _, r in new_rows)), dtype=np.float64
            )  # None -> NaN -> NULL
            quals = np.array(list(flat(r.qualities for _, r in new_rows)), dtype=np.int16)
            env_ids = np.repeat(np.array([e for e, _ in new_rows], dtype=np.int64), counts)
            payload = copy_payload(times, pids, vals, quals, env_ids)
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY readings (time, point_id, value, quality, envelope_id) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.write(payload)
        text = [(ns_to_dt(t), p, v, q, e) for e, r in new_rows for (t, p, v, q) in r.text]
        if text:
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY readings_text (time, point_id, value, quality, envelope_id) FROM STDIN"
                ) as copy,
            ):
                for row in text:
                    copy.write_row(row)
        return total, len(text)

    def _store_status(self, conn: psycopg.Connection, new_rows: list[tuple[int, Rows]]) -> None:
        """Status codes carried by bad/uncertain samples (rare: one small insert when there are any)."""
        coded = [(p, ns_to_dt(t), c, e) for e, r in new_rows for (t, p, c) in r.status]
        if not coded:
            return
        conn.execute(
            "INSERT INTO reading_status (point_id, time, status_code, envelope_id)"
            " SELECT * FROM unnest(%s::int4[], %s::timestamptz[], %s::int8[], %s::int8[])"
            " ON CONFLICT DO NOTHING",
            tuple(map(list, zip(*coded, strict=True))),
        )

    def _mark_dirty(self, conn: psycopg.Connection, rows: list[Rows]) -> None:
        days: set[int] = set()
        for r in rows:
            if len(r):
                days.update(range(r.min_ts // _NS_PER_DAY, r.max_ts // _NS_PER_DAY + 1))
        # Late data for a day already rolled up: that day is recomputed from readings until re-rolled.
        conn.execute(
            "INSERT INTO rollup_dirty (day) SELECT d FROM unnest(%s::date[]) AS d"
            " WHERE d < (SELECT watermark FROM rollup_watermark) ON CONFLICT DO NOTHING",
            ([date.fromordinal(date(1970, 1, 1).toordinal() + d) for d in sorted(days)],),
        )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _check_sent(env: wire.Birth | wire.Death, window: tuple[int, int]) -> None:
    lo, hi = window
    if not lo <= env.sent <= hi:
        raise RejectedError(f"$.sent: {env.sent} ns is outside the window [{lo}, {hi}]")


def _check_owner(device: DevicePoints, env: wire.Data, site: str, history: bool) -> None:
    if device.owner and device.owner != env.gw and not history and not is_history_writer(env.gw):
        raise RejectedError(f"device {env.dev!r} at site {site!r} is owned by {device.owner}")
