"""The console's pages: sign-in, fleet, device, figures and tiers, data quality, audit log.

Each page reads through the API's route functions with the signed-in principal, so what a page
shows is what the API answers that token; the figure, device and tier tables are the evidence
report's own (one rendering of each).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from api import alarm_store, routes_alarms, routes_claims, routes_evidence
from api import app as api
from api.auth import Authenticator, Principal
from api.console import session
from api.store import Role
from collector.evidence import quality_section
from collector.evidence.report import _CSS as REPORT_CSS
from collector.evidence.report_claims import claims_section, verdict_badge
from collector.evidence.report_figures import devices_section, figures_section, tiers_section
from collector.figures import tenant
from collector.figures.tiers import evaluate
from collector.i18n import HTML_LANG, LANG_NAMES, LANGS, Lang, formats, label, text

STATIC = FilePath(__file__).parent / "static"
TEMPLATES = Environment(
    loader=FileSystemLoader(FilePath(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
FLEET_ROLES: tuple[Role, ...] = ("admin", "operator")  # the API's registry routes
AUDIT_ROLES: tuple[Role, ...] = ("admin", "auditor")
EVERYONE: tuple[Role, ...] = ("admin", "operator", "auditor")
ACK_ROLES: tuple[Role, ...] = ("admin", "operator")  # the API's acknowledgement route
NAV: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("fleet", "/console/", FLEET_ROLES),
    ("alarms", "/console/alarms", EVERYONE),
    ("claims", "/console/claims", EVERYONE),
    ("figures", "/console/figures", EVERYONE),
    ("evidence", "/console/evidence", EVERYONE),
    ("quality", "/console/quality", ("admin", "operator", "auditor")),
    ("audit", "/console/audit", AUDIT_ROLES),
)

router = APIRouter(include_in_schema=False)
Fleet = Annotated[Principal, Depends(session.page_for(*FLEET_ROLES))]
Anyone = Annotated[Principal, Depends(session.page_for(*EVERYONE))]
Auditing = Annotated[Principal, Depends(session.page_for(*AUDIT_ROLES))]
Lng = Annotated[Lang, Depends(session.lang_of)]


def _render(
    request: Request, name: str, lang: Lang, who: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    def t(key: str, **fields: Any) -> str:
        return text(key, lang, **fields)

    page = TEMPLATES.get_template(name).render(
        t=t, lbl=lambda key: label(key, lang), lang=lang, html_lang=HTML_LANG[lang], who=who,
        nav=[(key, href) for key, href, roles in NAV if who is not None and who.role in roles],
        langs=[(code, LANG_NAMES[code]) for code in LANGS], path=request.url.path,
        moment=lambda v: formats.moment(v, lang), number=lambda v: formats.number(v, lang, 0),
        report_css=Markup(REPORT_CSS), **context,
    )  # fmt: skip
    response = HTMLResponse(page, status_code=status)
    session.remember_lang(request, response, lang)
    return response


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=303)


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """Browsers ask for it on every page, the API's JSON answers too."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@router.get("/console/signin")
async def signin_page(request: Request, lang: Lng) -> HTMLResponse:
    return _render(request, "signin.html", lang, None, failed=False)


@router.post("/console/signin")
async def signin(request: Request, lang: Lng) -> Response:
    token = await session.form_token(request)
    auth: Authenticator = request.app.state.auth
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    try:
        who = await auth.principal(request, credentials)
    except HTTPException as exc:
        if exc.status_code != 401:
            raise
        return _render(request, "signin.html", lang, None, status=401, failed=True)
    start = "/console/" if who.role in FLEET_ROLES else "/console/figures"
    response = RedirectResponse(start, status_code=303)
    session.start_session(request, response, token)
    return response


@router.post("/console/signout")
async def signout() -> RedirectResponse:
    response = RedirectResponse("/console/signin", status_code=303)
    session.end_session(response)
    return response


@router.get("/console/")
async def fleet(
    request: Request, who: Fleet, service: api.Svc, lang: Lng,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:  # fmt: skip
    gateways = await api.gateways(who, service)
    devices = await api.devices(who, service, request, Response(), limit=FLEET_PAGE, offset=offset)
    summary = (await service.rows(_FLEET_SUMMARY, {"sites": list(who.sites)}))[0]
    active_alarms = await alarm_store.count_active(service.pool, who)
    total = int(summary["devices"])
    pages = {
        "previous": max(0, offset - FLEET_PAGE) if offset > 0 else None,
        "next": offset + FLEET_PAGE if offset + FLEET_PAGE < total else None,
        "first": offset + 1 if devices else 0,
        "last": offset + len(devices),
    }
    return _render(
        request, "fleet.html", lang, who, gateways=gateways, devices=devices, total=total,
        online=int(summary["online"]), gw_online=sum(1 for g in gateways if g.status == "online"),
        ingest_per_s=int(summary["readings_last_minute"]) / 60, pages=pages, active_alarms=active_alarms,
    )  # fmt: skip


FLEET_PAGE = 100  # devices per fleet page: a page stays fast whatever the registry's size
# The fleet's counts, and the readings stored in the last minute on the tenant's points (the BRIN
# index on time finds them).
_FLEET_SUMMARY = """
SELECT count(*) AS devices, count(*) FILTER (WHERE online) AS online,
       (SELECT count(*) FROM readings r
        JOIN points p ON p.point_id = r.point_id JOIN devices d ON d.device_id = p.device_id
        WHERE r.time > now() - interval '60 seconds' AND d.site = ANY(%(sites)s)) AS readings_last_minute
FROM devices WHERE namespace = 'plant' AND site = ANY(%(sites)s)
"""


@router.get("/console/devices/{site}/{device}")
async def device(
    request: Request, who: Fleet, service: api.Svc, lang: Lng, site: api.Name, device: api.Name
) -> HTMLResponse:
    try:
        detail = await api.device(who, service, site, device)
    except HTTPException as exc:
        if exc.status_code != 404:
            raise
        return _render(request, "missing.html", lang, who, status=404)
    numeric = [p for p in detail.points if p.dtype != "string"]
    states = [p for p in detail.points if p.kind == "state"]
    return _render(
        request, "device.html", lang, who, device=detail, numeric=numeric, states=states,
        chart_minutes=CHART_MINUTES,
        can_manage=who.role in MANAGE_ROLES,
    )  # fmt: skip


CHART_MINUTES = 15  # the live chart's range; the readings route bins it server-side when it is dense
MANAGE_ROLES: tuple[Role, ...] = ("admin", "operator")  # the API's management routes


@router.get("/console/figures")
async def figures(
    request: Request, who: Anyone, service: api.Svc, lang: Lng,
    window: Annotated[str | None, Query(pattern=api.WINDOW_PATTERN)] = None,
) -> HTMLResponse:  # fmt: skip
    result, params = await api.tenant_figures(service, who, window)
    ev = {
        "figures": result.to_json(),
        "parameters": params.to_json(),
        "tiers": evaluate(result, service.declared),
    }
    sections = [figures_section(ev, lang), devices_section(ev, lang), tiers_section(ev, lang)]
    scope = tenant.scope_json(who.tenant, who.sites)
    return _render(
        request, "figures.html", lang, who, window=params.window.label, months=_recent_months(),
        sections=[Markup(s) for s in sections], scope=scope,
    )  # fmt: skip


@router.get("/console/quality")
async def quality(
    request: Request, who: Anyone, service: api.Svc, lang: Lng,
    window: Annotated[str | None, Query(pattern=api.WINDOW_PATTERN)] = None,
) -> HTMLResponse:  # fmt: skip
    result = await api.quality(who, service, window)
    return _render(
        request, "quality.html", lang, who, window=result["window"], months=_recent_months(),
        section=Markup(quality_section.render({"quality": result}, lang)), scope=result["scope"],
    )  # fmt: skip


def _recent_months(count: int = 13) -> list[str]:
    now = datetime.now(UTC)
    year, month = now.year, now.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


@router.get("/console/alarms")
async def alarms(request: Request, who: Anyone, lang: Lng) -> HTMLResponse:
    listed = await routes_alarms.alarms(who, request, state="all", limit=500)
    listed.sort(key=lambda a: (a.cleared_at is not None, -a.raised_at.timestamp()))  # active first
    return _render(request, "alarms.html", lang, who, alarms=listed, can_ack=who.role in ACK_ROLES)


@router.get("/console/claims")
async def claims(request: Request, who: Anyone, service: api.Svc, lang: Lng) -> HTMLResponse:
    listed = await routes_claims.list_claims(who, service)
    return _render(request, "claims.html", lang, who, claims=listed, verdict=_verdict_badge(lang))


@router.get("/console/claims/{claim_id}")
async def claim(
    request: Request, who: Anyone, service: api.Svc, lang: Lng, claim_id: routes_claims.ClaimId
) -> HTMLResponse:
    try:
        found = await routes_claims.claim_results(who, service, claim_id, limit=1)
    except HTTPException as exc:
        if exc.status_code != 404:
            raise
        return _render(request, "missing.html", lang, who, status=404)
    latest = found["results"][0]["result"] if found["results"] else None
    # The evidence report's own claim block: verdict, interval plot, daily series, coverage, devices.
    block = claims_section({"claims": {"included": True, "results": [latest]}}, lang) if latest else ""
    return _render(
        request, "claim.html", lang, who, claim=found, block=Markup(block),
        can_verify=who.role in MANAGE_ROLES, verdict=_verdict_badge(lang),
    )  # fmt: skip


def _verdict_badge(lang: Lang) -> Any:
    return lambda v: Markup(verdict_badge(v, lang)) if v else ""


@router.get("/console/evidence")
async def evidence(request: Request, who: Anyone, service: api.Svc, lang: Lng) -> HTMLResponse:
    bundles = await routes_evidence.list_bundles(who, service)
    return _render(
        request, "evidence.html", lang, who, bundles=bundles, months=_recent_months(),
        can_export=who.role in MANAGE_ROLES,
    )  # fmt: skip


@router.get("/console/audit")
async def audit(request: Request, who: Auditing, service: api.Svc, lang: Lng) -> HTMLResponse:
    entries = await api.audit_log(who, service, limit=200)
    return _render(request, "audit.html", lang, who, entries=entries)
