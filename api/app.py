"""The FastAPI application: `create_app(settings)`, every route under /api/v1.

Every route takes the caller's `Principal` (api.auth) and reads only rows of the sites the
caller's tenant owns; a device of another tenant is 404, exactly like one that does not exist.
Registry routes are for admins and operators, the audit log for admins and auditors, figures,
tiers and data quality for every role.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from api.alarm_config import load_alarm_config
from api.alarm_metrics import AlarmMetrics
from api.auth import Authenticator, FailureLimiter, Principal, require
from api.models import AuditEntry, Device, DeviceDetail, Gateway, Point
from api.monitoring import Evaluator
from api.routes_alarms import metrics_router
from api.routes_alarms import router as alarms_router
from api.service_metrics import ServiceMetrics
from api.settings import ApiSettings
from api.sweep import Sweep
from collector.db import DatabaseUnavailableError
from collector.errors import CollectorError
from collector.figures import queries
from collector.figures import tenant as scoped
from collector.figures.compute import DEFINITIONS, Parameters
from collector.figures.declared import Declared, load_declared
from collector.figures.model import Figures
from collector.figures.tiers import evaluate
from collector.figures.window import parse_window
from collector.quality.queries import assessment

log = logging.getLogger("plantproof.api")
PREFIX = "/api/v1"
# Query window syntax: the collector's (YYYY-MM, YYYY-MM-DD, or A..B of either).
WINDOW_PATTERN = r"^\d{4}-\d{2}(-\d{2})?(\.\.\d{4}-\d{2}(-\d{2})?)?$"

Registry = Annotated[Principal, Depends(require("admin", "operator"))]
Anyone = Annotated[Principal, Depends(require("admin", "operator", "auditor"))]
Auditing = Annotated[Principal, Depends(require("admin", "auditor"))]
Name = Annotated[str, Path(min_length=1, max_length=256)]
WindowQuery = Annotated[
    str | None,
    Query(pattern=WINDOW_PATTERN, description="YYYY-MM (or the collector's A..B); default: last month"),
]


class Service:
    """What the routes share: the pool, the authenticator and the figure settings."""

    def __init__(self, settings: ApiSettings, declared: Declared) -> None:
        self.settings, self.declared = settings, declared
        limits = settings.limits
        self.pool = AsyncConnectionPool(
            settings.dsn,
            min_size=limits.pool_min,
            max_size=limits.pool_max,
            open=False,
            timeout=10,
            kwargs={"autocommit": True, "connect_timeout": 10},
        )
        self.figures_slots = asyncio.Semaphore(limits.figures_concurrency)
        self.management_slots = asyncio.Semaphore(limits.management_concurrency)

    async def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.cursor(row_factory=dict_row).execute(sql, params)
            return await cur.fetchall()


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


Svc = Annotated[Service, Depends(_service)]


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])


def _params(window: str | None, service: Service) -> Parameters:
    now = datetime.now(UTC)
    try:
        parsed = parse_window(window, now)
    except CollectorError as exc:
        raise _invalid("window", str(exc)) from None
    if parsed.days > service.settings.limits.max_window_days:
        raise _invalid("window", f"longer than {service.settings.limits.max_window_days} days")
    return Parameters(parsed, now)


async def tenant_figures(service: Service, who: Principal, window: str | None) -> tuple[Figures, Parameters]:
    params = _params(window, service)
    async with service.figures_slots:
        loaded = await asyncio.to_thread(queries.load, service.settings.dsn, params.window)
    return scoped.tenant_figures(loaded.results, who.sites, params), params


router = APIRouter(prefix=PREFIX)

_GATEWAYS = """
SELECT gw, site, status, backfill, first_seen, last_seen, status_changed_at
FROM gateways WHERE site = ANY(%(sites)s) ORDER BY site, gw
"""
_DEVICES = """
SELECT site, dev AS device, gw AS gateway, type, industry, sector, simulated, managed, online,
       first_seen, last_seen, protocol, area, line
FROM devices
WHERE namespace = 'plant' AND site = ANY(%(sites)s) AND (%(site)s::text IS NULL OR site = %(site)s)
  AND (%(dev)s::text IS NULL OR dev = %(dev)s)
ORDER BY site, dev
LIMIT %(limit)s OFFSET %(offset)s
"""
# A page of the device list holds at most this many devices; `X-Total-Count` and a `Link` to the next
# page say what is left.
PAGE_MAX = 10_000
# The last reading per point comes from the (point_id, time) index, one probe per point, in the
# table its type is stored in.
_POINTS = """
SELECT p.name, p.kind, p.dtype, p.unit, coalesce(num.time, txt.time) AS last_reading,
       num.value AS last_value, txt.value AS last_text, coalesce(num.quality, txt.quality) AS last_quality
FROM devices d
JOIN points p ON p.device_id = d.device_id
LEFT JOIN LATERAL (
    SELECT r.time, coalesce(r.value_int::numeric, r.value)::float8 AS value, r.quality FROM readings r
    WHERE r.point_id = p.point_id AND p.dtype <> 'string' ORDER BY r.time DESC LIMIT 1
) num ON true
LEFT JOIN LATERAL (
    SELECT t.time, t.value, t.quality FROM readings_text t
    WHERE t.point_id = p.point_id AND p.dtype = 'string' ORDER BY t.time DESC LIMIT 1
) txt ON true
WHERE d.site = %(site)s AND d.dev = %(dev)s
ORDER BY p.name
"""


@router.get("/gateways", response_model=list[Gateway], tags=["registry"])
async def gateways(who: Registry, service: Svc) -> list[Gateway]:
    """The gateways of the tenant's sites."""
    return [Gateway(**r) for r in await service.rows(_GATEWAYS, {"sites": list(who.sites)})]


@router.get("/devices", response_model=list[Device], tags=["registry"])
async def devices(
    who: Registry, service: Svc, request: Request, response: Response,
    site: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description="devices per page")] = 1000,
    offset: Annotated[int, Query(ge=0, description="devices skipped (site, device order)")] = 0,
) -> list[Device]:  # fmt: skip
    """The tenant's devices (capacity-run populations excluded), a page at a time in (site, device)
    order; `site` narrows to one site. `X-Total-Count` gives the number of devices, `Link` the next page."""
    params = {"sites": list(who.sites), "site": site, "dev": None, "limit": limit, "offset": offset}
    rows = await service.rows(_DEVICES, params)
    total = await count_devices(service, who, site)
    response.headers["X-Total-Count"] = str(total)
    if offset + len(rows) < total:
        following = request.url.include_query_params(offset=offset + len(rows), limit=limit)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return [Device(**r) for r in rows]


async def count_devices(service: Service, who: Principal, site: str | None = None) -> int:
    rows = await service.rows(
        "SELECT count(*) AS n FROM devices WHERE namespace = 'plant' AND site = ANY(%(sites)s)"
        " AND (%(site)s::text IS NULL OR site = %(site)s)",
        {"sites": list(who.sites), "site": site},
    )
    return int(rows[0]["n"])


@router.get("/devices/{site}/{device}", response_model=DeviceDetail, tags=["registry"])
async def device(who: Registry, service: Svc, site: Name, device: Name) -> DeviceDetail:
    """One device: status, last seen and its points with their last reading time; 404 if not the tenant's."""
    rows = await service.rows(
        _DEVICES, {"sites": list(who.sites), "site": site, "dev": device, "limit": 1, "offset": 0}
    )
    if not rows:
        raise HTTPException(404, f"no device {site}/{device}")
    points = await service.rows(_POINTS, {"site": site, "dev": device})
    return DeviceDetail(**rows[0], points=[Point(**p) for p in points])


@router.get("/figures", tags=["figures"])
async def figures(who: Anyone, service: Svc, window: WindowQuery = None) -> dict[str, Any]:
    """The platform figures of a window (DESIGN §5) over the tenant's sites only."""
    result, params = await tenant_figures(service, who, window)
    return {
        "parameters": params.to_json(),
        "scope": scoped.scope_json(who.tenant, who.sites),
        "definitions": DEFINITIONS,
        "figures": result.to_json(),
    }


@router.get("/tiers", tags=["figures"])
async def tiers(who: Anyone, service: Svc, window: WindowQuery = None) -> dict[str, Any]:
    """Every tier threshold against the tenant's figures, and the declared values."""
    result, params = await tenant_figures(service, who, window)
    return {
        "parameters": params.to_json(),
        "scope": scoped.scope_json(who.tenant, who.sites),
        "declared": service.declared.to_json(),
        "tiers": evaluate(result, service.declared),
    }


@router.get("/quality", tags=["figures"])
async def quality(who: Anyone, service: Svc, window: WindowQuery = None) -> dict[str, Any]:
    """Data quality of the tenant's sites (DESIGN §12): four dimensions and a score per site,
    device and point, with the formula."""
    params = _params(window, service)
    async with service.figures_slots:
        dsn = service.settings.dsn
        result = await asyncio.to_thread(assessment, dsn, params.window, params.as_of, who.sites)
    return {"scope": scoped.scope_json(who.tenant, who.sites), **result}


@router.get("/audit", response_model=list[AuditEntry], tags=["audit"])
async def audit_log(
    who: Auditing, service: Svc, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AuditEntry]:
    """The tenant's audit log, newest first."""
    rows = await service.rows(
        "SELECT at, token_id, role, client, method, path, status, detail FROM audit_log"
        " WHERE tenant = %(tenant)s ORDER BY at DESC, id DESC LIMIT %(limit)s",
        {"tenant": who.tenant_id, "limit": limit},
    )
    return [AuditEntry(**r) for r in rows]


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # The cause goes to the log; the client learns only that the database is the problem.
    log.error("%s %s: %s", request.method, request.url.path, " ".join(str(exc).split()))
    # queries.load wraps the psycopg error it met: an unreachable database is its cause
    if isinstance(exc, psycopg.OperationalError | DatabaseUnavailableError) or isinstance(
        exc.__cause__, psycopg.OperationalError
    ):
        return JSONResponse({"detail": "database unavailable"}, status_code=503)
    if isinstance(exc, psycopg.DataError):  # a value of the request PostgreSQL refuses to hold
        return JSONResponse({"detail": "a value in the request cannot be stored"}, status_code=422)
    return JSONResponse({"detail": "internal error"}, status_code=500)


async def _refuse_nul(request: Request, call_next: Any) -> Any:
    """No path or query value may hold a NUL character: PostgreSQL text cannot, and no id has one."""
    where = [("path", "path")] if "\x00" in request.url.path else []
    where += [("query", k) for k, v in request.query_params.multi_items() if "\x00" in k or "\x00" in v]
    if where:
        msg = "contains a NUL character"
        errors = [{"loc": list(loc), "msg": msg, "type": "value_error"} for loc in where]
        return JSONResponse({"detail": errors}, status_code=422)
    return await call_next(request)


def create_app(settings: ApiSettings) -> FastAPI:
    """The application; the database pool opens in its lifespan, and the alarm evaluator runs in it
    when settings.alarms is set. CollectorError when the declared values (settings.declared) cannot
    be read, ConfigFileError when the alarm rules cannot."""
    service = Service(settings, load_declared(settings.declared))
    alarm_metrics = AlarmMetrics()
    service_metrics = ServiceMetrics(alarm_metrics.registry)
    evaluator = None
    if settings.alarms is not None:
        evaluator = Evaluator(load_alarm_config(settings.alarms), service.pool, alarm_metrics)
    limits = settings.limits
    limiter = FailureLimiter(limits.auth_failures, limits.auth_window_s, limits.auth_clients)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.pool.open()
        if evaluator is not None:
            evaluator.start()
        sweeping = None
        if settings.sweep.enabled and settings.mqtt_url is not None:
            sweep = Sweep(settings.sweep, service.pool, settings.mqtt_url, settings.dsn, service_metrics)
            app.state.sweep, sweeping = sweep, asyncio.create_task(sweep.run())
        try:
            yield
        finally:
            if sweeping is not None:
                sweeping.cancel()
                await asyncio.gather(sweeping, return_exceptions=True)
            if evaluator is not None:
                await evaluator.stop()
            await service.pool.close()

    app = FastAPI(
        title="plantproof platform API",
        version="1",
        openapi_url=f"{PREFIX}/openapi.json",
        # The browsable pages load their scripts from a CDN; an edge box may have no way out.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.alarm_metrics, app.state.evaluator = alarm_metrics, evaluator
    app.state.service_metrics = service_metrics
    app.state.auth = Authenticator(service.pool, limiter)
    app.include_router(router)
    app.include_router(alarms_router)
    app.include_router(metrics_router)
    # the route modules use this module's Service
    from api import (
        routes_claims,
        routes_deadletters,
        routes_evidence,
        routes_management,
        routes_readings,
        routes_tokens,
    )

    for module in (
        routes_readings, routes_claims, routes_evidence, routes_management, routes_deadletters, routes_tokens,
    ):  # fmt: skip
        app.include_router(module.router)

    from api.console import mount  # the console reads through this module's routes

    mount(app)
    app.middleware("http")(_refuse_nul)
    app.add_exception_handler(psycopg.Error, _database_error)
    app.add_exception_handler(CollectorError, _database_error)
    return app
