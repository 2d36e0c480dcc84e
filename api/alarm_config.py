"""`configs/alarms.yaml`: how often the rules run, what they read, their thresholds and the webhooks.

Loaded with `infra.yamlconfig.load_yaml_model`, so an error names the file, the line and the field.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from api.alarm_rules import Rules
from infra.mqtt import MqttEndpoint
from infra.yamlconfig import load_yaml_model


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    return value


class _Strict(BaseModel, frozen=True, extra="forbid"):
    pass


class MetricsTarget(_Strict, frozen=True):
    """A Prometheus endpoint: the collector's (CPU, memory) or a gateway's (spool depth)."""

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:/-]+$")
    url: str
    site: str | None = None  # a gateway's site: its alarms are then its tenant's

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class Sources(_Strict, frozen=True):
    collectors: tuple[MetricsTarget, ...] = ()
    gateways: tuple[MetricsTarget, ...] = ()
    broker: MqttEndpoint | None = None  # subscribed to `$SYS/broker/#`
    disks: tuple[str, ...] = ()  # paths whose file systems' free space is watched
    scrape_timeout_s: float = Field(default=5.0, gt=0, le=60)


class Webhook(_Strict, frozen=True):
    """Where alarm events are POSTed as JSON, one event per request, retried with backoff."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    backoff_initial_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=10, ge=1)  # then the event is given up (and counted)
    # The queue of events waiting for this webhook; when full the oldest are dropped (counted).
    queue_events: int = Field(default=1000, ge=1)
    queue_bytes: int = Field(default=1_000_000, ge=1024)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class AlarmConfig(_Strict, frozen=True):
    interval_s: float = Field(default=10.0, gt=0, le=3600)
    # Cleared alarms older than this are deleted (once an hour), so the table stays bounded.
    keep_cleared_days: float = Field(default=365.0, gt=0)
    sources: Sources = Sources()
    rules: Rules = Rules()
    webhooks: tuple[Webhook, ...] = ()

    @field_validator("webhooks")
    @classmethod
    def _unique_names(cls, value: tuple[Webhook, ...]) -> tuple[Webhook, ...]:
        names = [w.name for w in value]
        if len(set(names)) != len(names):
            raise ValueError("two webhooks have the same name")
        return value


def load_alarm_config(path: Path) -> AlarmConfig:
    """ConfigFileError names the file, line and field."""
    return load_yaml_model(path, AlarmConfig, context={"base": path.resolve().parent})
