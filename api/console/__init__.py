"""The web console: server-rendered pages for operators, auditors and admins, served by the API.

Pages sign in with a token (kept in an HttpOnly, SameSite=Strict cookie), read through the API's
own route functions (so a page shows exactly what the API would answer the same token), and hide
what the role may not do; the API refuses it anyway. Labels come from the one catalog
(collector.i18n) in 中文 and English; scripts and styles are served from this package (uPlot
vendored from npm), so the console works on a plant network with no way out.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.console.pages import STATIC, router
from api.console.session import SignInRequiredError


async def _to_sign_in(request: Request, exc: Exception) -> RedirectResponse:
    return RedirectResponse("/console/signin", status_code=303)


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(SignInRequiredError, _to_sign_in)
