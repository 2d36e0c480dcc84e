"""Alarms in the API: the tenant's list and detail (every role), acknowledgement (operators and
admins; written to the audit log), and `/metrics` for Prometheus (no tenant data in it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from api import alarm_store
from api.alarm_store import Alarm, State
from api.auth import Principal, audit, require

router = APIRouter(prefix="/api/v1", tags=["alarms"])
Anyone = Annotated[Principal, Depends(require("admin", "operator", "auditor"))]
Operating = Annotated[Principal, Depends(require("admin", "operator"))]
AlarmId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class Acknowledgement(BaseModel):
    note: str = Field(default="", max_length=500)


def _pool(request: Request) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = request.app.state.service.pool
    return pool


@router.get("/alarms", response_model=list[Alarm])
async def alarms(
    who: Anyone,
    request: Request,
    state: Annotated[State, Query(description="active, cleared or all")] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alarm]:
    """The alarms of the tenant's sites and the platform's own (no site), newest first."""
    return await alarm_store.listed(_pool(request), who, state, limit)


@router.get("/alarms/{alarm_id}", response_model=Alarm)
async def alarm(who: Anyone, request: Request, alarm_id: AlarmId) -> Alarm:
    """One alarm; 404 when it is not the tenant's."""
    found = await alarm_store.one(_pool(request), who, alarm_id)
    if found is None:
        raise HTTPException(404, f"no alarm {alarm_id}")
    return found


@router.post("/alarms/{alarm_id}/ack", response_model=Alarm)
async def acknowledge(
    who: Operating, request: Request, alarm_id: AlarmId, body: Acknowledgement | None = None
) -> Alarm:
    """Acknowledge an alarm (it stays raised until its rule clears it); 409 if acknowledged already."""
    pool, note = _pool(request), (body.note if body else "")
    done = await alarm_store.acknowledge(pool, who, alarm_id, note)
    if done is not None:
        await audit(pool, request, 200, f"acknowledged alarm {alarm_id} ({done.rule} {done.subject})", who)
        return done
    found = await alarm_store.one(pool, who, alarm_id)
    status, detail = (404, f"no alarm {alarm_id}") if found is None else (409, "acknowledged already")
    await audit(pool, request, status, detail, who)
    raise HTTPException(status, detail)


metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The service's Prometheus metrics: active alarms by rule and severity, webhooks, process."""
    registry = request.app.state.alarm_metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
