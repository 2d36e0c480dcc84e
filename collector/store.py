"""One transaction per batch: registry updates, ledger insert, binary COPY of new envelopes' rows.

Envelope ids go into `envelopes` with ON CONFLICT DO NOTHING RETURNING; only the rows of envelopes
that came back are copied, so a redelivered envelope stores nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain

import numpy as np
import psycopg

import wire
from collector.decode import (
    DeadLetter,
    Limits,
    Parsed,
    RejectedError,
    Rows,
    dead_letter,
    parse,
    to_rows,
)
from collector.errors import CollectorError
from collector.registry import Registry, ns_to_dt

Ledger = dict[tuple[str, int], tuple[wire.Data | wire.Birth | wire.Death, str]]
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


def _size(env: wire.Data | wire.Birth | wire.Death) -> int:
    if isinstance(env, wire.Data):
        return len(env.samples)
    return len(env.points) if isinstance(env, wire.Birth) else 0


class StoreUnavailableError(CollectorError):
    """The database cannot be reached; the batch was not committed and may be retried as is."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes


@dataclass(slots=True)
class BatchResult:
    messages: int = 0
    envelopes_new: int = 0
    duplicates: int = 0
    rows: int = 0
    text_rows: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


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
                raise StoreUnavailableError(f"database unavailable: {exc}") from None
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
                parsed.append(parse(msg.topic, msg.payload, self.limits))
            except RejectedError as exc:
                dead.append(dead_letter(msg.topic, msg.payload, str(exc), self.limits))
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
            raise StoreUnavailableError(f"batch not committed: {exc}") from None
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
        reg = self.registry
        result = BatchResult(dead_letters=dead)
        window = self.limits.window(now_ns if now_ns is not None else time.time_ns())
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (ROLLUP_LOCK,))
        ledger: Ledger = {}
        rows: dict[tuple[str, int], Rows] = {}
        data: list[Parsed] = []
        # Registry traffic first, so data after a birth in the same batch finds its points.
        for p in parsed:
            env, topic = p.envelope, p.topic
            if env is None:
                assert p.status is not None
                reg.status(conn, topic.site, topic.gateway, p.status)
            elif isinstance(env, wire.Data):
                data.append(p)
            elif isinstance(env, wire.Birth):
                reg.birth(conn, topic.site, env)
                ledger.setdefault((env.gw, env.seq), (env, topic.site))
            elif isinstance(env, wire.Death):
                reg.death(conn, topic.site, env)
                ledger.setdefault((env.gw, env.seq), (env, topic.site))
            elif isinstance(env, wire.Command):
                reg.command(conn, topic.site, topic.gateway, env)
            else:
                reg.result(conn, topic.site, env)
        seen: dict[tuple[str, str, str], tuple[int, int]] = {}
        for p in data:
            env, site = p.envelope, p.topic.site
            assert isinstance(env, wire.Data)
            try:
                device = reg.lookup(conn, site, env.dev)
                if device is None:
                    raise RejectedError(f"no birth yet for device {env.dev!r} at site {site!r}")
                try:
                    r = to_rows(env, device, window)
                except RejectedError:
                    fresh = reg.lookup(conn, site, env.dev, refresh=True)  # another process saw a new birth
                    if fresh is None or fresh == device:
                        raise
                    r = to_rows(env, fresh, window)
            except RejectedError as exc:
                dead.append(dead_letter(str(p.topic), p.payload or wire.encode(env), str(exc), self.limits))
                continue
            key = (env.gw, env.seq)
            if key in ledger:
                continue  # the same envelope twice in one batch
            ledger[key] = (env, site)
            rows[key] = r
            k = (site, env.dev, env.gw)
            lo, hi = seen.get(k, (r.min_ts, r.max_ts))
            seen[k] = (min(lo, r.min_ts), max(hi, r.max_ts))
        months = self._ensure_partitions(conn, rows.values())
        new_ids = self._insert_ledger(conn, ledger, source, dead)
        result.envelopes_new = len(new_ids)
        result.duplicates = (
            len(ledger) - len(new_ids) - sum(1 for d in dead if d.error.startswith("seq reuse"))
        )
        new_rows = [(new_ids[k], r) for k, r in rows.items() if k in new_ids]
        result.rows, result.text_rows = self._copy(conn, new_rows)
        self._store_status(conn, new_rows)
        if new_rows:
            self._mark_dirty(conn, [r for _, r in new_rows])
        reg.touch(conn, [(s, d, g, lo, hi) for (s, d, g), (lo, hi) in seen.items()])
        if dead:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO dead_letters (topic, payload, error) VALUES (%s, %s, %s)",
                    [(d.topic, d.payload, d.error) for d in dead],
                )
        return result, months

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

    def _insert_ledger(
        self, conn: psycopg.Connection, ledger: Ledger,
        source: str, dead: list[DeadLetter],
    ) -> dict[tuple[str, int], int]:  # fmt: skip
        if not ledger:
            return {}
        keys = sorted(ledger)  # one order for every process: no deadlocks between collectors
        envs = [ledger[k] for k in keys]
        digests = [wire.digest(e) for e, _ in envs]
        kinds = ["data" if isinstance(e, wire.Data) else "birth" if isinstance(e, wire.Birth) else "death"
                 for e, _ in envs]  # fmt: skip
        ns = [_size(e) for e, _ in envs]
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
                [s for _, s in envs],
                [e.dev for e, _ in envs],
                [e.sent for e, _ in envs],
                ns,
                digests,
            ),
        )
        new = {(r[0], int(r[1])): int(r[2]) for r in cur.fetchall()}
        if len(new) < len(keys):
            self._check_reuse(conn, keys, digests, new, dead)
        return new

    def _check_reuse(
        self, conn: psycopg.Connection, keys: list[tuple[str, int]], digests: list[str],
        new: dict[tuple[str, int], int], dead: list[DeadLetter],
    ) -> None:  # fmt: skip
        """A known (gw, seq) with another digest means a gateway reused a seq: never silently dropped."""
        old = [(k, h) for k, h in zip(keys, digests, strict=True) if k not in new]
        stored = dict(
            ((r[0], int(r[1])), r[2])
            for r in conn.execute(
                "SELECT e.gw, e.seq, e.sha256 FROM envelopes e JOIN unnest(%s::text[], %s::int8[]) AS u(g, s)"
                " ON e.gw = u.g AND e.seq = u.s",
                ([k[0] for k, _ in old], [k[1] for k, _ in old]),
            )
        )
        for k, h in old:
            if stored.get(k, h) != h:
                why = (
                    f"seq reuse: ({k[0]}, {k[1]}) is already stored with digest {stored[k]}, this one has {h}"
                )
                dead.append(DeadLetter(f"ledger/{k[0]}/{k[1]}", b"", why))

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
