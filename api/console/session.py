"""Signing in and out of the console, the page's principal and the reader's language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response

from api.auth import SESSION_COOKIE, Authenticator, Principal, session_credentials
from api.store import Role
from collector.i18n import LANGS, Lang

LANG_COOKIE = "pp_lang"
MAX_FORM_BYTES = 4096  # the sign-in form holds one token
SESSION_SECONDS = 12 * 3600


class SignInRequiredError(Exception):
    """No session, or its token is unknown or revoked: the page sends the browser to sign in."""


async def principal_of(request: Request) -> Principal:
    credentials = session_credentials(request)
    if credentials is None:
        raise SignInRequiredError
    auth: Authenticator = request.app.state.auth
    try:
        return await auth.principal(request, credentials)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise SignInRequiredError from None
        raise


def page_for(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the signed-in principal, 403 when its role may not see the page."""

    async def dependency(who: Annotated[Principal, Depends(principal_of)]) -> Principal:
        if who.role not in roles:
            raise HTTPException(403, f"role {who.role} may not see this page")
        return who

    return dependency


def lang_of(request: Request) -> Lang:
    """?lang= wins, then the reader's earlier choice, then the browser's preference (中文 first)."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGS:
            return candidate
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "zh"


def remember_lang(request: Request, response: Response, lang: Lang) -> None:
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)


async def form_token(request: Request) -> str:
    """The token field of the sign-in form (a bounded urlencoded body)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise HTTPException(413, f"the sign-in form is limited to {MAX_FORM_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, f"the sign-in form is limited to {MAX_FORM_BYTES} bytes")
    fields = parse_qs(body.decode("utf-8", "replace"))
    return (fields.get("token") or [""])[0].strip()


def start_session(request: Request, response: Response, token: str) -> None:
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(
        SESSION_COOKIE, token, max_age=SESSION_SECONDS, httponly=True, samesite="strict", secure=secure,
        path="/",
    )  # fmt: skip


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
