"""JSON envelope v1: typed models, encode/decode, canonical bytes and digest.

Every envelope names its schema in the `schema` field (`plantproof.<kind>/<version>`); the decoder
picks the model from it. Unknown fields are refused: a new field means a new schema version, and
every old version keeps decoding (golden files under tests/golden/wire pin them). The one
extension within v1: a bad or uncertain sample may carry a fifth element, the source's status code
(`wire.samples`).
"""

# layering: pure

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import msgspec

from wire.errors import WireError
from wire.samples import LooseSamples, StatusCode, convert_samples, fifth_element_error
from wire.topics import ID_PATTERN

MAX_SAMPLES: Final = 10_000
MAX_POINTS: Final = 10_000
# Free-form command arguments and results: at most this deep and this many values in all, so no
# consumer (collector, gateway, management client) meets a structure it cannot walk.
MAX_DEPTH: Final = 16
MAX_NODES: Final = 10_000
MAX_TEXT: Final = 1_024  # descriptive strings (unit, area, line, reasons, errors)

Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
PointName = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Nanos = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Quality = Annotated[int, msgspec.Meta(ge=0, le=2)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
Value = bool | int | float | str | None
# [point, source timestamp (ns since epoch), value, quality]
Sample = tuple[PointName, Nanos, Value, Quality]
# ... and a bad/uncertain sample's source status code (wire.samples): a v1 extension
SampleWithStatus = tuple[PointName, Nanos, Value, Quality, StatusCode]

QUALITY_GOOD: Final = 0
QUALITY_UNCERTAIN: Final = 1
QUALITY_BAD: Final = 2

PointKind = Literal["analog", "state", "counter", "energy", "switch", "setpoint"]
DType = Literal["bool", "int16", "uint16", "int32", "uint32", "int64", "float32", "float64", "string"]
Sector = Literal["discrete", "process"]
CommandOp = Literal["ping", "read_config", "write_setpoint"]


class _Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="schema"):
    pass


class Data(_Envelope, frozen=True, tag="plantproof.data/1"):
    gw: Id
    dev: Id
    seq: Seq
    sent: Nanos
    if TYPE_CHECKING:  # what the samples are; msgspec decodes the plain form, `decode` falls back
        samples: Sequence[Sample | SampleWithStatus]
    else:
        samples: Annotated[list[Sample], msgspec.Meta(min_length=1, max_length=MAX_SAMPLES)]


class _DataLoose(_Envelope, frozen=True, tag="plantproof.data/1"):
    """A data envelope whose samples are checked one by one (some carry a fifth element)."""

    gw: Id
    dev: Id
    seq: Seq
    sent: Nanos
    samples: Annotated[LooseSamples, msgspec.Meta(min_length=1, max_length=MAX_SAMPLES)]


class PointInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: PointName
    kind: PointKind
    dtype: DType
    unit: Text = ""
    scale: float = 1.0
    offset: float = 0.0
    # For counters and energy registers: the value (in engineering units) at which the raw register
    # wraps to zero, so consumers can unwrap totals. None when it cannot wrap.
    wrap: float | None = None


class DeviceInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    industry: Annotated[str, msgspec.Meta(pattern=r"^[A-Z][0-9]{2,4}$")]
    sector: Sector
    simulated: bool = False
    managed: bool = False
    area: Text | None = None
    line: Text | None = None
    protocol: Text | None = None
    ideal_rate_per_hour: float | None = None


class Birth(_Envelope, frozen=True, tag="plantproof.birth/1"):
    gw: Id
    dev: Id
    seq: Seq
    sent: Nanos
    device: DeviceInfo
    points: Annotated[list[PointInfo], msgspec.Meta(min_length=1, max_length=MAX_POINTS)]


class Death(_Envelope, frozen=True, tag="plantproof.death/1"):
    gw: Id
    dev: Id
    seq: Seq
    sent: Nanos
    reason: Text = ""


class Command(_Envelope, frozen=True, tag="plantproof.cmd/1"):
    id: Id
    dev: Id
    op: CommandOp
    sent: Nanos
    args: Annotated[dict[str, Any], msgspec.Meta(max_length=64)] = {}


class CommandResult(_Envelope, frozen=True, tag="plantproof.cmdres/1"):
    id: Id
    gw: Id
    dev: Id
    ok: bool
    sent: Nanos
    result: dict[str, Any] | None = None
    error: Text | None = None


# Envelopes a gateway numbers with its `seq` (they enter the provenance ledger).
Sequenced = Data | Birth | Death
Envelope = Data | Birth | Death | Command | CommandResult

SCHEMA_BY_KIND: Final[dict[str, type[_Envelope]]] = {
    "data": Data,
    "birth": Birth,
    "death": Death,
    "cmd": Command,
    "cmd/res": CommandResult,
}

STATUS_ONLINE: Final = b"online"
STATUS_OFFLINE: Final = b"offline"

_decoder = msgspec.json.Decoder(Envelope)
_loose_decoder = msgspec.json.Decoder(_DataLoose)
_encoder = msgspec.json.Encoder()
_canonical = msgspec.json.Encoder(order="sorted")
_AT = re.compile(r" - at `([^`]*)`$")


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(payload: bytes | bytearray | memoryview | str) -> Envelope:
    """Decode and validate; WireError names the offending field as a JSON path.

    WireError is the only exception: nesting too deep for the decoder is one too.
    """
    try:
        envelope = _decoder.decode(payload)
    except RecursionError:
        raise WireError("nesting deeper than the decoder allows", "$") from None
    except msgspec.ValidationError as exc:
        message = str(exc)
        if fifth_element_error(message):
            return _decode_with_status(payload)
        match = _AT.search(message)
        field = match.group(1) if match else "$"
        if "missing required field `schema`" in message:
            field = "$.schema"
        raise WireError(message, field) from None
    except msgspec.DecodeError as exc:
        raise WireError(f"malformed JSON: {exc}", "$") from None
    if isinstance(envelope, Command):
        _check_free_form(envelope.args, "$.args")
    elif isinstance(envelope, CommandResult) and envelope.result is not None:
        _check_free_form(envelope.result, "$.result")
    return envelope


def _check_free_form(value: object, field: str) -> None:
    """Refuse free-form values nested deeper than MAX_DEPTH or holding more than MAX_NODES values."""
    stack: list[tuple[object, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise WireError(f"more than {MAX_NODES} values", field)
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise WireError(f"nesting deeper than {MAX_DEPTH} levels", field)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _decode_with_status(payload: bytes | bytearray | memoryview | str) -> Data:
    # The strict decoder stopped at the first five-element sample: the rest of the payload is read
    # for the first time here, so it may still be malformed or too deep.
    try:
        loose = _loose_decoder.decode(payload)
    except RecursionError:
        raise WireError("nesting deeper than the decoder allows", "$") from None
    except msgspec.ValidationError as exc:
        match = _AT.search(str(exc))
        raise WireError(str(exc), match.group(1) if match else "$") from None
    except msgspec.DecodeError as exc:
        raise WireError(f"malformed JSON: {exc}", "$") from None
    samples = convert_samples(loose.samples, Sample, SampleWithStatus)
    return Data(gw=loose.gw, dev=loose.dev, seq=loose.seq, sent=loose.sent, samples=samples)


def decode_as(kind: str, payload: bytes | bytearray | memoryview | str) -> Envelope:
    """Decode a payload received on a topic of `kind`, refusing a schema that does not belong there."""
    envelope = decode(payload)
    expected = SCHEMA_BY_KIND.get(kind)
    if expected is None or not isinstance(envelope, expected):
        raise WireError(
            f"a {type(envelope).__name__} envelope does not belong on a '{kind}' topic", "$.schema"
        )
    return envelope


def canonical_bytes(envelope: Envelope) -> bytes:
    """Sorted keys, no whitespace, shortest float form: the bytes the ledger digest is taken over."""
    return _canonical.encode(envelope)


def digest(envelope: Envelope) -> str:
    return hashlib.sha256(canonical_bytes(envelope)).hexdigest()


def schema_of(envelope: Envelope) -> str:
    tag = type(envelope).__struct_config__.tag
    return str(tag)
