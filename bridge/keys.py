"""Which MQTT messages the bridge forwards, and the Kafka key that keeps a sender's order."""

# layering: pure

from __future__ import annotations

from wire.sparkplug import NAMESPACE as SPARKPLUG_NAMESPACE
from wire.topics import PREFIX, STORED

# Written by the platform for the senders, not by the senders: never forwarded. (`.../cmd/res`, a
# gateway's answer to a command, ends in `res` and is forwarded.)
_V1_SKIPPED = frozenset({"cmd", STORED})
_SPARKPLUG_SKIPPED = frozenset({"NCMD", "DCMD"})


def forwarded(topic: str) -> bool:
    """False for what the platform publishes for the senders: commands, `$stored` watermarks,
    Sparkplug NCMD/DCMD and host STATE."""
    levels = topic.split("/")
    if topic.startswith(f"{PREFIX}/"):
        return levels[-1] not in _V1_SKIPPED
    if topic.startswith(f"{SPARKPLUG_NAMESPACE}/"):
        return len(levels) > 2 and levels[1] != "STATE" and levels[2] not in _SPARKPLUG_SKIPPED
    return True


def partition_key(topic: str) -> bytes:
    """`site/gateway` for `pp/v1/{site}/{gateway}/...`, `group/edge_node` for
    `spBv1.0/{group}/{type}/{edge_node}/...`: every message of one sender lands in one partition,
    in order. Anything else is keyed by its topic (the collector dead-letters what it cannot read)."""
    levels = topic.split("/")
    if topic.startswith(f"{PREFIX}/") and len(levels) >= 4:
        return f"{levels[2]}/{levels[3]}".encode()
    if topic.startswith(f"{SPARKPLUG_NAMESPACE}/") and len(levels) >= 4:
        return f"{levels[1]}/{levels[3]}".encode()
    return topic.encode()
