"""End-to-end acknowledgement between a gateway and the collectors (DESIGN §3).

`pp/v1/{site}/{gw}/$stored` (retained, QoS 1, published by a collector after its commit): every
envelope of `gw` with seq <= `seq` is committed — stored, or refused into dead letters with its
reason. The gateway deletes spooled envelopes up to it and no further; `seq` -1: nothing yet.

`pp/v1/{site}/{gw}/$dropped` (retained, QoS 1, published by the gateway): every envelope with seq <=
`through` that a collector does not hold was dropped by the gateway's bounded spool and will never
come; `count` is how many it dropped in all. The watermark passes over those seqs instead of waiting.
"""

# layering: pure

from typing import Annotated, Final, TypeVar

import msgspec

from wire.errors import WireError
from wire.topics import ID_PATTERN

_Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
_Nanos = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
NOTHING_STORED: Final = -1
T = TypeVar("T")


class Stored(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="schema",
             tag="plantproof.stored/1"):  # fmt: skip
    gw: _Id
    seq: Annotated[int, msgspec.Meta(ge=NOTHING_STORED, le=2**63 - 1)]
    sent: _Nanos


class Dropped(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="schema",
              tag="plantproof.dropped/1"):  # fmt: skip
    gw: _Id
    through: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    count: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    sent: _Nanos


_stored = msgspec.json.Decoder(Stored)
_dropped = msgspec.json.Decoder(Dropped)
_encoder = msgspec.json.Encoder()


def encode_ack(message: Stored | Dropped) -> bytes:
    return _encoder.encode(message)


def decode_stored(payload: bytes | bytearray | memoryview) -> Stored:
    return _decode(_stored, payload)


def decode_dropped(payload: bytes | bytearray | memoryview) -> Dropped:
    return _decode(_dropped, payload)


def _decode(decoder: "msgspec.json.Decoder[T]", payload: bytes | bytearray | memoryview) -> T:
    try:
        return decoder.decode(payload)
    except RecursionError:
        raise WireError("nesting too deep", "$") from None
    except msgspec.ValidationError as exc:
        raise WireError(str(exc), "$") from None
    except msgspec.DecodeError as exc:
        raise WireError(f"malformed JSON: {exc}", "$") from None
