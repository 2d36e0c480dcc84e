"""Historian CSV rows: streaming, hashing while reading, and row parsing with exact error places.

Pure but for reading the file: `open_rows` yields (line, fields) from a file of any size through a
1 MiB buffer while it hashes the bytes; `RowParser` turns fields into a sample or a `Problem` naming
the line and the column; `Findings` tallies what a whole file holds (bounded, whatever its size).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

import wire
from collector.errors import CollectorError
from devicemodel.states import canonical_state

REQUIRED = ("time", "device", "point", "value")
MAX_LISTED = 20  # problems quoted in a report (all are counted)
MAX_KEYS = 10_000  # distinct unknown devices/points/codes tallied; beyond that only counted
Unmapped = Literal["refuse", "no-data", "unknown-stop"]
Sample = tuple[str, int, object, int]


class ImportFileError(CollectorError):
    """A file that cannot be imported; the message says what was stored (nothing, or how far)."""


class _Hashing(io.RawIOBase):
    """Hashes and counts the bytes as they are read."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.sha.update(memoryview(buffer)[:n])
            self.done += n
        return int(n or 0)


@dataclass(slots=True)
class Source:
    """An open CSV: its header's column indexes, and the bytes read so far (for progress)."""

    path: Path
    hashing: _Hashing
    columns: dict[str, int]
    width: int

    @property
    def bytes_read(self) -> int:
        return self.hashing.done

    def sha256(self) -> str:
        return self.hashing.sha.hexdigest()


def open_rows(path: Path) -> tuple[Source, Iterator[tuple[int, list[str]]]]:
    """The file's header and an iterator of (line number, fields) for every data row."""
    raw = path.open("rb")
    hashing = _Hashing(raw)
    text = io.TextIOWrapper(io.BufferedReader(hashing, 1 << 20), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        text.close()
        raise ImportFileError(f"{path}: line 1: {exc}") from None
    if header is None:
        text.close()
        raise ImportFileError(f"{path}: empty file (need a header: time, device, point, value[, quality])")
    columns = {name.strip(): i for i, name in enumerate(header)}
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        text.close()
        need = "need time, device, point, value[, quality]"
        raise ImportFileError(f"{path}: missing column(s) {missing} ({need})")
    source = Source(path, hashing, columns, len(header))

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ImportFileError(f"{path}: line {reader.line_num}: {exc}") from None
                except UnicodeDecodeError as exc:
                    where = f"near line {reader.line_num + 1}"
                    raise ImportFileError(f"{path}: {where}: not UTF-8: {exc}") from None
                if fields:
                    yield reader.line_num, fields
        finally:
            text.close()

    return source, rows()


@dataclass(frozen=True, slots=True)
class ImportDevice:
    info: wire.DeviceInfo
    points: list[wire.PointInfo]
    # point -> device code -> canonical state name
    state_maps: dict[str, dict[int, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column!r}: {self.message}"


class _Unmapped(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


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


class RowParser:
    """Fields of one row -> (device, sample), or a Problem naming line and column."""

    def __init__(
        self, source: Source, devices: dict[str, ImportDevice], window: tuple[int, int], unmapped: Unmapped
    ) -> None:
        c = source.columns
        self.width = source.width
        self.i_time, self.i_dev, self.i_point, self.i_value = c["time"], c["device"], c["point"], c["value"]
        self.i_quality = c.get("quality")
        self.names = list(c)
        self.devices = devices
        # device -> point -> (how its values parse, the point, its state map)
        self.points: dict[str, dict[str, tuple[str, wire.PointInfo, dict[int, str]]]] = {
            dev: {p.name: (_parse_kind(p), p, d.state_maps.get(p.name, {})) for p in d.points}
            for dev, d in devices.items()
        }
        self.window = window
        self.unmapped = unmapped
        self._last_time = ("", 0)  # rows of one instant are often next to each other

    def parse(self, line: int, fields: list[str]) -> tuple[str, Sample] | Problem:
        if len(fields) != self.width:
            what = "missing" if len(fields) < self.width else "extra"
            col = self.names[min(len(fields), self.width - 1)] if len(fields) < self.width else "-"
            return Problem(line, col, f"{len(fields)} fields, the header has {self.width} ({what} fields)")
        dev, name = fields[self.i_dev], fields[self.i_point]
        points = self.points.get(dev) or self.points.get(dev := dev.strip())
        if points is None:
            return Problem(line, "device", f"unknown device {dev!r}")
        found = points.get(name) or points.get(name := name.strip())
        if found is None:
            return Problem(line, "point", f"device {dev!r} has no point {name!r}")
        text = fields[self.i_time]
        if text == self._last_time[0]:
            ts = self._last_time[1]
        else:
            try:
                ts = _time_ns(text)
            except ValueError as exc:
                return Problem(line, "time", str(exc))
            lo, hi = self.window
            if not lo <= ts <= hi:
                return Problem(line, "time", f"{text.strip()!r} is outside the accepted window")
            self._last_time = (text, ts)
        quality = 0
        if self.i_quality is not None:
            q = fields[self.i_quality]
            if q != "0" and (q := q.strip()):
                if q not in ("0", "1", "2"):
                    return Problem(line, "quality", f"{q!r} is not 0, 1 or 2")
                quality = int(q)
        try:
            value, quality = self._value(fields[self.i_value].strip(), found, quality)
        except _Unmapped as exc:
            return Problem(line, "value", f"state code {exc.code} of {dev}.{name} is not in its state map")
        except ValueError as exc:
            return Problem(line, "value", str(exc))
        return dev, (name, ts, value, quality)

    def _value(
        self, text: str, found: tuple[str, wire.PointInfo, dict[int, str]], quality: int
    ) -> tuple[object, int]:
        kind, _, states = found
        if text == "":
            if quality != wire.QUALITY_BAD:
                raise ValueError("an empty value needs quality 2 (bad)")
            return None, quality
        if kind == "number":
            try:
                if "." not in text and "e" not in text and "E" not in text:
                    integer = int(text)  # integers stay exact (64 bits)
                    if not -(2**63) <= integer < 2**63:
                        raise OverflowError(text)
                    return integer, quality
            except ValueError:
                pass
            except OverflowError:
                raise ValueError(f"integer {text} does not fit 64 bits (int64)") from None
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None
            if not math.isfinite(number):
                raise ValueError(f"{text!r} is not a finite number")
            return number, quality
        if kind == "state":
            if text in wire.STATE_CODES:
                return text, quality
            try:
                code = int(text)
            except ValueError:
                raise ValueError(f"{text!r} is neither a canonical state nor a device state code") from None
            state, mapped = canonical_state(code, states)
            if mapped:
                return state, quality
            if self.unmapped == "unknown-stop":
                return state, max(quality, wire.QUALITY_UNCERTAIN)
            if self.unmapped == "no-data":
                return None, wire.QUALITY_BAD
            raise _Unmapped(code)
        if kind == "string":
            return text, quality
        low = text.lower()
        if low in ("true", "1"):
            return True, quality
        if low in ("false", "0"):
            return False, quality
        raise ValueError(f"{text!r} is not a boolean")


def _parse_kind(p: wire.PointInfo) -> str:
    if p.kind == "state":
        return "state"
    return p.dtype if p.dtype in ("string", "bool") else "number"


@dataclass(slots=True)
class Findings:
    """What a file holds, tallied in bounded memory."""

    rows: int = 0  # data rows read
    valid: int = 0
    bad: int = 0
    listed: list[Problem] = field(default_factory=list)
    unknown_devices: dict[str, list[int]] = field(default_factory=dict)  # name -> [count, first line]
    unknown_points: dict[str, list[int]] = field(default_factory=dict)
    unmapped: dict[str, list[int]] = field(default_factory=dict)  # "dev.point code N" -> ...
    devices: set[str] = field(default_factory=set)
    first_ns: int | None = None
    last_ns: int | None = None

    def add_problem(self, p: Problem, fields: list[str], parser: RowParser) -> None:
        self.bad += 1
        key: str | None = None
        tally = None
        if p.column in ("device", "point", "value") and len(fields) == parser.width:
            dev, point = fields[parser.i_dev].strip(), fields[parser.i_point].strip()
            if p.column == "device" and p.message.startswith("unknown device"):
                key, tally = dev, self.unknown_devices
            elif p.column == "point" and " has no point " in p.message:
                key, tally = f"{dev}.{point}", self.unknown_points
            elif p.column == "value" and p.message.startswith("state code "):
                key, tally = f"{dev}.{point} code {p.message.split()[2]}", self.unmapped
        if tally is not None and key is not None:
            if key in tally:
                tally[key][0] += 1
                return
            if len(tally) < MAX_KEYS:
                tally[key] = [1, p.line]
                return
        if len(self.listed) < MAX_LISTED:
            self.listed.append(p)

    def add_sample(self, dev: str, ts: int) -> None:
        self.valid += 1
        self.devices.add(dev)
        if self.first_ns is None or ts < self.first_ns:
            self.first_ns = ts
        if self.last_ns is None or ts > self.last_ns:
            self.last_ns = ts

    def report(self) -> str:
        """Every problem found, counted and quoted (first lines), or '' when there is none."""
        parts: list[str] = []

        def tally(title: str, items: dict[str, list[int]]) -> None:
            if items:
                shown = sorted(items.items(), key=lambda kv: kv[1][1])[:MAX_LISTED]
                more = f" and {len(items) - len(shown)} more" if len(items) > len(shown) else ""
                quoted = ", ".join(f"{k} ×{n:,} (first on line {first})" for k, (n, first) in shown)
                parts.append(f"{title}: {quoted}{more}")

        tally("unknown device(s)", self.unknown_devices)
        tally("unknown point(s)", self.unknown_points)
        hint = "add them to the device type's state map, or pass --unmapped"
        tally(f"unmapped state code(s) ({hint})", self.unmapped)
        others = self.bad - sum(n for d in (self.unknown_devices, self.unknown_points, self.unmapped)
                                for n, _ in d.values())  # fmt: skip
        if others:
            quoted = "; ".join(str(p) for p in self.listed)
            more = f" (first {len(self.listed)} shown)" if others > len(self.listed) else ""
            parts.append(f"{others:,} bad row(s){more}: {quoted}")
        return "; ".join(parts)
