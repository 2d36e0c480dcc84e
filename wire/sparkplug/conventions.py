"""Names, numbers and sequence rules of Sparkplug B 3.0 that sit on top of the payload. Pure.

- `seq` runs 0..255 per edge node: NBIRTH carries 0, every later message from that edge node
  (DBIRTH, NDATA, DDATA, DDEATH) one more, 255 wraps to 0; NDEATH carries none.
- `bdSeq` (an Int64 metric) is the birth/death pairing: one value per MQTT session, the same in
  the NDEATH registered as the Will and in every NBIRTH of that session; it also wraps 255 → 0.
- `Node Control/Rebirth`: Boolean false in every NBIRTH; a host sets it true in an NCMD to ask for
  a new NBIRTH and all DBIRTHs.
- Quality, when not good, is the metric property `Quality`: Int32 0 (bad), 192 (good), 500 (stale).
"""

# layering: pure

from __future__ import annotations

from typing import Final

from wire.envelope import QUALITY_BAD, QUALITY_GOOD, QUALITY_UNCERTAIN
from wire.errors import WireError
from wire.sparkplug.datatypes import DataType
from wire.sparkplug.model import Metric, Payload, PropertyValue

SEQ_MODULUS: Final = 256
BDSEQ: Final = "bdSeq"
REBIRTH: Final = "Node Control/Rebirth"

QUALITY: Final = "Quality"
SP_QUALITY_BAD: Final = 0
SP_QUALITY_GOOD: Final = 192
SP_QUALITY_STALE: Final = 500
# Sparkplug's codes against the JSON envelope's 0 good / 1 uncertain / 2 bad; stale is uncertain.
_TO_ENVELOPE: Final = {
    SP_QUALITY_GOOD: QUALITY_GOOD,
    SP_QUALITY_STALE: QUALITY_UNCERTAIN,
    SP_QUALITY_BAD: QUALITY_BAD,
}
_FROM_ENVELOPE: Final = {v: k for k, v in _TO_ENVELOPE.items()}

# Metric property names Ignition-style hosts show as tag properties (strings in engineering terms).
ENG_UNIT: Final = "engUnit"
# Not a Sparkplug-defined property: the factor the gateway applied to the raw register value.
SCALE: Final = "scale"


def next_seq(seq: int) -> int:
    """The seq of the message after one numbered `seq` (255 → 0)."""
    return (seq + 1) % SEQ_MODULUS


def seq_follows(previous: int, current: int) -> bool:
    """Whether `current` is the seq that must follow `previous`: a gap or repeat is False."""
    return 0 <= current < SEQ_MODULUS and current == next_seq(previous)


def next_bdseq(bdseq: int) -> int:
    """The bdSeq for the next MQTT session (255 → 0)."""
    return (bdseq + 1) % SEQ_MODULUS


def bdseq_metric(bdseq: int, timestamp: int | None = None) -> Metric:
    if not 0 <= bdseq < SEQ_MODULUS:
        raise WireError(f"bdSeq {bdseq} is outside 0..255", BDSEQ)
    return Metric(DataType.INT64, bdseq, name=BDSEQ, timestamp=timestamp)


def rebirth_metric(timestamp: int | None = None, *, requested: bool = False) -> Metric:
    """False in an NBIRTH (the specification gives it no alias); True in a host's NCMD."""
    return Metric(DataType.BOOLEAN, requested, name=REBIRTH, timestamp=timestamp)


def ndeath_payload(bdseq: int, timestamp: int | None = None) -> Payload:
    """The NDEATH an edge node registers as its MQTT Will: the bdSeq metric and no seq."""
    return Payload(timestamp=timestamp, metrics=(bdseq_metric(bdseq),))


def rebirth_request(timestamp: int) -> Payload:
    """The NCMD payload a host sends to ask an edge node for a new birth sequence."""
    return Payload(timestamp=timestamp, metrics=(rebirth_metric(timestamp, requested=True),))


def bdseq_of(payload: Payload) -> int:
    """The bdSeq an NBIRTH or NDEATH carries (any integer datatype is read: some send UInt64)."""
    for metric in payload.metrics:
        if metric.name == BDSEQ:
            if isinstance(metric.value, bool) or not isinstance(metric.value, int):
                raise WireError(f"bdSeq metric has no integer value ({metric.datatype.spec_name})", BDSEQ)
            return metric.value
    raise WireError("payload has no bdSeq metric", BDSEQ)


def is_rebirth_request(payload: Payload) -> bool:
    return any(m.name == REBIRTH and m.value is True for m in payload.metrics)


def quality_property(quality: int) -> PropertyValue:
    """The `Quality` property for an envelope quality (0 good, 1 uncertain, 2 bad)."""
    if quality not in _FROM_ENVELOPE:
        raise WireError(f"quality {quality} is not 0, 1 or 2", QUALITY)
    return PropertyValue(DataType.INT32, _FROM_ENVELOPE[quality])


def quality_of(metric: Metric) -> int:
    """The envelope quality of a metric: good without a `Quality` property, else its mapping."""
    prop = (metric.properties or {}).get(QUALITY)
    if prop is None or prop.value is None:
        return QUALITY_GOOD
    code = prop.value
    if isinstance(code, bool) or not isinstance(code, int) or code not in _TO_ENVELOPE:
        raise WireError(f"metric {metric.label}: Quality {code!r} is not 0, 192 or 500", QUALITY)
    return _TO_ENVELOPE[code]
