"""The API's response bodies (they are its OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime

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
