"""Bridge settings: `PLANTPROOF_BRIDGE_...` environment variables over a YAML file (the settings
grammar of `infra.settings`: an error names file, line and field, or the variable)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

import wire
from infra import settings
from infra.kafka import KafkaEndpoint
from infra.mqtt import MqttEndpoint
from infra.mqtt.subscriber import Session
from infra.settings import YamlSettings
from infra.yamlconfig import ConfigFileError
from wire.sparkplug import NAMESPACE as SPARKPLUG_NAMESPACE
from wire.sparkplug.topics import check_sparkplug_id
from wire.topics import TopicKind

ENV_PREFIX = "PLANTPROOF_BRIDGE_"
MIB = 1024 * 1024


class BridgeConfigError(Exception):
    """A bridge configuration that is wrong; the message names file, line and field."""


def _v1_topics() -> list[str]:
    """What gateways publish: data, births, deaths, command results, status and spool drops."""
    kinds: tuple[TopicKind, ...] = ("data", "birth", "death", "cmd/res")
    return [wire.device_filter(k) for k in kinds] + [
        wire.gateway_filter("$status"),
        wire.gateway_filter("$dropped"),
    ]


class BridgeMqttSettings(MqttEndpoint, frozen=True):
    client_id: Annotated[str, Field(min_length=1, max_length=128)] = "plantproof-bridge-1"
    # Bridges sharing a group split `$share/<group>/<topic>` (Mosquitto 2.0 does not restore shared
    # subscriptions after a broker restart: disjoint topic filters per bridge have no such gap).
    group: str | None = None
    topics: list[str] = Field(default_factory=_v1_topics)
    # "#" (every group) or one group id: also subscribe spBv1.0/{group or +}/#; null: no Sparkplug.
    sparkplug_group_filter: str | None = None
    session_expiry_s: Annotated[int, Field(ge=0, le=2**32 - 1)] = 7 * 24 * 3600
    receive_maximum: int = Field(default=20_000, ge=1, le=65_535)

    def session(self) -> Session:
        topics = list(self.topics)
        if self.sparkplug_group_filter is not None:
            group = self.sparkplug_group_filter
            topics.append(f"{SPARKPLUG_NAMESPACE}/#" if group == "#" else f"{SPARKPLUG_NAMESPACE}/{group}/#")
        retained = (wire.device_filter("birth"), wire.gateway_filter("$status"))
        return Session(self.client_id, tuple(topics), self.group, retained, self.session_expiry_s,
                       self.receive_maximum)  # fmt: skip

    @field_validator("sparkplug_group_filter")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and value not in ("#", "+"):
            try:
                check_sparkplug_id(value, "group_id")
            except wire.WireError:
                raise ValueError("expected '#', '+' or one Sparkplug group id (no '/', '+', '#')") from None
        return value

    @model_validator(mode="after")
    def _some_topics(self) -> BridgeMqttSettings:
        if not self.topics and self.sparkplug_group_filter is None:
            raise ValueError("nothing to bridge: give topics or sparkplug_group_filter")
        if self.sparkplug_group_filter is not None and self.group is not None:
            raise ValueError("group cannot be set with sparkplug_group_filter: a Sparkplug edge node's"
                             " messages must stay in order on one bridge")  # fmt: skip
        return self


class BridgeKafkaSettings(KafkaEndpoint, frozen=True):
    client_id: Annotated[str, Field(min_length=1, max_length=255)] = "plantproof-bridge-1"
    # Tansu and Kafka both: acks=all; no idempotent producer (the collectors' ledger drops copies).
    linger_ms: int = Field(default=5, ge=0, le=10_000)
    max_batch_bytes: int = Field(default=256 * 1024, ge=16 * 1024, le=64 * MIB)
    compression: Literal["none", "gzip"] = "none"


class LimitSettings(BaseModel, frozen=True, extra="forbid"):
    # = the broker's message_size_limit; a larger payload is forwarded cut to `keep_oversized_bytes`
    # with its size in a header, so the collector records it as a dead letter with the reason.
    max_payload_bytes: int = Field(default=MIB, ge=1024, le=256 * MIB)
    keep_oversized_bytes: int = Field(default=65_536, ge=0, le=256 * MIB)


class BridgeSettings(YamlSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    mqtt: BridgeMqttSettings = BridgeMqttSettings()
    kafka: BridgeKafkaSettings = BridgeKafkaSettings()
    limits: LimitSettings = LimitSettings()
    # Messages produced and not yet acknowledged by Kafka, at most (then the bridge waits).
    inflight_max: int = Field(default=10_000, ge=1, le=1_000_000)
    # Payload bytes held (received and not yet acknowledged to the broker); beyond it messages stay
    # with the broker and come back after a reconnect (as in the collector's MQTT source).
    inflight_max_bytes: int = Field(default=64 * MIB, ge=MIB)
    queue_max: int = Field(default=25_000, ge=1)
    metrics_port: int | None = Field(default=9466, ge=0, le=65_535)
    metrics_host: str = "127.0.0.1"

    @model_validator(mode="after")
    def _bounds_agree(self) -> BridgeSettings:
        if self.queue_max < self.mqtt.receive_maximum:
            raise ValueError(
                f"queue_max ({self.queue_max}) must be >= mqtt.receive_maximum ({self.mqtt.receive_maximum})"
            )
        if self.inflight_max_bytes < 2 * self.limits.max_payload_bytes:
            raise ValueError(
                f"inflight_max_bytes ({self.inflight_max_bytes}) must be >= twice"
                f" limits.max_payload_bytes ({self.limits.max_payload_bytes})"
            )
        return self


def load_settings(path: Path | None = None, **overrides: Any) -> BridgeSettings:
    """Settings from `path` (YAML), environment variables over the file, `overrides` over both."""
    try:
        return settings.load_settings(BridgeSettings, path, overrides)
    except ConfigFileError as exc:
        raise BridgeConfigError(str(exc)) from None
