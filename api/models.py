"""The API's response bodies (they are its OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class Gateway(BaseModel):
    gw: str
    site: str
    status: str
    backfill: bool
    first_seen: datetime
    last_seen: datetime
    status_changed_at: datetime | None


class Device(BaseModel):
    site: str
    device: str
    gateway: str
    type: str
    industry: str
    sector: str
    simulated: bool
    managed: bool
    online: bool
    first_seen: datetime
    last_seen: datetime


class Point(BaseModel):
    name: str
    kind: str
    dtype: str
    unit: str
    last_reading: datetime | None
    last_value: float | None  # numeric points
    last_text: str | None  # string points
    last_quality: int | None


class DeviceDetail(Device):
    protocol: str | None
    area: str | None
    line: str | None
    points: list[Point]


class AuditEntry(BaseModel):
    at: datetime
    token_id: int | None
    role: str | None
    client: str
    method: str
    path: str
    status: int
    detail: str


class RawReading(BaseModel):
    time: datetime
    value: float | None = None
    text: str | None = None
    quality: int


class Bucket(BaseModel):
    start: datetime
    avg: float | None  # over the bucket's good readings (quality 0); None when it has none
    min: float | None
    max: float | None
    count: int
    good: int


class Readings(BaseModel):
    site: str
    device: str
    point: str
    unit: str
    dtype: str
    start: datetime
    end: datetime
    max_points: int
    mode: Literal["raw", "binned"]
    truncated: bool  # raw string readings only: more than max_points in the range
    bucket_s: int | None = None
    readings: list[RawReading] = []
    buckets: list[Bucket] = []


class DeviceEvent(BaseModel):
    site: str
    device: str
    kind: Literal["birth", "death"]
    gateway: str
    seq: int
    sent_at: datetime
    received_at: datetime
    source: str


class DeadLetter(BaseModel):
    id: int
    received_at: datetime
    topic: str
    site: str | None  # the site its topic names
    error: str
    payload: str  # the first dead_letter_payload_bytes bytes, as UTF-8 (invalid bytes replaced)
    payload_bytes: int  # the whole payload's length
    truncated: bool
