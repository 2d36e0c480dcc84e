"""Historian import: a long CSV (time, device, point, value, quality) through validation, registry and ledger.

Envelope ids derive from the file's SHA-256 (gw = the import gateway, seq = digest prefix + chunk
index, `envelopes.source = 'import:<sha256>'`), and every envelope's content is a function of the
file alone, so importing the same file again stores nothing. The whole file is one transaction: a
device, point or value that cannot be placed stores nothing of it.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import wire
from collector.decode import Limits, Parsed, RejectedError
from collector.errors import CollectorError
from collector.store import Store
from wire.topics import Topic, check_id

CHUNK_BITS = 20  # seq = (first 40 bits of the file digest) << 20 | chunk index
MAX_LISTED = 20


class ImportFileError(CollectorError):
    """A file that cannot be imported; nothing of it was stored."""


@dataclass(frozen=True, slots=True)
class ImportDevice:
    info: wire.DeviceInfo
    points: list[wire.PointInfo]
    # point -> device code -> canonical state name
    state_maps: dict[str, dict[int, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportResult:
    path: Path
    sha256: str
    rows: int  # readings stored now (0 on re-import)
    text_rows: int
    envelopes_new: int
    envelopes_skipped: int  # already in the ledger
    devices: int


def _time_ns(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        ns = int(text)
    else:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError(f"time {text!r} has no time zone")
        ns = int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
    if not 0 <= ns < 2**63:
        raise ValueError(f"time {text!r} is outside the representable range")
    return ns


def _value(
    text: str, point: wire.PointInfo, states: dict[int, str] | None, quality: int
) -> tuple[object, int]:
    if text == "":
        return None, quality
    if point.kind == "state":
        if text in wire.STATE_CODES:
            return text, quality
        code = int(text)
        if states is not None and code in states:
            return states[code], quality
        return "unknown_stop", max(quality, wire.QUALITY_UNCERTAIN)  # unmapped device code
    if point.dtype == "string":
        return text, quality
    if point.dtype == "bool":
        low = text.lower()
        if low in ("true", "1"):
            return True, quality
        if low in ("false", "0"):
            return False, quality
        raise ValueError(f"{text!r} is not a boolean")
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return (
        int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    ), quality


def import_csv(
    dsn: str, path: Path, site: str, gateway_id: str, devices: dict[str, ImportDevice], *,
    chunk_rows: int = 1000, limits: Limits | None = None,
) -> ImportResult:  # fmt: skip
    check_id(site, "site")
    check_id(gateway_id, "gateway")
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    samples = _read(path, raw, devices)
    parsed: list[Parsed] = []
    base = int(sha[:10], 16) << CHUNK_BITS
    chunk = 0
    ends: list[int] = []
    for dev in sorted(samples):
        rows = samples[dev]
        for start in range(0, len(rows), chunk_rows):
            part = rows[start : start + chunk_rows]
            sent = max(s[1] for s in part)
            ends.append(sent)
            env = wire.Data(gateway_id, dev, base | chunk, sent, part)  # type: ignore[arg-type]
            parsed.append(Parsed(Topic(site, gateway_id, dev, "data"), env))
            chunk += 1
    if chunk + len(samples) >= 1 << CHUNK_BITS:
        raise ImportFileError(f"{path}: too many chunks ({chunk}); raise chunk_rows")
    sent = max(ends) if ends else 0
    births = [
        Parsed(
            Topic(site, gateway_id, dev, "birth"),
            wire.Birth(gateway_id, dev, base | (chunk + i), sent, devices[dev].info, devices[dev].points),
        )
        for i, dev in enumerate(sorted(samples))
    ]
    store = Store(dsn, limits)
    try:
        result = store.write_parsed([*births, *parsed], [], source=f"import:{sha}", strict=True)
    except RejectedError as exc:
        raise ImportFileError(f"{path}: {exc}; nothing was stored") from None
    finally:
        store.close()
    return ImportResult(
        path, sha, result.rows, result.text_rows, result.envelopes_new, result.duplicates, len(samples)
    )


def _read(
    path: Path, raw: bytes, devices: dict[str, ImportDevice]
) -> dict[str, list[tuple[str, int, object, int]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.DictReader(text.splitlines())
    try:
        missing = {"time", "device", "point", "value"} - set(reader.fieldnames or [])
        return _read_rows(path, reader, missing, devices)
    except csv.Error as exc:
        raise ImportFileError(f"{path}: line {reader.line_num}: {exc}") from None


def _read_rows(
    path: Path, reader: csv.DictReader[str], missing: set[str], devices: dict[str, ImportDevice]
) -> dict[str, list[tuple[str, int, object, int]]]:
    points = {dev: {p.name: p for p in d.points} for dev, d in devices.items()}
    samples: dict[str, list[tuple[str, int, object, int]]] = defaultdict(list)
    unknown_devices: dict[str, int] = {}
    unknown_points: dict[tuple[str, str], int] = {}
    bad: list[str] = []
    if missing:
        raise ImportFileError(
            f"{path}: missing column(s) {sorted(missing)} (need time, device, point, value[, quality])"
        )
    for line, row in enumerate(reader, start=2):
        dev, name = (row["device"] or "").strip(), (row["point"] or "").strip()  # None: a short row
        if dev not in devices:
            unknown_devices.setdefault(dev, line)
            continue
        point = points[dev].get(name)
        if point is None:
            unknown_points.setdefault((dev, name), line)
            continue
        try:
            quality = int(row.get("quality") or 0)
            if quality not in (0, 1, 2):
                raise ValueError(f"quality {quality} is not 0, 1 or 2")
            value, quality = _value(
                (row["value"] or "").strip(), point, devices[dev].state_maps.get(name), quality
            )
            samples[dev].append((name, _time_ns(row["time"] or ""), value, quality))
        except ValueError as exc:
            bad.append(f"line {line}: {exc}")
    problems: list[str] = []
    if unknown_devices:
        problems.append(
            "unknown device(s): "
            + ", ".join(f"{d!r} (line {n})" for d, n in list(unknown_devices.items())[:MAX_LISTED])
        )
    if unknown_points:
        problems.append(
            "unknown point(s): "
            + ", ".join(f"{d}.{p} (line {n})" for (d, p), n in list(unknown_points.items())[:MAX_LISTED])
        )
    if bad:
        problems.append(f"{len(bad)} bad row(s): " + "; ".join(bad[:MAX_LISTED]))
    if problems:
        raise ImportFileError(f"{path}: " + "; ".join(problems) + "; nothing was stored")
    return dict(samples)
