"""Validation: a received MQTT message becomes a typed envelope, columnar rows, or a dead letter.

Pure: no I/O. The pipeline looks devices up in the registry between `parse` and `to_rows`.
"""

# layering: pure

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

import wire
from collector.errors import CollectorError
from collector.points import DevicePoints
from wire.topics import Topic

_NS_PER_S = 1_000_000_000
_NS_PER_DAY = 86_400 * _NS_PER_S
_EXACT = 2**53  # every integer up to this magnitude is exact as a double
_INT64 = (-(2**63), 2**63 - 1)
_STATE_CODES = {name: float(code) for name, code in wire.STATE_CODES.items()}


DECODER_FAULT = "could not be decoded: "


class RejectedError(CollectorError):
    """A message that must go to dead letters; the text is the recorded reason."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_payload_bytes: int = 1_048_576
    dead_letter_payload_bytes: int = 65_536
    max_future_s: float = 600.0
    max_past_days: float = 3_660.0

    def window(self, now_ns: int) -> tuple[int, int]:
        """The accepted source-timestamp range [lo, hi] in ns."""
        return now_ns - int(self.max_past_days * _NS_PER_DAY), now_ns + int(self.max_future_s * _NS_PER_S)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    error: str
    # The (gw, seq) of a refused gateway envelope, when it can be told: the watermark counts it handled.
    gw: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    size: int | None = None  # on the wire, when `payload` holds only the beginning of an oversized one


@dataclass(frozen=True, slots=True)
class Parsed:
    """A message that follows the wire contract; `envelope` is None for the gateway-level topics
    (`$status` carries `status`, `$dropped` carries `dropped`, `$stored` is a collector's own)."""

    topic: Topic
    envelope: wire.Envelope | None
    status: bytes | None = None
    payload: bytes = b""
    dropped: wire.Dropped | None = None


@dataclass(slots=True)
class Rows:
    """Readings of one data envelope, columnar (times in ns); strings go to `text`."""

    times: list[int] = field(default_factory=list)
    point_ids: list[int] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    qualities: list[int] = field(default_factory=list)
    text: list[tuple[int, int, str | None, int]] = field(default_factory=list)
    min_ts: int = 0
    max_ts: int = 0
    # row index -> the exact integer, for the rare integers a double would round (beyond 2^53)
    exact: dict[int, int] = field(default_factory=dict)
    # (time ns, point id, source status code) of the samples that carry one (the fifth element)
    status: list[tuple[int, int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.times) + len(self.text)


def dead_letter(
    topic: str, payload: bytes, error: str, limits: Limits, size: int | None = None,
    ident: tuple[str, int] | None = None,
) -> DeadLetter:  # fmt: skip
    """A dead letter keeping at most `dead_letter_payload_bytes` of the payload (`size`: its real size)."""
    size = len(payload) if size is None else size
    keep = payload[: limits.dead_letter_payload_bytes]
    if len(keep) < size:
        error = f"{error} (payload truncated to {len(keep)} of {size} bytes)"
    # Text columns hold no NUL character: the reason is always storable.
    gw, seq = ident if ident is not None else (None, None)
    return DeadLetter(topic.replace("\x00", "\\x00"), bytes(keep), error.replace("\x00", "\\x00"), gw, seq)


# The reason kind of a dead letter, from the start of its recorded text: a bounded label for metrics.
# Every text the collector writes matches one of these; anything else is "other".
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"oversized: ", "oversized"),
        (r"bad topic: ", "topic"),
        (r"bad \$status payload", "status_payload"),
        (r"invalid (envelope at|\$stored message|\$dropped message)", "invalid_envelope"),
        (r"(envelope|\$stored|\$dropped) (gw|dev) .* differs from the topic", "topic_mismatch"),
        (r"could not be decoded: ", "decode_error"),
        (r"could not be stored: ", "store_refused"),
        (r"no birth yet for device ", "no_birth"),
        (r"no device ", "unknown_device"),
        (r"seq reuse", "seq_reuse"),
        (r"unsolicited cmd/res", "unsolicited_answer"),
        (r"forged cmd/res", "forged_answer"),
        (r"late cmd/res", "late_answer"),
        (r"device .* is owned by ", "not_owner"),
        (r"\$\.sent: .* outside the window", "out_of_window"),
        (r"\$\.samples\[\d+\]: timestamp .* outside the window", "out_of_window"),
        (r"\$\.samples\[\d+\]: point .* is not in the birth", "unknown_point"),
        (r"\$\.samples\[\d+\]: ", "bad_value"),
        (r"invalid Sparkplug payload", "sparkplug_payload"),
        (r"sparkplug: no (NBIRTH yet|DBIRTH|NBIRTH metric)", "no_birth"),
        (r"sparkplug: (seq gap|edge node .* out of step)", "seq_gap"),
        (r"sparkplug: metrics\[\d+\]: (unknown alias|metric .* is not in the BIRTH)", "unknown_metric"),
        (r"sparkplug: metrics\[\d+\]: metric .* in the BIRTH of", "datatype_mismatch"),
        (r"sparkplug: BIRTH of .* names no device type", "no_device_type"),
        (r"sparkplug: BIRTH values refused: ", "bad_value"),
        (r"sparkplug: (edge node|metric) limit: ", "sparkplug_limit"),
        (r"sparkplug: ", "sparkplug_invalid"),
    )
)


def reason_of(error: str) -> str:
    """The kind of a dead letter's reason (oversized, topic, no_birth, seq_reuse, ...; else other)."""
    for pattern, kind in _REASONS:
        if pattern.match(error):
            return kind
    return "other"


class _Identity(msgspec.Struct):
    schema: str = ""
    gw: str = ""
    seq: int = -1


_identity = msgspec.json.Decoder(_Identity)
_SEQUENCED_SCHEMAS = {"data": "plantproof.data/", "birth": "plantproof.birth/", "death": "plantproof.death/"}


def identify(topic: str, payload: bytes) -> tuple[str, int] | None:
    """(gw, seq) of a gateway envelope that failed validation, if its topic and fields still say so.

    Only an envelope on its own gateway's topic counts: the broker's ACL lets a gateway publish only
    there, so no account can mark another gateway's seqs handled.
    """
    try:
        parsed = wire.parse_topic(topic)
        ident = _identity.decode(payload)
    except (wire.WireError, msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    prefix = _SEQUENCED_SCHEMAS.get(parsed.kind)
    if prefix is None or not ident.schema.startswith(prefix) or ident.gw != parsed.gateway:
        return None
    return (ident.gw, ident.seq) if 0 <= ident.seq < 2**63 else None


def parse(topic: str, payload: bytes, limits: Limits, size: int | None = None) -> Parsed:
    """Topic and envelope checks that need no registry; raises RejectedError with the reason.

    `size` is the payload's size on the wire when `payload` holds only its beginning (oversized).
    """
    size = len(payload) if size is None else size
    if size > limits.max_payload_bytes:
        raise RejectedError(f"oversized: {size} bytes > limit {limits.max_payload_bytes}")
    try:
        parsed = wire.parse_topic(topic)
    except wire.WireError as exc:
        raise RejectedError(f"bad topic: {exc}") from None
    if parsed.kind == "$status":
        if payload not in (wire.STATUS_ONLINE, wire.STATUS_OFFLINE):
            raise RejectedError(f"bad $status payload {payload[:32]!r}: expected b'online' or b'offline'")
        return Parsed(parsed, None, bytes(payload))
    if parsed.kind in ("$stored", "$dropped"):
        return _parse_ack(parsed, payload)
    try:
        envelope = wire.decode_as(parsed.kind, payload)
    except wire.WireError as exc:
        raise RejectedError(f"invalid envelope at {exc.field}: {exc}") from None
    gw = getattr(envelope, "gw", None)
    if gw is not None and gw != parsed.gateway:
        raise RejectedError(f"envelope gw {gw!r} differs from the topic's gateway {parsed.gateway!r}")
    if envelope.dev != parsed.device:
        raise RejectedError(
            f"envelope dev {envelope.dev!r} differs from the topic's device {parsed.device!r}"
        )
    if isinstance(envelope, wire.Birth):
        twice = _repeated(p.name for p in envelope.points)
        if twice is not None:
            raise RejectedError(f"invalid envelope at $.points: point {twice!r} appears twice")
    return Parsed(parsed, envelope, None, payload)


def _repeated(names: Iterable[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _parse_ack(topic: Topic, payload: bytes) -> Parsed:
    try:
        ack = wire.decode_stored(payload) if topic.kind == "$stored" else wire.decode_dropped(payload)
    except wire.WireError as exc:
        raise RejectedError(f"invalid {topic.kind} message: {exc}") from None
    if ack.gw != topic.gateway:
        raise RejectedError(f"{topic.kind} gw {ack.gw!r} differs from the topic's gateway {topic.gateway!r}")
    return Parsed(topic, None, payload=payload, dropped=ack if isinstance(ack, wire.Dropped) else None)


_NUMBERS = frozenset((int, float))


def to_rows(data: wire.Data, device: DevicePoints, window: tuple[int, int]) -> Rows:
    """Check every sample against the device's birth and convert it; the first bad sample rejects all."""
    try:
        names, times, values, qualities = zip(*data.samples, strict=True)
    except ValueError:  # some samples carry a status code (a fifth element)
        return _to_rows_checked(data, device, window)
    lo, hi = window
    first, last = min(times), max(times)
    # Fast path, all at C speed: every point plain numeric, every value an int or float that a double
    # holds exactly, all in window.
    if (
        lo <= first
        and last <= hi
        and device.plain.issuperset(names)
        and _NUMBERS.issuperset(map(type, values))
        and min(values) >= -_EXACT
        and max(values) <= _EXACT
    ):
        ids = device.ids
        return Rows(
            list(times), list(map(ids.__getitem__, names)), list(values), list(qualities), [], first, last
        )
    return _to_rows_checked(data, device, window)


def _to_rows_checked(data: wire.Data, device: DevicePoints, window: tuple[int, int]) -> Rows:
    lo, hi = window
    rows = Rows(min_ts=hi, max_ts=lo)
    points = device.points
    times, pids, values, quals = rows.times, rows.point_ids, rows.values, rows.qualities
    min_ts, max_ts = hi, lo
    for i, sample in enumerate(data.samples):
        name, ts, value, quality = sample[:4]
        ref = points.get(name)
        if ref is None:
            raise RejectedError(f"$.samples[{i}]: point {name!r} is not in the birth of device {data.dev!r}")
        if ts < lo or ts > hi:
            raise RejectedError(f"$.samples[{i}]: timestamp {ts} ns is outside the window [{lo}, {hi}]")
        if ts < min_ts:
            min_ts = ts
        if ts > max_ts:
            max_ts = ts
        if value is None:
            if quality != wire.QUALITY_BAD:
                raise RejectedError(f"$.samples[{i}]: null value for {name!r} needs quality 2 (bad)")
            number: float | None = None
        elif ref.dtype == "string":
            if not isinstance(value, str):
                raise RejectedError(f"$.samples[{i}]: point {name!r} is a string point, got {value!r}")
            rows.text.append((ts, ref.point_id, value, quality))
            if len(sample) > 4:
                rows.status.append((ts, ref.point_id, sample[4]))
            continue
        elif ref.kind == "state":
            code = _STATE_CODES.get(value) if isinstance(value, str) else None
            if code is None:
                raise RejectedError(f"$.samples[{i}]: {value!r} is not a canonical state for {name!r}")
            number = code
        elif value.__class__ is float:
            number = value
        elif value.__class__ is int:
            number = float(value)
            if not -_EXACT <= value <= _EXACT and int(number) != value:
                if not _INT64[0] <= value <= _INT64[1]:
                    raise RejectedError(
                        f"$.samples[{i}]: integer {value} for {name!r} does not fit 64 bits"
                        " (int64); it cannot be stored exactly"
                    )
                rows.exact[len(values)] = value
        elif value.__class__ is bool:
            if ref.dtype != "bool":
                raise RejectedError(f"$.samples[{i}]: boolean value for numeric point {name!r}")
            number = 1.0 if value else 0.0
        else:
            raise RejectedError(f"$.samples[{i}]: non-numeric value {value!r} for point {name!r}")
        times.append(ts)
        pids.append(ref.point_id)
        values.append(number)
        quals.append(quality)
        if len(sample) > 4:
            rows.status.append((ts, ref.point_id, sample[4]))
    rows.min_ts, rows.max_ts = min_ts, max_ts
    return rows


def parse_batch(messages: Iterable[Message], limits: Limits) -> tuple[list[Parsed], list[DeadLetter]]:
    """Every message parsed, or a dead letter with the reason: the checks that need no database.

    A fault of the decoder itself costs its one message ("could not be decoded: ..."), never the batch.
    """
    parsed: list[Parsed] = []
    dead: list[DeadLetter] = []
    for msg in messages:
        try:
            parsed.append(parse(msg.topic, msg.payload, limits, msg.size))
            continue
        except RejectedError as exc:
            why = str(exc)
        except Exception as exc:  # a decoder fault must cost one message, never the process
            why = f"{DECODER_FAULT}{type(exc).__name__}: {exc}"
        ident = identify(msg.topic, msg.payload) if msg.size is None else None
        dead.append(dead_letter(msg.topic, msg.payload, why, limits, msg.size, ident))
    return parsed, dead
