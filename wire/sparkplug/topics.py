"""Sparkplug B topics: `spBv1.0/{group_id}/{message_type}/{edge_node_id}[/{device_id}]` and the host
application's `spBv1.0/STATE/{host_id}`. Pure.

Ids are UTF-8 strings without `+`, `/` or `#` (the specification's rule); we also refuse empty ids,
NUL and ids over 255 UTF-8 bytes, so a topic stays a handful of bounded MQTT levels.
"""

# layering: pure

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from wire.errors import WireError

NAMESPACE: Final = "spBv1.0"
MAX_ID_BYTES: Final = 255


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    NDATA = "NDATA"
    NCMD = "NCMD"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    DDATA = "DDATA"
    DCMD = "DCMD"
    STATE = "STATE"

    @property
    def is_device(self) -> bool:
        return self in _DEVICE_TYPES


_DEVICE_TYPES: Final = frozenset(
    {MessageType.DBIRTH, MessageType.DDEATH, MessageType.DDATA, MessageType.DCMD}
)


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    """A parsed topic. For STATE, `host_id` is set and the edge-node fields are empty."""

    message_type: MessageType
    group_id: str = ""
    edge_node_id: str = ""
    device_id: str | None = None
    host_id: str | None = None

    def __str__(self) -> str:
        if self.message_type == MessageType.STATE:
            return f"{NAMESPACE}/STATE/{self.host_id}"
        tail = f"/{self.device_id}" if self.device_id is not None else ""
        return f"{NAMESPACE}/{self.group_id}/{self.message_type}/{self.edge_node_id}{tail}"


def check_sparkplug_id(value: str, what: str) -> str:
    if not value or any(c in value for c in "+/#\0") or len(value.encode("utf-8", "replace")) > MAX_ID_BYTES:
        raise WireError(
            f"{what} {value!r} is not a valid Sparkplug id (1-{MAX_ID_BYTES} UTF-8 bytes, no '+', '/', '#')",
            what,
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise WireError(f"{what} {value!r} is not valid UTF-8", what) from None
    return value


def edge_topic(
    group_id: str, message_type: MessageType, edge_node_id: str, device_id: str | None = None
) -> str:
    """The topic of an edge-node message; device messages need `device_id`, node messages refuse it."""
    if message_type == MessageType.STATE:
        raise WireError("STATE topics name a host: use state_topic()", "message_type")
    if message_type.is_device != (device_id is not None):
        need = "needs" if message_type.is_device else "takes no"
        raise WireError(f"{message_type} {need} device id", "device_id")
    check_sparkplug_id(group_id, "group_id")
    check_sparkplug_id(edge_node_id, "edge_node_id")
    if device_id is not None:
        check_sparkplug_id(device_id, "device_id")
    return str(SparkplugTopic(message_type, group_id, edge_node_id, device_id))


def state_topic(host_id: str) -> str:
    check_sparkplug_id(host_id, "host_id")
    return f"{NAMESPACE}/STATE/{host_id}"


def subscription(group_id: str = "+", edge_node_id: str = "+") -> str:
    """A filter for every edge-node message of a group / edge node (defaults: all of them)."""
    if group_id != "+":
        check_sparkplug_id(group_id, "group_id")
    if edge_node_id != "+":
        check_sparkplug_id(edge_node_id, "edge_node_id")
    return f"{NAMESPACE}/{group_id}/+/{edge_node_id}/#"


def parse_topic(topic: str) -> SparkplugTopic:
    parts = topic.split("/")
    if parts[0] != NAMESPACE:
        raise WireError(f"topic {topic!r} is not under {NAMESPACE}/", "topic")
    if len(parts) == 3 and parts[1] == "STATE":
        return SparkplugTopic(MessageType.STATE, host_id=check_sparkplug_id(parts[2], "host_id"))
    if len(parts) not in (4, 5):
        raise WireError(f"topic {topic!r} does not have 4 or 5 levels", "topic")
    try:
        message_type = MessageType(parts[2])
    except ValueError:
        raise WireError(f"topic {topic!r} has unknown message type {parts[2]!r}", "message_type") from None
    if message_type == MessageType.STATE:
        raise WireError(f"topic {topic!r}: STATE topics are {NAMESPACE}/STATE/{{host_id}}", "message_type")
    device_id = parts[4] if len(parts) == 5 else None
    if message_type.is_device != (device_id is not None):
        need = "needs" if message_type.is_device else "takes no"
        raise WireError(f"topic {topic!r}: {message_type} {need} device id", "device_id")
    return SparkplugTopic(
        message_type,
        check_sparkplug_id(parts[1], "group_id"),
        check_sparkplug_id(parts[3], "edge_node_id"),
        check_sparkplug_id(device_id, "device_id") if device_id is not None else None,
    )
