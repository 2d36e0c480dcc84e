"""Reading what a Sparkplug gateway published: decode with wire.sparkplug, resolve aliases by BIRTH."""

from __future__ import annotations

from dataclasses import dataclass

from tests.gateway.helpers import Received, Subscriber
from wire import sparkplug as sp
from wire.sparkplug import DataType, MessageType, Payload, SparkplugTopic

HOST_MESSAGES = (MessageType.STATE, MessageType.NCMD, MessageType.DCMD)


@dataclass(frozen=True)
class Message:
    topic: SparkplugTopic
    payload: Payload
    raw: bytes

    @property
    def kind(self) -> MessageType:
        return self.topic.message_type


def decode_all(messages: list[Received], edge_node: str) -> list[Message]:
    """Every message of one edge node (not its hosts' commands) in arrival order; DATA is decoded
    against the BIRTHs before it."""
    datatypes: dict[int | str, DataType] = {}
    out = []
    for m in messages:
        topic = sp.parse_topic(m.topic)
        if topic.message_type in HOST_MESSAGES or topic.edge_node_id != edge_node:
            continue
        payload = sp.decode_payload(m.payload, datatypes=datatypes)
        if topic.message_type in (MessageType.NBIRTH, MessageType.DBIRTH):
            for metric in payload.metrics:
                if metric.alias is not None:
                    datatypes[metric.alias] = metric.datatype
        out.append(Message(topic, payload, m.payload))
    return out


def of(sub: Subscriber, edge_node: str, kind: MessageType | None = None) -> list[Message]:
    with sub.cond:
        received = list(sub.messages)
    return [m for m in decode_all(received, edge_node) if kind is None or m.kind == kind]


def names_by_alias(messages: list[Message]) -> dict[int, tuple[str, str]]:
    """alias → (device, metric name), from every DBIRTH."""
    out: dict[int, tuple[str, str]] = {}
    for m in messages:
        if m.kind == MessageType.DBIRTH:
            for metric in m.payload.metrics:
                assert metric.name is not None
                if metric.alias is not None:  # Properties/* are BIRTH-only, without alias
                    out[metric.alias] = (str(m.topic.device_id), metric.name)
    return out


def check_seqs(messages: list[Message]) -> int:
    """Every message after an NBIRTH follows the one before it (mod 256); returns how many were checked."""
    checked = 0
    previous: int | None = None
    last_raw = b""
    for m in messages:
        if m.kind == MessageType.NDEATH:
            assert m.payload.seq is None, "an NDEATH carries no seq"
            continue
        assert m.payload.seq is not None, f"{m.kind} without seq"
        if m.raw == last_raw:
            continue  # the same message again: QoS 1 is at least once (around a broker restart)
        last_raw = m.raw
        if m.kind == MessageType.NBIRTH:
            assert m.payload.seq == 0, "an NBIRTH has seq 0"
        elif previous is not None:
            assert sp.seq_follows(previous, m.payload.seq), f"{m.kind} seq {m.payload.seq} after {previous}"
            checked += 1
        previous = m.payload.seq
    return checked
