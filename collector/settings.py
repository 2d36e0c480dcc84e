"""Collector settings: `PLANTPROOF_COLLECTOR_...` environment variables over a YAML file.

Nested fields use `__` in the environment, e.g. `PLANTPROOF_COLLECTOR_MQTT__PORT=8883`.
Built only at the edges (CLI, benchmarks); library code takes plain values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


class MqttSettings(BaseModel, frozen=True):
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "plantproof-collector-1"
    # Default: each topic filter is subscribed directly, kept in the persistent session across
    # broker restarts. Setting a group makes processes sharing it split the load of
    # `$share/<group>/<topic>`; but Mosquitto 2.0 does not restore shared subscriptions after a
    # broker restart, so messages published before the collectors re-subscribe are lost for the
    # group. Where that matters, split the load by disjoint filters (e.g. one site each) instead.
    group: str | None = None
    topics: list[str] = ["pp/v1/#"]
    session_expiry_s: int = 7 * 24 * 3600
    keepalive_s: int = 30
    # Broker-side bound on unacknowledged QoS 1 messages in flight to us (MQTT 5 Receive Maximum).
    receive_maximum: int = Field(default=20_000, ge=1, le=65_535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = None


class BatchSettings(BaseModel, frozen=True):
    max_rows: int = Field(default=20_000, ge=1)
    max_messages: int = Field(default=2_000, ge=1)
    max_age_ms: int = Field(default=200, ge=1)
    # Data-only batches committed side by side, each on its own connection.
    concurrency: int = Field(default=2, ge=1, le=8)


class LimitSettings(BaseModel, frozen=True):
    max_payload_bytes: int = 1_048_576
    # Dead letters keep at most this much of an oversized payload.
    dead_letter_payload_bytes: int = 65_536
    max_future_s: float = 600.0
    max_past_days: float = 3_660.0


class StorageSettings(BaseModel, frozen=True):
    compress_after_days: int = 7
    retention_days: int | None = None  # off by default
    rollup_interval_s: float = 300.0


class CollectorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PLANTPROOF_COLLECTOR_", env_nested_delimiter="__", extra="forbid"
    )

    dsn: str = "postgresql://postgres@127.0.0.1:5432/plantproof"
    mqtt: MqttSettings = MqttSettings()
    batch: BatchSettings = BatchSettings()
    limits: LimitSettings = LimitSettings()
    storage: StorageSettings = StorageSettings()
    queue_max: int = Field(default=25_000, ge=1)
    metrics_port: int | None = 9464
    metrics_host: str = "127.0.0.1"

    @model_validator(mode="after")
    def _queue_holds_receive_window(self) -> CollectorSettings:
        # The broker may have receive_maximum unacked messages in flight to us; the in-memory queue must
        # hold them all, or a dropped QoS 1 message would hold a slot until the next reconnect.
        if self.queue_max < self.mqtt.receive_maximum:
            raise ValueError(
                f"queue_max ({self.queue_max}) must be >= mqtt.receive_maximum ({self.mqtt.receive_maximum})"
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
        yaml_file = _yaml_file.get("path")
        if yaml_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)


_yaml_file: dict[str, Path | None] = {"path": None}


def load_settings(path: Path | None = None, **overrides: Any) -> CollectorSettings:
    """Settings from `path` (YAML), environment variables winning over the file, `overrides` over both."""
    if path is not None and not path.exists():
        from collector.errors import CollectorError

        raise CollectorError(f"collector config {path} does not exist")
    _yaml_file["path"] = path
    try:
        return CollectorSettings(**overrides)
    finally:
        _yaml_file["path"] = None
