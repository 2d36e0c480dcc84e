"""Collector settings: `PLANTPROOF_COLLECTOR_...` environment variables over a YAML file.

Nested fields use `__` in the environment, e.g. `PLANTPROOF_COLLECTOR_MQTT__PORT=8883`.
Built only at the edges (CLI, benchmarks); library code takes plain values. An error names the file,
line and field, or the environment variable, in one line; a secret is never part of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import psycopg
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

import wire
from collector.errors import CollectorError
from infra.mqtt import MqttEndpoint
from infra.mqtt.subscriber import Session
from infra.yamlconfig import ConfigFileError, YamlFile, describe_error, read_yaml
from wire.topics import PREFIX

ENV_PREFIX = "PLANTPROOF_COLLECTOR_"
Port = Annotated[int, Field(ge=1, le=65_535)]
MIB = 1024 * 1024


class CollectorConfigError(CollectorError):
    """A collector configuration that is wrong; the message names file, line and field."""


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

    def session(self) -> Session:
        # births and $status are retained: never sent on a shared subscription, so also direct
        retained = (wire.device_filter("birth"), wire.gateway_filter("$status"))
        return Session(
            self.client_id,
            tuple(self.topics),
            self.group,
            retained,
            self.session_expiry_s,
            self.receive_maximum,
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
    rollup_interval_s: float = Field(default=300.0, gt=0)


class CollectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    dsn: str = "postgresql://postgres@127.0.0.1:5432/plantproof"
    mqtt: MqttSettings = MqttSettings()
    batch: BatchSettings = BatchSettings()
    limits: LimitSettings = LimitSettings()
    storage: StorageSettings = StorageSettings()
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

    @model_validator(mode="after")
    def _bounds_agree(self) -> CollectorSettings:
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        source = _yaml_file.get("file")
        if source is not None:
            sources.append(_YamlSource(settings_cls, source))
        return tuple(sources)


class _YamlSource(PydanticBaseSettingsSource):
    """The YAML file as a settings source (lowest priority)."""

    def __init__(self, settings_cls: type[BaseSettings], source: YamlFile) -> None:
        super().__init__(settings_cls)
        self.source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.source.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.source.data)


_yaml_file: dict[str, YamlFile | None] = {"file": None}


def load_settings(path: Path | None = None, **overrides: Any) -> CollectorSettings:
    """Settings from `path` (YAML), environment variables winning over the file, `overrides` over both.

    CollectorConfigError names the file and line (or the environment variable) and the field.
    """
    if path is not None and not path.exists():
        raise CollectorConfigError(f"collector config {path} does not exist")
    try:
        source = read_yaml(path) if path is not None else None
    except ConfigFileError as exc:
        raise CollectorConfigError(str(exc)) from None
    _yaml_file["file"] = source
    try:
        return CollectorSettings(**overrides)
    except ValidationError as exc:
        raise _describe(exc, source, overrides) from None
    finally:
        _yaml_file["file"] = None


def _describe(
    exc: ValidationError, source: YamlFile | None, overrides: dict[str, Any]
) -> CollectorConfigError:
    loc = tuple(exc.errors(include_input=False)[0]["loc"])
    env = ENV_PREFIX + "__".join(str(p) for p in loc).upper()
    if loc and loc[0] not in overrides and env in os.environ:
        error = describe_error(exc)
        return CollectorConfigError(f"environment variable {env}: {error.message}")
    if source is not None and loc and loc[0] not in overrides and source.has(loc[:1]):
        return CollectorConfigError(str(describe_error(exc, source)))
    if source is not None and not loc:
        return CollectorConfigError(f"{source.path}: {describe_error(exc).message}")
    return CollectorConfigError(str(describe_error(exc)))
