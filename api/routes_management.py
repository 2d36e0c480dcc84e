"""Management operations from the platform: ping, read-config and write on one of the tenant's devices.

The request goes through the broker exactly as `plantproof manage` sends it (collector.management:
JSON v1 `cmd` to the gateway that last announced the device live), is entered in `management_ops`
before it is sent with the requesting tenant and token, and the answer (or the timeout) is
recorded there and in the audit log. Answered ok is 200; an answer with an error 502; no answer
before the timeout 504; the outcome is the body in every case. At most `management_concurrency`
operations wait for their answers at once; more wait their turn.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt

from api.app import Service
from api.auth import Principal
from api.deps import Name, Operating, Svc, invalid, record, refusals
from collector.management import LIVE_GATEWAY, Target, send

router = APIRouter(prefix="/api/v1", tags=["management"])
_TARGET = f"""
SELECT d.site, d.dev, ({LIVE_GATEWAY}) AS gw FROM devices d
WHERE d.namespace = 'plant' AND d.site = ANY(%(sites)s) AND d.site = %(site)s AND d.dev = %(dev)s
"""
Wait = Annotated[
    float | None,
    Query(
        alias="timeout",
        gt=0,
        description="seconds to wait for the answer (default and ceiling: the service's)",
    ),
]


class WriteRequest(BaseModel, extra="forbid"):
    point: str = Field(min_length=1, max_length=128)
    # JSON integers stay exact (a write of 2^53 + 1 is that value, not the nearest double)
    value: StrictBool | StrictInt | StrictFloat


def requested_by(who: Principal) -> str:
    return f"api:{who.tenant}:token:{who.token_id}"


async def _operate(
    service: Service, request: Request, who: Principal, site: str, device: str, op: str,
    args: dict[str, Any], wait_s: float | None,
) -> JSONResponse:  # fmt: skip
    settings = service.settings
    limit = settings.limits.management_timeout_s
    async with refusals(service, request, who, f"{op} {site}/{device}"):
        if wait_s is not None and wait_s > limit:
            raise invalid("query", "timeout", f"at most {limit} seconds")
        rows = await service.rows(_TARGET, {"sites": list(who.sites), "site": site, "dev": device})
        if not rows:
            raise HTTPException(404, f"no device {site}/{device}")
        if settings.mqtt_url is None:
            raise HTTPException(503, "management is not configured (mqtt_url)")
    target, broker = Target(rows[0]["site"], rows[0]["gw"], rows[0]["dev"]), settings.mqtt_url
    async with service.management_slots:
        (outcome,) = await asyncio.to_thread(
            send, broker, settings.dsn, [target], op, args=args,
            timeout=wait_s or limit, requested_by=requested_by(who),
        )  # fmt: skip
    request.app.state.service_metrics.count(op, outcome.ok, outcome.reached, "api")
    status = 504 if outcome.ok is None else 200 if outcome.ok else 502
    result = "no answer" if outcome.ok is None else "ok" if outcome.ok else f"failed: {outcome.error}"
    reached = ", device reached" if outcome.reached else ""
    detail = f"{op} {site}/{device} via {target.gw} (request {outcome.request_id}): {result}{reached}"
    await record(service, request, who, status, detail)
    return JSONResponse(outcome.to_json(), status_code=status)


@router.post("/devices/{site}/{device}/ping")
async def ping(
    who: Operating, service: Svc, request: Request, site: Name, device: Name, wait_s: Wait = None
) -> JSONResponse:
    """Read the device once through its gateway (ok only if the device itself answered)."""
    return await _operate(service, request, who, site, device, "ping", {}, wait_s)


@router.post("/devices/{site}/{device}/read-config")
async def read_config(
    who: Operating, service: Svc, request: Request, site: Name, device: Name, wait_s: Wait = None
) -> JSONResponse:
    """The device's type and points as its gateway has them configured."""
    return await _operate(service, request, who, site, device, "read_config", {}, wait_s)


@router.post("/devices/{site}/{device}/write")
async def write(
    who: Operating, service: Svc, request: Request, site: Name, device: Name, body: WriteRequest,
    wait_s: Wait = None,
) -> JSONResponse:  # fmt: skip
    """Write a setpoint; the answer reports the value read back from the device."""
    args = {"point": body.point, "value": body.value}
    return await _operate(service, request, who, site, device, "write_setpoint", args, wait_s)
