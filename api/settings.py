"""API settings: `PLANTPROOF_API_...` environment variables over a YAML file (infra.settings).

Nested fields use `__`, e.g. `PLANTPROOF_API_LIMITS__AUTH_FAILURES=20`. An error names the file,
line and field, or the variable, in one line; a value is never part of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from api.sweep import SweepSettings
from collector.evidence.signing import DEFAULT_KEY_PATH
from infra import settings
from infra.settings import YamlSettings, config_base

ENV_PREFIX = "PLANTPROOF_API_"


class ApiLimits(BaseModel, frozen=True, extra="forbid"):
    # Database connections the request handlers share.
    pool_min: int = Field(default=1, ge=0, le=64)
    pool_max: int = Field(default=8, ge=1, le=256)
    # Figure computations running at once (each reads a whole window on its own connection).
    figures_concurrency: int = Field(default=2, ge=1, le=16)
    max_window_days: int = Field(default=366, ge=1, le=3660)
    # Rows one readings answer holds at most: longer ranges are binned into this many buckets.
    max_points: int = Field(default=2000, ge=10, le=100_000)
    # A claims document larger than this is refused (413) before it is read.
    max_claims_bytes: int = Field(default=262_144, ge=1024, le=16_777_216)
    # An uploaded evidence bundle (zip) larger than this is refused (413) before it is read; its
    # files may hold this many bytes in all once unpacked.
    max_upload_bytes: int = Field(default=33_554_432, ge=1024, le=1_073_741_824)
    max_unpacked_bytes: int = Field(default=134_217_728, ge=1024, le=4_294_967_296)
    # Exported bundles kept per tenant; past it the oldest is removed (logged, audited, counted).
    max_bundles_per_tenant: int = Field(default=100, ge=1, le=100_000)
    # Bytes of each dead letter's payload a listing shows at most.
    dead_letter_payload_bytes: int = Field(default=1024, ge=16, le=65_536)
    # Management operations waiting for their answers at once, and the longest wait for one.
    management_concurrency: int = Field(default=4, ge=1, le=256)
    management_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # A client address with this many refused authentications within the window gets 429.
    auth_failures: int = Field(default=10, ge=1)
    auth_window_s: float = Field(default=60.0, gt=0)
    # Addresses remembered by that rate limit at most; the oldest are forgotten first.
    auth_clients: int = Field(default=10_000, ge=1)


class ApiSettings(YamlSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    dsn: str = "postgresql://postgres@127.0.0.1:5432/plantproof"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65_535)
    # declared.yaml for the tier thresholds plant data cannot measure (collector.figures.declared).
    declared: Path | None = None
    # Exported bundles (one folder per tenant) and uploads being verified; the key bundles are signed
    # with, whose public half is the key uploaded bundles are verified against.
    evidence_dir: Path = Path("evidence")
    evidence_key: Path = DEFAULT_KEY_PATH
    # The broker management operations go through (the collector's); None: management is off (503).
    mqtt_url: str | None = None
    # The recurring management sweep (api.sweep); it needs mqtt_url.
    sweep: SweepSettings = SweepSettings()
    limits: ApiLimits = ApiLimits()
    # alarms.yaml (api.alarm_config): the alarm rules run in the service when it is set.
    alarms: Path | None = None

    @model_validator(mode="after")
    def _sweep_needs_a_broker(self) -> ApiSettings:
        if self.sweep.enabled and self.mqtt_url is None:
            raise ValueError("sweep.enabled needs mqtt_url")
        return self

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        try:
            psycopg.conninfo.conninfo_to_dict(value)
        except psycopg.ProgrammingError:
            # psycopg's message quotes the string, password included
            raise ValueError("not a PostgreSQL connection string") from None
        return value

    @field_validator("declared", "alarms", "evidence_dir", "evidence_key")
    @classmethod
    def _relative_to_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        return value if value.is_absolute() else config_base(info) / value


def load_settings(path: Path | None = None, **overrides: Any) -> ApiSettings:
    """Settings from `path`, the environment winning over the file, `overrides` over both.

    Raises infra.yamlconfig.ConfigFileError naming file:line and field, or the variable."""
    return settings.load_settings(ApiSettings, path, overrides)
