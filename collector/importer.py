"""Historian import: a long CSV (time, device, point, value[, quality]) through validation, registry
and ledger, at any size, with memory flat whatever the file size.

Two passes:
1. validate — the file is read once, every row parsed and checked (device, point, time window,
   value, quality, state code) and, while all is well, batched into envelope chunks spilled to a
   temporary file. If anything is wrong nothing is stored, and the error counts and quotes every
   problem with its line and column: unknown devices and points and unmapped state codes are
   tallied with their counts (an unmapped code is never taken silently for a state; `unmapped`
   says what to do).
2. store — births first, then the spilled chunks, `batch_rows` at a time, each batch in its own
   short transaction committed on a thread of its own while the next one is prepared (a running
   collector is never held up for long). Monthly partitions are created beforehand in a transaction
   of their own, so the import never deadlocks with live ingest.

Envelope ids derive from the file's SHA-256 (gw = the import gateway, seq = digest prefix + index,
`envelopes.source = 'import:<sha256>'`) and every envelope is a function of the file alone, so the
same file imported again stores nothing, and an interrupted import resumes where it stopped. A
reading already stored at its (point, time) with the same value is a repeat (counted, dropped);
another value there is a conflict: refused and recorded (policy "refuse"), or superseding the stored
value, which is kept in reading_conflicts (policy "replace", `import --replace`).
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

import wire
from collector.csvrows import (
    Findings,
    ImportDevice,
    ImportFileError,
    Problem,
    RowParser,
    Sample,
    Unmapped,
    open_rows,
)
from collector.decode import Limits, Parsed, RejectedError
from collector.errors import CollectorError
from collector.readings import Policy
from collector.store import BatchResult, Store, months_between
from infra.progress import ProgressFn
from wire.envelope import MAX_SAMPLES
from wire.topics import Topic, check_id

__all__ = ["Findings", "ImportDevice", "ImportFileError", "ImportResult", "import_csv", "validate"]

SEQ_BITS = 24  # seq = (38 bits of the file digest) << 24 | envelope index
PROGRESS_ROWS = 1 << 16
_PLAIN = frozenset((int, float))
Value = bool | int | float | str | None
Chunk = tuple[str, int, list[Sample]]  # device, its latest sample time (the envelope's `sent`), samples


@dataclass(frozen=True, slots=True)
class ImportResult:
    path: Path
    sha256: str
    rows_in_file: int
    rows: int  # numeric readings stored now (0 on re-import)
    text_rows: int
    repeats: int  # readings already stored with the same value: dropped
    conflicts: int  # readings of another value at a stored (point, time): refused, recorded
    replaced: int  # stored readings superseded (policy "replace"), the old values recorded
    envelopes_new: int
    envelopes_skipped: int  # already in the ledger (this file, imported before)
    devices: int
    seconds: float


@dataclass(slots=True)
class _Totals:
    rows: int = 0
    text_rows: int = 0
    repeats: int = 0
    conflicts: int = 0
    replaced: int = 0
    envelopes_new: int = 0
    envelopes_skipped: int = 0

    def add(self, r: BatchResult) -> None:
        self.rows += r.rows
        self.text_rows += r.text_rows
        self.repeats += r.repeats
        self.conflicts += r.conflicts
        self.replaced += r.replaced
        self.envelopes_new += r.envelopes_new
        self.envelopes_skipped += r.duplicates


class _Spill:
    """Batches of envelope chunks on disk between the passes, so memory stays flat.

    Pass 1 writes what pass 2 will store (the file is parsed once); the file lives in TMPDIR, takes
    about half the CSV's size, and is gone when closed.
    """

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix="plantproof-import-")  # noqa: SIM115 - see close()
        self.encoder = msgspec.msgpack.Encoder()
        self.decoder = msgspec.msgpack.Decoder(list[tuple[str, int, list[tuple[str, int, Value, int]]]])
        self.batches = 0
        self.envelopes = 0

    def write(self, batch: list[Chunk]) -> None:
        data = self.encoder.encode(batch)
        self.file.write(len(data).to_bytes(8, "big"))
        self.file.write(data)
        self.batches += 1

    def read(self) -> Iterator[list[Chunk]]:
        self.file.flush()
        self.file.seek(0)
        for _ in range(self.batches):
            size = int.from_bytes(self.file.read(8), "big")
            yield self.decoder.decode(self.file.read(size))  # type: ignore[misc]

    def size(self) -> int:
        return self.file.tell()

    def close(self) -> None:
        self.file.close()


def validate(
    path: Path, devices: dict[str, ImportDevice], window: tuple[int, int], unmapped: Unmapped,
    progress: ProgressFn | None = None, batcher: _Batcher | None = None,
) -> tuple[Findings, str]:  # fmt: skip
    """Pass 1: every row checked, nothing stored; the findings and the file's SHA-256. With a
    batcher, the valid rows also go to it for storing (until the first problem: then only counting)."""
    total = path.stat().st_size
    source, rows = open_rows(path)
    parser = RowParser(source, devices, window, unmapped)
    found = Findings()
    for line, fields in rows:
        found.rows += 1
        got = parser.parse(line, fields)
        if isinstance(got, Problem):
            found.add_problem(got, fields, parser)
            batcher = None
        else:
            found.add_sample(got[0], got[1][1])
            if batcher is not None:
                batcher.add(*got)
        if progress is not None and found.rows % PROGRESS_ROWS == 0:
            progress("validating", source.bytes_read, total, f"{found.rows:,} rows")
    if batcher is not None:
        batcher.flush()
    if progress is not None:
        progress("validating", total, total, f"{found.rows:,} rows")
    return found, source.sha256()


def import_csv(
    dsn: str, path: Path, site: str, gateway_id: str, devices: dict[str, ImportDevice], *,
    chunk_rows: int = 5_000, batch_rows: int = 50_000, limits: Limits | None = None,
    policy: Policy = "refuse", unmapped: Unmapped = "refuse", progress: ProgressFn | None = None,
) -> ImportResult:  # fmt: skip
    check_id(site, "site")
    check_id(gateway_id, "gateway")
    if not 1 <= chunk_rows <= MAX_SAMPLES:
        raise ImportFileError(f"chunk_rows must be 1..{MAX_SAMPLES}")
    started = time.monotonic()
    limits = limits or Limits()
    window = limits.window(time.time_ns())
    spill = _Spill()
    try:
        batcher = _Batcher(spill, chunk_rows, batch_rows)
        found, sha = validate(path, devices, window, unmapped, progress, batcher)
        problems = found.report()
        if problems:
            raise ImportFileError(f"{path}: {problems}; nothing was stored")
        totals = _Totals()
        if found.valid:
            _store(dsn, path, site, gateway_id, devices, found, sha, limits, policy, spill, totals, progress)
    finally:
        spill.close()
    t = totals
    return ImportResult(
        path, sha, found.rows, t.rows, t.text_rows, t.repeats, t.conflicts, t.replaced, t.envelopes_new,
        t.envelopes_skipped, len(found.devices), time.monotonic() - started,
    )  # fmt: skip


def _store(
    dsn: str, path: Path, site: str, gw: str, devices: dict[str, ImportDevice], found: Findings, sha: str,
    limits: Limits, policy: Policy, spill: _Spill, totals: _Totals, progress: ProgressFn | None,
) -> None:  # fmt: skip
    """Pass 2: births, then the spilled batches, each envelope named by the file's digest."""
    assert found.first_ns is not None and found.last_ns is not None
    label = f"import:{sha}"
    base = (int(sha[:10], 16) >> 2) << SEQ_BITS
    names = sorted(found.devices)
    births = [
        Parsed(
            Topic(site, gw, dev, "birth"),
            wire.Birth(gw, dev, base | i, found.last_ns, devices[dev].info, devices[dev].points),
        )
        for i, dev in enumerate(names)
    ]
    index = len(names)
    if index + spill.envelopes >= 1 << SEQ_BITS:
        raise ImportFileError(f"{path}: more than {1 << SEQ_BITS} envelopes; raise chunk_rows")
    store = Store(dsn, limits)
    size, done = spill.size(), 0
    try:
        store.connection()
        store.ensure_months(months_between(found.first_ns, found.last_ns))
        totals.add(store.write_parsed(births, [], source=label, strict=True))
        committer = _Committer(store, label, policy, totals)
        try:
            for batch in spill.read():
                envelopes = []
                for dev, sent, samples in batch:
                    env = wire.Data(gw, dev, base | index, sent, samples)  # type: ignore[arg-type]
                    envelopes.append(Parsed(Topic(site, gw, dev, "data"), env))
                    index += 1
                    done += len(samples)
                committer.submit(envelopes)
                if progress is not None:
                    progress("storing", spill.file.tell(), size, f"{done:,} readings")
        finally:
            committer.close()
        if progress is not None:
            progress("storing", size, size, f"{done:,} readings")
    except (RejectedError, CollectorError) as exc:
        stored = totals.rows + totals.text_rows
        raise ImportFileError(
            f"{path}: stopped after {stored:,} readings were stored: {exc} (run the import again to"
            " resume: what is stored is skipped)"
        ) from None
    finally:
        store.close()


class _Committer:
    """Commits batches on a thread of its own, so the next batch is parsed while one is stored.

    At most one batch waits while another commits (memory stays bounded); the first error stops
    everything and is raised to the reader at its next hand-over.
    """

    def __init__(self, store: Store, source: str, policy: Policy, totals: _Totals) -> None:
        self.store, self.source, self.policy, self.totals = store, source, policy, totals
        self.queue: queue.Queue[list[Parsed] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="import-commit", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain: nothing more is stored after a failure
            try:
                done = self.store.write_parsed(batch, [], source=self.source, strict=True, policy=self.policy)
                self.totals.add(done)
            except BaseException as exc:  # handed to the reader
                self.error = exc

    def submit(self, batch: list[Parsed]) -> None:
        self._raise()
        self.queue.put(batch)

    def close(self) -> None:
        """Wait for every batch handed over; raise the first error."""
        self.queue.put(None)
        self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


@dataclass(slots=True)
class _Batcher:
    """Envelope chunks of at most `chunk_rows` samples of one device, in batches of `batch_rows`.

    What goes into which envelope depends only on the file's rows, so the envelopes (and their
    ledger ids) come out the same on every run over the same file. A device's plain numbers and its
    other samples (states, text, bools, bad-quality gaps) go to separate envelopes: the collector
    checks the former in one pass at C speed.
    """

    spill: _Spill
    chunk_rows: int
    batch_rows: int
    buffers: dict[tuple[str, bool], list[Sample]] = field(default_factory=dict)
    buffered: int = 0
    pending: list[Chunk] = field(default_factory=list)

    def add(self, dev: str, sample: Sample) -> None:
        key = (dev, sample[2].__class__ in _PLAIN)
        buf = self.buffers.get(key)
        if buf is None:
            buf = self.buffers[key] = []
        buf.append(sample)
        self.buffered += 1
        if len(buf) >= self.chunk_rows:
            self._emit(key)
        if self.buffered >= self.batch_rows:
            self.flush()

    def _emit(self, key: tuple[str, bool]) -> None:
        samples = self.buffers.pop(key)
        self.pending.append((key[0], max(s[1] for s in samples), samples))

    def flush(self) -> None:
        for key in sorted(self.buffers):
            self._emit(key)
        if self.pending:
            self.spill.write(self.pending)
            self.spill.envelopes += len(self.pending)
        self.pending, self.buffered = [], 0
