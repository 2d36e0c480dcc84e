"""Reading rows into `readings` / `readings_text`: one value per (point, time).

Fast path: one binary COPY. The unique index on (point_id, time) refuses a batch that repeats a
stored (point, time); the caller then rolls the batch back and writes it again through `merge`, which
stages the rows and inserts them with ON CONFLICT DO NOTHING, so live ingest pays nothing for the
rule until a repeat actually arrives. Offers at a stored (point, time) are then sorted out:
- the same value and quality again (redelivery, a gateway restart, an overlapping import): a repeat,
  counted and dropped;
- another value: a conflict. Policy "refuse" (the default) keeps the stored value and records the
  offer in `reading_conflicts`; policy "replace" (`import --replace`) stores the offer and records the
  value it supersedes there. Within one batch the first offer is the one inserted; under "replace"
  the last differing offer is the one that stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Literal

import numpy as np
import psycopg

from collector.decode import Rows

Policy = Literal["refuse", "replace"]
_PG_EPOCH_US = 946_684_800_000_000
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
_COLUMNS = "time, point_id, value, quality, envelope_id"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_time(ns: int) -> datetime:
    """The stored time of a source timestamp: truncated to the microsecond, exactly as the binary
    COPY does (a float division would be off by one microsecond now and then)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


@dataclass(slots=True)
class Stored:
    rows: int = 0  # numeric rows inserted
    text_rows: int = 0
    repeats: int = 0  # offers equal to the stored value: dropped
    conflicts: int = 0  # offers of another value, refused (recorded in reading_conflicts)
    replaced: int = 0  # stored values superseded under policy "replace" (recorded)

    def add(self, other: Stored) -> None:
        self.rows += other.rows
        self.text_rows += other.text_rows
        self.repeats += other.repeats
        self.conflicts += other.conflicts
        self.replaced += other.replaced


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


@dataclass(frozen=True, slots=True)
class Batch:
    """The numeric and text rows of a batch's new envelopes, ready to copy."""

    payload: bytes | None  # binary COPY of the numeric rows without an exact integer
    exact: list[tuple[datetime, int, float, int, int, int]]  # rows with value_int
    text: list[tuple[datetime, int, str | None, int, int]]
    numeric: int  # numeric rows in all

    @classmethod
    def of(cls, new_rows: Sequence[tuple[int, Rows]]) -> Batch:
        counts = [len(r.times) for _, r in new_rows]
        total = sum(counts)
        payload: bytes | None = None
        exact: list[tuple[datetime, int, float, int, int, int]] = []
        if total:
            flat = chain.from_iterable
            times = np.array(list(flat(r.times for _, r in new_rows)), dtype=np.int64)
            pids = np.array(list(flat(r.point_ids for _, r in new_rows)), dtype=np.int32)
            vals = np.array(list(flat(r.values for _, r in new_rows)), dtype=np.float64)  # None -> NaN
            quals = np.array(list(flat(r.qualities for _, r in new_rows)), dtype=np.int16)
            env_ids = np.repeat(np.array([e for e, _ in new_rows], dtype=np.int64), counts)
            keep = np.ones(total, dtype=bool)
            base = 0
            for (env, r), n in zip(new_rows, counts, strict=True):
                for i, value in r.exact.items():
                    row = (ns_to_time(r.times[i]), r.point_ids[i], float(value), r.qualities[i], env, value)
                    exact.append(row)
                    keep[base + i] = False
                base += n
            if keep.any():
                payload = copy_payload(times[keep], pids[keep], vals[keep], quals[keep], env_ids[keep])
        text = [(ns_to_time(t), p, v, q, e) for e, r in new_rows for (t, p, v, q) in r.text]
        return cls(payload, exact, text, total)


def copy_rows(
    conn: psycopg.Connection, batch: Batch, numeric: str = "readings", text: str = "readings_text"
) -> None:
    """COPY the batch into the given tables (the readings tables, or the staging tables)."""
    with conn.cursor() as cur:
        if batch.payload is not None:
            with cur.copy(f"COPY {numeric} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(batch.payload)
        if batch.exact:
            with cur.copy(f"COPY {numeric} ({_COLUMNS}, value_int) FROM STDIN") as copy:
                for exact in batch.exact:
                    copy.write_row(exact)
        if batch.text:
            with cur.copy(f"COPY {text} ({_COLUMNS}) FROM STDIN") as copy:
                for row in batch.text:
                    copy.write_row(row)


def store(conn: psycopg.Connection, batch: Batch) -> Stored:
    """The fast path: raises psycopg.errors.UniqueViolation when a (point, time) is already stored."""
    copy_rows(conn, batch)
    return Stored(rows=batch.numeric, text_rows=len(batch.text))


# Staging tables live for the session; ON COMMIT DELETE ROWS empties them with every transaction.
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS {stage} (
    ord bigint GENERATED ALWAYS AS IDENTITY, time timestamptz NOT NULL, point_id integer NOT NULL,
    value {type}, quality smallint NOT NULL, envelope_id bigint NOT NULL{extra}
) ON COMMIT DELETE ROWS
"""
_INSERT = """
INSERT INTO {table} ({cols})
SELECT DISTINCT ON (point_id, time) {cols} FROM {stage} ORDER BY point_id, time, envelope_id, ord
ON CONFLICT (point_id, time) DO NOTHING
"""
# Rows of the stage whose content differs from what is stored at their (point, time).
_DIFFERS = "(s.value IS DISTINCT FROM r.value{int_cmp} OR s.quality <> r.quality)"
_REPLACE = """
WITH chosen AS (
    SELECT DISTINCT ON (s.point_id, s.time) s.*
    FROM {stage} s JOIN {table} r ON r.point_id = s.point_id AND r.time = s.time
    WHERE {differs}
    ORDER BY s.point_id, s.time, s.envelope_id DESC, s.ord DESC
), audit AS (
    INSERT INTO reading_conflicts (point_id, time, {stored_cols}, stored_quality, stored_envelope_id,
                                   {offered_cols}, offered_quality, offered_envelope_id, source, resolution)
    SELECT c.point_id, c.time, {r_vals}, r.quality, r.envelope_id, {c_vals}, c.quality, c.envelope_id,
           %(source)s, 'replaced'
    FROM chosen c JOIN {table} r ON r.point_id = c.point_id AND r.time = c.time
)
UPDATE {table} r SET value = c.value{int_set}, quality = c.quality, envelope_id = c.envelope_id
FROM chosen c WHERE r.point_id = c.point_id AND r.time = c.time
"""
_REFUSE = """
INSERT INTO reading_conflicts (point_id, time, {stored_cols}, stored_quality, stored_envelope_id,
                               {offered_cols}, offered_quality, offered_envelope_id, source, resolution)
SELECT s.point_id, s.time, {r_vals}, r.quality, r.envelope_id, {s_vals}, s.quality, s.envelope_id,
       %(source)s, 'refused'
FROM {stage} s JOIN {table} r ON r.point_id = s.point_id AND r.time = s.time
WHERE {differs}
"""


def _statements(table: str, numeric: bool) -> dict[str, str]:
    stage = f"pp_stage_{table}"
    cols = _COLUMNS + (", value_int" if numeric else "")
    if numeric:
        names = {
            "stored_cols": "stored_value, stored_value_int",
            "offered_cols": "offered_value, offered_value_int",
        }
        vals = {p: f"{p}.value, {p}.value_int" for p in ("r", "s", "c")}
    else:
        names = {"stored_cols": "stored_text", "offered_cols": "offered_text"}
        vals = {p: f"{p}.value" for p in ("r", "s", "c")}
    int_cmp = " OR s.value_int IS DISTINCT FROM r.value_int" if numeric else ""
    fmt = {
        "stage": stage,
        "table": table,
        "cols": cols,
        "type": "double precision" if numeric else "text",
        "extra": ", value_int bigint" if numeric else "",
        "differs": _DIFFERS.format(int_cmp=int_cmp),
        "int_set": ", value_int = c.value_int" if numeric else "",
        "r_vals": vals["r"],
        "s_vals": vals["s"],
        "c_vals": vals["c"],
        **names,
    }
    return {
        "stage": stage,
        "create": _STAGE.format(**fmt),
        "insert": _INSERT.format(**fmt),
        "replace": _REPLACE.format(**fmt),
        "refuse": _REFUSE.format(**fmt),
    }


_SQL = {"readings": _statements("readings", True), "readings_text": _statements("readings_text", False)}


def merge(conn: psycopg.Connection, batch: Batch, source: str, policy: Policy) -> Stored:
    """The slow path: stage, insert what is new, count repeats, refuse or replace conflicts."""
    num, txt = _SQL["readings"], _SQL["readings_text"]
    for sql in (num, txt):
        conn.execute(sql["create"])
    copy_rows(conn, batch, num["stage"], txt["stage"])
    out = Stored()
    for sql, offered in ((num, batch.numeric), (txt, len(batch.text))):
        if not offered:
            continue
        inserted = conn.execute(sql["insert"]).rowcount
        replaced = conn.execute(sql["replace"], {"source": source}).rowcount if policy == "replace" else 0
        refused = conn.execute(sql["refuse"], {"source": source}).rowcount
        part = Stored(repeats=offered - inserted - replaced - refused, conflicts=refused, replaced=replaced)
        if sql is num:
            part.rows = inserted
        else:
            part.text_rows = inserted
        out.add(part)
    return out
