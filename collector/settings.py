"""Collector settings: `PLANTPROOF_COLLECTOR_...` environment variables over a YAML file.

Nested fields use `__` in the environment, e.g. `PLANTPROOF_COLLECTOR_MQTT__PORT=8883`.
Built only at the edges (CLI, benchmarks); library code takes plain values. An error names the file,
line and field, or the environment variable, in one line; a secret is never part of it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

import psycopg
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

import wire
from collector.errors import CollectorError
from infra import settings
from infra.kafka import KafkaEndpoint
from infra.mqtt import MqttEndpoint
from infra.mqtt.subscriber import Presence, Session
from infra.settings import YamlSettings
from infra.yamlconfig import ConfigFileError
from wire import sparkplug
from wire.sparkplug import NAMESPACE as SPARKPLUG_NAMESPACE
from wire.sparkplug.topics import check_sparkplug_id
from wire.topics import PREFIX

ENV_PREFIX = "PLANTPROOF_COLLECTOR_"
MIB = 1024 * 1024


class CollectorConfigError(CollectorError):
    """A collector configuration that is wrong; the message names file, line and field."""


Source = Literal["pp_v1", "sparkplug"]
_V1: Source = "pp_v1"


class MqttSettings(MqttEndpoint, frozen=True):
    # With the shipped broker config (use_username_as_clientid) the broker uses the username instead.
    client_id: Annotated[str, Field(min_length=1, max_length=128)] = "plantproof-collector-1"
    # Default: each topic filter is subscribed directly, kept in the persistent session across
    # broker restarts. Setting a group makes processes sharing it split the load of
    # `$share/<group>/<topic>`; but Mosquitto 2.0 does not restore shared subscriptions after a
    # broker restart, so messages published before the collectors re-subscribe are lost for the
    # group. Where that matters, split the load by disjoint filters (e.g. one site each) instead.
    group: str | None = None
    topics: Annotated[list[str], Field(min_length=1)] = Field(default_factory=lambda: [f"{PREFIX}/#"])
    session_expiry_s: Annotated[int, Field(ge=0, le=2**32 - 1)] = 7 * 24 * 3600
    # Broker-side bound on unacknowledged QoS 1 messages in flight to us (MQTT 5 Receive Maximum).
    receive_maximum: int = Field(default=20_000, ge=1, le=65_535)
    # The wire formats read: the JSON envelope v1 (`topics`) and Sparkplug B (`sparkplug.group_filter`).
    sources: Annotated[list[Source], Field(min_length=1)] = Field(default_factory=lambda: [_V1])

    def session(self, extra_topics: tuple[str, ...] = (), presence: Presence | None = None) -> Session:
        # births and $status are retained: never sent on a shared subscription, so also direct
        retained = (wire.device_filter("birth"), wire.gateway_filter("$status"))
        v1 = tuple(self.topics) if "pp_v1" in self.sources else ()
        return Session(
            self.client_id,
            v1 + extra_topics,
            self.group,
            retained,
            self.session_expiry_s,
            self.receive_maximum,
            presence,
        )


class BatchSettings(BaseModel, frozen=True, extra="forbid"):
    max_rows: int = Field(default=20_000, ge=1)
    max_messages: int = Field(default=2_000, ge=1)
    max_age_ms: int = Field(default=200, ge=1)
    # Data-only batches committed side by side, each on its own connection.
    concurrency: int = Field(default=2, ge=1, le=8)


class LimitSettings(BaseModel, frozen=True, extra="forbid"):
    # Equal to the broker's message_size_limit (configs/mosquitto/mosquitto.conf) and the gateway's
    # mqtt.max_message_bytes, so nothing the broker accepts is refused here for its size.
    max_payload_bytes: int = Field(default=MIB, ge=1024, le=256 * MIB)
    # Dead letters keep at most this much of an oversized payload.
    dead_letter_payload_bytes: int = Field(default=65_536, ge=0, le=256 * MIB)
    max_future_s: float = Field(default=600.0, ge=0)
    max_past_days: float = Field(default=3_660.0, gt=0)


class StorageSettings(BaseModel, frozen=True, extra="forbid"):
    compress_after_days: int = Field(default=7, ge=1)
    retention_days: int | None = Field(default=None, ge=1)  # off by default


class SparkplugDeviceType(BaseModel, frozen=True, extra="forbid"):
    """What a Sparkplug BIRTH without `Properties/type|industry|sector` metrics is: the first entry
    whose `match` (a shell pattern over `group/edge_node/device`) fits."""

    match: Annotated[str, Field(min_length=1, max_length=800)]
    type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    industry: Annotated[str, Field(pattern=r"^[A-Z][0-9]{2,4}$")]
    sector: Literal["discrete", "process"]


class SparkplugSettings(BaseModel, frozen=True, extra="forbid"):
    # "#" (every group), or one group id: subscribed as spBv1.0/{group or +}/#.
    group_filter: str = "#"
    # With a host id the collector publishes its STATE (spBv1.0/STATE/{host_id}).
    host_id: str | None = None
    # At most one rebirth request (NCMD Node Control/Rebirth) per edge node this often.
    rebirth_interval_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    # Bounds of the sessions kept (and saved for a restart): live edge nodes, and metrics in the
    # BIRTHs of one edge node; beyond them a BIRTH is a dead letter (reason sparkplug_limit).
    max_edge_nodes: int = Field(default=1000, ge=1, le=1_000_000)
    max_metrics_per_node: int = Field(default=10_000, ge=1, le=1_000_000)
    devices: list[SparkplugDeviceType] = Field(default_factory=list)

    @field_validator("group_filter")
    @classmethod
    def _group(cls, value: str) -> str:
        if value not in ("#", "+"):
            try:
                check_sparkplug_id(value, "group_id")
            except wire.WireError:
                raise ValueError("expected '#', '+' or one Sparkplug group id (no '/', '+', '#')") from None
        return value

    @field_validator("host_id")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_sparkplug_id(value, "host_id")
            except wire.WireError:
                raise ValueError(
                    "not a valid Sparkplug host id (1-255 UTF-8 bytes, no '/', '+', '#')"
                ) from None
        return value

    def topic_filter(self) -> str:
        if self.group_filter == "#":
            return f"{SPARKPLUG_NAMESPACE}/#"
        return f"{SPARKPLUG_NAMESPACE}/{self.group_filter}/#"


class KafkaSourceSettings(KafkaEndpoint, frozen=True):
    """`source: kafka`: read what the bridge produced, as one member of a consumer group."""

    group_id: Annotated[str, Field(min_length=1, max_length=255)] = "plantproof-collectors"
    client_id: Annotated[str, Field(min_length=1, max_length=255)] = "plantproof-collector-1"
    # Measured on Tansu (docs/kafka.md): 6 s / 0.5 s moves a dead member's partitions in ~10 s.
    session_timeout_ms: int = Field(default=6_000, ge=1_000, le=300_000)
    heartbeat_interval_ms: int = Field(default=500, ge=100, le=60_000)
    max_partition_fetch_bytes: int = Field(default=2 * MIB, ge=64 * 1024, le=256 * MIB)
    fetch_max_bytes: int = Field(default=16 * MIB, ge=MIB, le=1024 * MIB)
    # Before giving partitions up, wait this long at most for the batches in flight to commit.
    revoke_wait_s: float = Field(default=2.0, ge=0.0, le=60.0)
    lag_interval_s: float = Field(default=5.0, gt=0.0, le=3600.0)

    @model_validator(mode="after")
    def _heartbeat(self) -> KafkaSourceSettings:
        if self.heartbeat_interval_ms * 3 > self.session_timeout_ms:
            raise ValueError(
                f"heartbeat_interval_ms ({self.heartbeat_interval_ms}) must be at most a third of"
                f" session_timeout_ms ({self.session_timeout_ms})"
            )
        return self


class EvidenceSettings(BaseModel, frozen=True, extra="forbid"):
    # The Ed25519 key evidence bundles are signed with (created on first use, mode 0600).
    key: Path = Path("~/.config/plantproof/evidence-ed25519.pem")


class CollectorSettings(YamlSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    dsn: str = "postgresql://postgres@127.0.0.1:5432/plantproof"
    # Where messages come from: the MQTT broker, or the Kafka topic the bridge fills. MQTT is
    # still used with `kafka` to publish the `$stored` watermarks (and Sparkplug requests).
    source: Literal["mqtt", "kafka"] = "mqtt"
    mqtt: MqttSettings = MqttSettings()
    kafka: KafkaSourceSettings | None = None
    batch: BatchSettings = BatchSettings()
    limits: LimitSettings = LimitSettings()
    storage: StorageSettings = StorageSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    sparkplug: SparkplugSettings = SparkplugSettings()
    queue_max: int = Field(default=25_000, ge=1)
    # Payload bytes held in memory (queued or in a batch not yet acknowledged); beyond it messages
    # stay with the broker (see infra.mqtt.subscriber).
    queue_max_bytes: int = Field(default=256 * MIB, ge=MIB)
    # Publish each gateway's `$stored` watermark after the commits (end-to-end acknowledgement).
    acknowledge: bool = True
    metrics_port: int | None = Field(default=9464, ge=0, le=65_535)
    metrics_host: str = "127.0.0.1"

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        try:
            psycopg.conninfo.conninfo_to_dict(value)
        except psycopg.ProgrammingError:
            # psycopg's message quotes the string, password included: say what is wrong without it
            raise ValueError(
                "not a PostgreSQL connection string (expected postgresql://user@host:port/db"
                " or 'host=... dbname=...')"
            ) from None
        return value

    def session(self) -> Session:
        """The MQTT session: the v1 topics and, with source `sparkplug`, the Sparkplug filter; none
        with the Kafka source (the connection then only publishes)."""
        if self.source == "kafka":
            return replace(self.mqtt.session(), topics=(), group=None, retained_topics=(),
                           presence=self._presence())  # fmt: skip
        if "sparkplug" not in self.mqtt.sources:
            return self.mqtt.session()
        return self.mqtt.session((self.sparkplug.topic_filter(),), self._presence())

    def _presence(self) -> Presence | None:
        host = self.sparkplug.host_id
        if "sparkplug" not in self.mqtt.sources or host is None:
            return None
        return Presence(sparkplug.state_topic(host), _host_state)

    @model_validator(mode="after")
    def _bounds_agree(self) -> CollectorSettings:
        if self.source == "kafka" and self.kafka is None:
            raise ValueError("source kafka needs a kafka section (bootstrap_servers, topic, group_id)")
        # A host application follows each edge node's seq: it must see all of a node's messages.
        if "sparkplug" in self.mqtt.sources and self.mqtt.group is not None:
            raise ValueError(
                "mqtt.group cannot be set with source sparkplug: a Sparkplug host must see"
                " every message of an edge node (split the load by sparkplug.group_filter)"
            )
        # The broker may have receive_maximum unacked messages in flight to us; the in-memory queue must
        # hold them all, or a dropped QoS 1 message would hold a slot until the next reconnect.
        if self.queue_max < self.mqtt.receive_maximum:
            raise ValueError(
                f"queue_max ({self.queue_max}) must be >= mqtt.receive_maximum ({self.mqtt.receive_maximum})"
            )
        if self.queue_max_bytes < 2 * self.limits.max_payload_bytes:
            raise ValueError(
                f"queue_max_bytes ({self.queue_max_bytes}) must be >= twice limits.max_payload_bytes"
                f" ({self.limits.max_payload_bytes})"
            )
        return self


def _host_state(online: bool, connect_ms: int) -> bytes:
    """The Sparkplug host application's STATE payload."""
    return sparkplug.encode_state(sparkplug.HostState(online, connect_ms))


def load_settings(path: Path | None = None, **overrides: Any) -> CollectorSettings:
    """Settings from `path` (YAML), environment variables winning over the file, `overrides` over both.

    CollectorConfigError names the file and line (or the environment variable) and the field.
    """
    try:
        return settings.load_settings(CollectorSettings, path, overrides)
    except ConfigFileError as exc:
        raise CollectorConfigError(str(exc)) from None
