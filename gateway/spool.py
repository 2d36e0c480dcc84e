"""The store-and-forward spool: SQLite (WAL) on disk, bounded in bytes, drop-oldest on overflow.

Every envelope is numbered and committed here before it is sent: the `seq` counter lives in the same
database and advances in the same transaction as the insert, so a `kill -9` can neither reuse a seq
nor lose a committed envelope. Entries leave when a collector's watermark covers them
(`delete_through`; or, without end-to-end acknowledgement, on PUBACK: `delete`), or when the byte
bound forces the oldest out; that overflow is counted, persisted and reported, and the highest seq
it took (`dropped_through`) is kept so the collectors can be told which seqs will never come.

`Spool` is synchronous; `AsyncSpool` runs it on one worker thread so the event loop never blocks on disk.
"""

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gateway.errors import SpoolError

ENTRY_OVERHEAD = 48  # bytes counted per entry beyond topic and payload (row and index cost, roughly)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Built:
    topic: str
    payload: bytes
    retain: bool = False
    dev: str = ""
    n: int = 0  # samples carried (for the published-points metric)


# Builds the message for the seq it is given: the seq goes inside the payload.
Builder = Callable[[int], Built]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL,
    size INTEGER NOT NULL,
    dev TEXT NOT NULL,
    n INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta VALUES ('next_seq', 0), ('dropped', 0), ('dropped_through', -1);
"""


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    seq: int
    topic: str
    payload: bytes
    retain: bool
    dev: str
    n: int


@dataclass(frozen=True, slots=True)
class SpoolStats:
    depth: int
    bytes: int
    dropped: int
    next_seq: int
    dropped_through: int = -1  # highest seq the bound dropped (-1: none)


class Spool:
    def __init__(self, path: str | Path, max_bytes: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a process crash (kill -9);
            # only an OS crash or power loss may lose the last commits.
            self._db.execute("PRAGMA synchronous=NORMAL")
            # deleted rows free pages for reuse; keep the WAL file itself from growing past this
            self._db.execute("PRAGMA journal_size_limit=67108864")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT count(*), coalesce(sum(size), 0) FROM entries").fetchone()
            self._depth, self._bytes = int(row[0]), int(row[1])
            self._next_seq = self._meta("next_seq")
            self._dropped = self._meta("dropped")
            self._dropped_through = self._meta("dropped_through")
        except (sqlite3.Error, OSError) as exc:
            raise SpoolError(f"{self.path}: cannot open the spool: {exc}") from None

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def append(self, builders: Sequence[Builder]) -> list[int]:
        """Number, store and commit envelopes in one transaction; returns their seqs."""
        if not builders:
            return []
        seq = self._next_seq
        rows = []
        added = 0
        for build in builders:
            b = build(seq)
            size = len(b.payload) + len(b.topic) + ENTRY_OVERHEAD
            rows.append((seq, b.topic, b.payload, int(b.retain), size, b.dev, b.n))
            added += size
            seq += 1
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (seq,))
            dropped, freed, last = self._evict(self._bytes + added - self.max_bytes)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise SpoolError(f"{self.path}: cannot write the spool: {exc}") from None
        self._next_seq = seq
        self._depth += len(rows) - dropped
        self._bytes += added - freed
        self._dropped += dropped
        self._dropped_through = max(self._dropped_through, last)
        return [r[0] for r in rows]

    def _evict(self, excess: int) -> tuple[int, int, int]:
        """Delete the oldest entries until `excess` bytes are freed (inside the caller's transaction);
        returns how many, their bytes and the highest seq deleted (-1: none)."""
        if excess <= 0:
            return 0, 0, -1
        dropped = freed = 0
        last = -1
        for seq, size in self._db.execute("SELECT seq, size FROM entries ORDER BY seq"):
            if freed >= excess:
                break
            freed += int(size)
            dropped += 1
            last = int(seq)
        if dropped:
            self._db.execute("DELETE FROM entries WHERE seq <= ?", (last,))
            self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (dropped,))
            self._db.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'dropped_through'", (last,))
        return dropped, freed, last

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def read(self, after_seq: int, limit: int) -> list[SpoolEntry]:
        """The oldest `limit` entries with seq > after_seq, in seq order."""
        cur = self._db.execute(
            "SELECT seq, topic, payload, retain, dev, n FROM entries WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        )
        return [SpoolEntry(int(s), str(t), bytes(p), bool(r), str(d), int(n)) for s, t, p, r, d, n in cur]

    def delete(self, seqs: Iterable[int]) -> int:
        """Remove acknowledged entries; returns how many were still there."""
        keys = [(s,) for s in seqs]
        if not keys:
            return 0
        try:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(
                f"SELECT count(*), coalesce(sum(size), 0) FROM entries WHERE seq IN "
                f"({','.join('?' * len(keys))})",
                [k[0] for k in keys],
            )
            n, size = cur.fetchone()
            self._db.executemany("DELETE FROM entries WHERE seq = ?", keys)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise SpoolError(f"{self.path}: cannot delete from the spool: {exc}") from None
        self._depth -= int(n)
        self._bytes -= int(size)
        return int(n)

    def delete_through(self, seq: int) -> int:
        """Remove every entry with seq <= `seq` (a collector's watermark); returns how many."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            n, size = self._db.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM entries WHERE seq <= ?", (seq,)
            ).fetchone()
            if n:
                self._db.execute("DELETE FROM entries WHERE seq <= ?", (seq,))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise SpoolError(f"{self.path}: cannot delete from the spool: {exc}") from None
        self._depth -= int(n)
        self._bytes -= int(size)
        return int(n)

    def stats(self) -> SpoolStats:
        return SpoolStats(self._depth, self._bytes, self._dropped, self._next_seq, self._dropped_through)

    def close(self) -> None:
        self._db.close()


class AsyncSpool:
    """The spool behind one worker thread; every call is serialised there."""

    def __init__(self, path: str | Path, max_bytes: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        try:
            self._spool = self._pool.submit(Spool, path, max_bytes).result()
        except SpoolError:
            self._pool.shutdown()
            raise
        self.appended = asyncio.Event()  # set after every append: wakes the publisher

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def append(self, builders: Sequence[Builder]) -> list[int]:
        seqs = await self._run(self._spool.append, builders)
        self.appended.set()
        return seqs

    async def read(self, after_seq: int, limit: int) -> list[SpoolEntry]:
        return await self._run(self._spool.read, after_seq, limit)

    async def delete(self, seqs: Sequence[int]) -> int:
        return await self._run(self._spool.delete, list(seqs))

    async def delete_through(self, seq: int) -> int:
        return await self._run(self._spool.delete_through, seq)

    def stats(self) -> SpoolStats:
        return self._spool.stats()  # plain attribute reads; a slightly stale view is fine

    async def close(self) -> None:
        await self._run(self._spool.close)
        self._pool.shutdown(wait=True)
