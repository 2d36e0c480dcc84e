"""Topic builder and parser: `pp/v1/{site}/{gateway}/{device}/{kind}` and the gateway-level topics
`pp/v1/{site}/{gateway}/$status`, `.../$stored` (the collector's watermark) and `.../$dropped` (the
gateway's declaration of envelopes its spool dropped)."""

# layering: pure

import re
from dataclasses import dataclass
from typing import Final, Literal

from wire.errors import WireError

PREFIX: Final = "pp/v1"
DEVICE_KINDS: Final = ("data", "birth", "death", "cmd", "cmd/res")
STATUS: Final = "$status"
STORED: Final = "$stored"
DROPPED: Final = "$dropped"
GATEWAY_KINDS: Final = (STATUS, STORED, DROPPED)
TopicKind = Literal["data", "birth", "death", "cmd", "cmd/res", "$status", "$stored", "$dropped"]
MAX_TOPIC_LENGTH: Final = 512

# Identifiers must be safe as single MQTT topic levels and as file names.
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_ID = re.compile(ID_PATTERN)


def check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise WireError(
            f"{what} {value!r} is not a valid id (letters, digits, '.', '_', '-'; 1-64 chars)", what
        )
    return value


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    gateway: str
    device: str | None
    kind: TopicKind

    def __str__(self) -> str:
        if self.device is None:
            return f"{PREFIX}/{self.site}/{self.gateway}/{self.kind}"
        return f"{PREFIX}/{self.site}/{self.gateway}/{self.device}/{self.kind}"


def device_topic(site: str, gateway: str, device: str, kind: TopicKind) -> str:
    if kind not in DEVICE_KINDS:
        raise WireError(f"unknown device topic kind {kind!r}", "kind")
    check_id(site, "site")
    check_id(gateway, "gateway")
    check_id(device, "device")
    return f"{PREFIX}/{site}/{gateway}/{device}/{kind}"


def status_topic(site: str, gateway: str) -> str:
    return gateway_topic(site, gateway, STATUS)


def gateway_topic(site: str, gateway: str, kind: str) -> str:
    """`pp/v1/{site}/{gateway}/{kind}` for one of the gateway-level kinds ($status, $stored, $dropped)."""
    if kind not in GATEWAY_KINDS:
        raise WireError(f"unknown gateway topic kind {kind!r}", "kind")
    check_id(site, "site")
    check_id(gateway, "gateway")
    return f"{PREFIX}/{site}/{gateway}/{kind}"


def subscription(site: str = "+", gateway: str = "+") -> str:
    """Wildcard filter for everything under a site/gateway (defaults: all)."""
    return f"{PREFIX}/{site}/{gateway}/#"


def device_filter(kind: TopicKind, site: str = "+", gateway: str = "+", device: str = "+") -> str:
    """Subscription filter for one device-level kind; `+` (the default) matches any id."""
    if kind not in DEVICE_KINDS:
        raise WireError(f"unknown device topic kind {kind!r}", "kind")
    for value, what in ((site, "site"), (gateway, "gateway"), (device, "device")):
        if value != "+":
            check_id(value, what)
    return f"{PREFIX}/{site}/{gateway}/{device}/{kind}"


def gateway_filter(kind: TopicKind, site: str = "+", gateway: str = "+") -> str:
    """Subscription filter for one gateway-level kind ($status, $stored, $dropped)."""
    if kind not in GATEWAY_KINDS:
        raise WireError(f"unknown gateway topic kind {kind!r}", "kind")
    for value, what in ((site, "site"), (gateway, "gateway")):
        if value != "+":
            check_id(value, what)
    return f"{PREFIX}/{site}/{gateway}/{kind}"


def gateway_prefix(site: str, gateway: str) -> str:
    """The prefix a gateway may publish under (broker ACLs grant exactly this)."""
    return f"{PREFIX}/{site}/{gateway}/"


def parse_topic(topic: str) -> Topic:
    if len(topic) > MAX_TOPIC_LENGTH:
        raise WireError(f"topic of {len(topic)} characters is longer than {MAX_TOPIC_LENGTH}", "topic")
    parts = topic.split("/")
    if len(parts) < 5 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise WireError(f"topic {topic!r} is not under {PREFIX}/", "topic")
    site, gateway = parts[2], parts[3]
    check_id(site, "site")
    check_id(gateway, "gateway")
    rest = parts[4:]
    if len(rest) == 1 and rest[0] in GATEWAY_KINDS:
        return Topic(site, gateway, None, rest[0])  # type: ignore[arg-type]
    if len(rest) < 2:
        raise WireError(f"topic {topic!r} names no device and kind", "topic")
    device, kind = rest[0], "/".join(rest[1:])
    check_id(device, "device")
    if kind not in DEVICE_KINDS:
        raise WireError(f"topic {topic!r} has unknown kind {kind!r}", "kind")
    return Topic(site, gateway, device, kind)  # type: ignore[arg-type]
