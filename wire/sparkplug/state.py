"""The host application's STATE message: UTF-8 JSON `{"online": bool, "timestamp": ms}`. Pure.

Published retained with QoS 1 on `spBv1.0/STATE/{host_id}`: `online: true` as the birth, and as the
MQTT Will `online: false` with the CONNECT time, which the birth then repeats. Edge nodes compare
timestamps to ignore a stale message, so the timestamp is required. Other keys are ignored.
"""

# layering: pure

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

import msgspec

from wire.errors import WireError

MAX_STATE_BYTES: Final = 4096
_Millis = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class _StateJson(msgspec.Struct, frozen=True):
    online: bool
    timestamp: _Millis


_decoder = msgspec.json.Decoder(_StateJson)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class HostState:
    online: bool
    timestamp: int  # ms since the epoch, UTC


def encode_state(state: HostState) -> bytes:
    if not 0 <= state.timestamp <= 2**63 - 1:
        raise WireError(f"STATE timestamp {state.timestamp} is out of range", "$.timestamp")
    return _encoder.encode(_StateJson(online=state.online, timestamp=state.timestamp))


def decode_state(payload: bytes | bytearray | memoryview) -> HostState:
    if len(payload) > MAX_STATE_BYTES:
        raise WireError(f"STATE payload of {len(payload)} bytes exceeds {MAX_STATE_BYTES}", "$")
    try:
        raw = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = "$.timestamp" if "timestamp" in message else "$.online" if "online" in message else "$"
        raise WireError(f"STATE: {message}", field) from None
    except msgspec.DecodeError as exc:
        raise WireError(f"STATE is not JSON: {exc}", "$") from None
    return HostState(raw.online, raw.timestamp)
