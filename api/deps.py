"""What the route modules share: the service, the role annotations, path and error helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError

from api.app import Service, _params
from api.auth import Principal, audit, require
from collector.figures.compute import Parameters

Operating = Annotated[Principal, Depends(require("admin", "operator"))]
Reading = Annotated[Principal, Depends(require("admin", "operator", "auditor"))]
Name = Annotated[str, Path(min_length=1, max_length=256)]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


Svc = Annotated[Service, Depends(_service)]


def invalid(where: str, field: str | tuple[str | int, ...], message: str) -> RequestValidationError:
    """A 422 whose `loc` names the field, like FastAPI's own validation errors."""
    loc: tuple[Any, ...] = (where, *((field,) if isinstance(field, str) else field))
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


_DEVICE = """
SELECT device_id, site, dev, gw FROM devices
WHERE namespace = 'plant' AND site = ANY(%(sites)s) AND site = %(site)s AND dev = %(dev)s
"""


async def tenant_device(service: Service, who: Principal, site: str, device: str) -> dict[str, Any]:
    """The tenant's plant device `site/device` (device_id, site, dev, gw); 404 when it is not the
    tenant's, exactly as when it does not exist."""
    rows = await service.rows(_DEVICE, {"sites": list(who.sites), "site": site, "dev": device})
    if not rows:
        raise HTTPException(404, f"no device {site}/{device}")
    return rows[0]


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 when its Content-Length says it is over `max_bytes` (before
    a byte is read) or when the bytes streamed in pass it (a missing or false Content-Length)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise HTTPException(413, f"body larger than {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413, f"body larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def record(service: Service, request: Request, who: Principal, status: int, detail: str) -> None:
    """A write's row in the audit log: who (token, role, tenant, address), when, what, and its result."""
    await audit(service.pool, request, status, detail, who)


@asynccontextmanager
async def refusals(service: Service, request: Request, who: Principal, what: str) -> AsyncIterator[None]:
    """Around a write: a refusal raised inside (an HTTP error, a 422) is in the audit log too."""
    try:
        yield
    except HTTPException as exc:
        await record(service, request, who, exc.status_code, f"{what} refused: {exc.detail}")
        raise
    except RequestValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        await record(service, request, who, 422, f"{what} refused: {where}: {first.get('msg', '')}")
        raise


def window_params(window: str | None, service: Service, where: str = "query") -> Parameters:
    """The figure parameters of a window; 422 naming `window` in the query or the body."""
    try:
        return _params(window, service)
    except RequestValidationError as exc:
        raise invalid(where, "window", str(exc.errors()[0]["msg"])) from None
