"""Spool: seq persisted, bounded with counted drop-oldest, in-order replay after reopen, kill -9 safe."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from gateway.spool import ENTRY_OVERHEAD, AsyncSpool, Built, Spool


def builder(dev: str, size: int = 100):  # type: ignore[no-untyped-def]
    def build(seq: int) -> Built:
        return Built(f"t/{dev}", f"{seq:08d}".encode().ljust(size, b"x"), False, dev, 1)

    return build


def test_seq_is_persisted_and_replay_is_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", 10_000_000)
    assert spool.append([builder("a")] * 5) == [0, 1, 2, 3, 4]
    assert spool.delete([0, 2]) == 2
    spool.close()
    spool = Spool(tmp_path / "s.db", 10_000_000)
    assert [e.seq for e in spool.read(-1, 100)] == [1, 3, 4]
    assert [e.payload[:8] for e in spool.read(1, 100)] == [b"00000003", b"00000004"]
    assert spool.append([builder("a")]) == [5]  # never reuses a seq, even of a deleted entry
    stats = spool.stats()
    assert (stats.depth, stats.next_seq, stats.dropped) == (4, 6, 0)
    assert stats.bytes == 4 * (100 + 3 + ENTRY_OVERHEAD)


def test_bounded_drops_oldest_and_counts(tmp_path: Path) -> None:
    entry = 1000 + 3 + ENTRY_OVERHEAD
    spool = Spool(tmp_path / "s.db", 10 * entry)
    for _ in range(25):
        spool.append([builder("a", 1000)])
    stats = spool.stats()
    assert stats.depth == 10 and stats.bytes == 10 * entry
    assert stats.dropped == 15
    assert [e.seq for e in spool.read(-1, 100)] == list(range(15, 25))
    spool.close()
    reopened = Spool(tmp_path / "s.db", 10 * entry)
    assert reopened.stats() == stats  # the drop count survives a restart


def test_delete_of_dropped_or_unknown_entries_is_harmless(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", 10_000_000)
    spool.append([builder("a")] * 3)
    assert spool.delete([1, 1, 99]) == 1
    assert spool.stats().depth == 2


async def test_async_spool_wakes_readers(tmp_path: Path) -> None:
    spool = AsyncSpool(tmp_path / "s.db", 10_000_000)
    assert not spool.appended.is_set()
    await spool.append([builder("a"), builder("b")])
    assert spool.appended.is_set()
    entries = await spool.read(-1, 10)
    assert [(e.seq, e.dev) for e in entries] == [(0, "a"), (1, "b")]
    await spool.delete([0])
    assert spool.stats().depth == 1
    await spool.close()


WRITER = textwrap.dedent(
    """
    import sys
    from gateway.spool import Built, Spool
    spool = Spool(sys.argv[1], 1 << 30)
    while True:
        seqs = spool.append([lambda s: Built("t", b"%d" % s * 50, False, "d", 1)] * 7)
        print(seqs[-1], flush=True)  # printed only after the commit returned
    """
)


def test_survives_kill_9_mid_stream(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    committed = -1
    deadline = time.monotonic() + 60
    while committed < 3000 and time.monotonic() < deadline:
        committed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for line in proc.stdout:  # anything printed before the kill was committed too
        committed = max(committed, int(line))
    assert committed >= 3000

    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    spool = Spool(db, 1 << 30)
    seqs = [e.seq for e in spool.read(-1, 1_000_000)]
    assert seqs == list(range(len(seqs)))  # no holes
    assert seqs[-1] >= committed  # every committed entry is there
    assert spool.stats().next_seq == seqs[-1] + 1  # the counter moved with the rows
    assert spool.append([builder("a")]) == [seqs[-1] + 1]
