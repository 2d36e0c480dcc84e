"""Sparkplug B 3.0 codec: topics, payloads (protobuf), STATE, sequence rules. Pure; errors are WireError.

The schema is `sparkplug_b.proto` beside this file; `_generated/` is protoc's output from it and is
imported by the codec only.
"""

# layering: pure

from wire.sparkplug.conventions import (
    BDSEQ,
    ENG_UNIT,
    QUALITY,
    REBIRTH,
    SCALE,
    SEQ_MODULUS,
    SP_QUALITY_BAD,
    SP_QUALITY_GOOD,
    SP_QUALITY_STALE,
    bdseq_metric,
    bdseq_of,
    is_rebirth_request,
    ndeath_payload,
    next_bdseq,
    next_seq,
    quality_of,
    quality_property,
    rebirth_metric,
    rebirth_request,
    seq_follows,
)
from wire.sparkplug.datatypes import BY_SPEC_NAME, DataType
from wire.sparkplug.decode import Datatypes, decode_payload, peek
from wire.sparkplug.encode import encode_payload
from wire.sparkplug.model import (
    DEFAULT_LIMITS,
    DataSet,
    Limits,
    MetaData,
    Metric,
    Payload,
    PropertySet,
    PropertyValue,
    Template,
    TemplateParameter,
)
from wire.sparkplug.state import HostState, decode_state, encode_state
from wire.sparkplug.topics import (
    NAMESPACE,
    MessageType,
    SparkplugTopic,
    edge_topic,
    parse_topic,
    state_topic,
    subscription,
)

__all__ = [
    "BDSEQ",
    "BY_SPEC_NAME",
    "DEFAULT_LIMITS",
    "ENG_UNIT",
    "NAMESPACE",
    "QUALITY",
    "REBIRTH",
    "SCALE",
    "SEQ_MODULUS",
    "SP_QUALITY_BAD",
    "SP_QUALITY_GOOD",
    "SP_QUALITY_STALE",
    "DataSet",
    "DataType",
    "Datatypes",
    "HostState",
    "Limits",
    "MessageType",
    "MetaData",
    "Metric",
    "Payload",
    "PropertySet",
    "PropertyValue",
    "SparkplugTopic",
    "Template",
    "TemplateParameter",
    "bdseq_metric",
    "bdseq_of",
    "decode_payload",
    "decode_state",
    "edge_topic",
    "encode_payload",
    "encode_state",
    "is_rebirth_request",
    "ndeath_payload",
    "next_bdseq",
    "next_seq",
    "parse_topic",
    "peek",
    "quality_of",
    "quality_property",
    "rebirth_metric",
    "rebirth_request",
    "seq_follows",
    "state_topic",
    "subscription",
]
