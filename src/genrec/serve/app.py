"""The FastAPI application: the REST API, the browser pages, security headers, start-up and shutdown."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import genrec
from genrec.config import ServeConfig
from genrec.data.accounts import AccountStore
from genrec.data.dataset import Dataset
from genrec.data.sql import open_database, redact, resolve_url
from genrec.serve import api, web
from genrec.serve.auth import KeyCache
from genrec.serve.limits import BodyLimit, safe_errors
from genrec.serve.service import Service
from genrec.serve.settings import settings_from_env

log = logging.getLogger("genrec.serve")
STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Add the security headers to every HTTP response (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in present]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def bootstrap_admin(accounts: AccountStore) -> None:
    """On a store with no admin key, create one and print it once (the way into a fresh install)."""
    if accounts.count_keys("admin"):
        return
    key_id, key = accounts.create_key("admin", "admin", "created at first start")
    print(
        f"genrec serve: no admin key existed, so one was created (key id {key_id}). It is shown only now.\n"
        f"  admin key: {key}\n"
        "  Sign in with it at /signin; create user keys on the admin page or with `genrec keys create --user U`.",
        file=sys.stderr,
        flush=True,
    )


def create_app(settings: ServeConfig | None = None, dataset: Dataset | None = None) -> FastAPI:
    """The application for ``settings`` (start-up loads the models in the background; ``dataset``: loaded already)."""
    settings = settings or settings_from_env()
    url = resolve_url(settings.db, settings.store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(url)
        log.info("state database: %s (%s)", redact(url), db.kind)
        service = Service(settings, db, dataset)
        app.state.service = service
        app.state.accounts = service.accounts
        app.state.keys = KeyCache(service.accounts)
        app.state.settings = settings
        if settings.bootstrap_admin:
            bootstrap_admin(service.accounts)
        service.batcher.start()
        service.feedback_writer.start()
        service.engine.start()
        try:
            yield
        finally:
            await service.batcher.stop()
            await service.feedback_writer.stop()
            service.stop()
            if service.engine.wait_loaded(5.0):
                db.close()
            else:  # closing a connection the loading thread is using crashes DuckDB; exiting releases it
                log.warning("stopping while the models are still loading; the database is released at exit")

    app = FastAPI(
        title="genrec",
        version=genrec.__version__,
        description="Generative recommendation as a service: recommendations, the instruction loop "
        "(retrieve / edit / create), feedback, fidelity audit. Authenticate with `Authorization: Bearer <key>`.",
        lifespan=lifespan,
        docs_url=None,  # the Swagger page loads scripts from a CDN, which the CSP forbids
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so the 413 gets the headers too
    app.include_router(api.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_error_pages(app)
    return app


HEADINGS = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible",
    422: "Please check what you entered",
}


def add_error_pages(app: FastAPI) -> None:
    """JSON errors for the API, HTML pages for the browser; a page needing sign-in redirects to it."""

    @app.exception_handler(web.SignInRequired)
    async def sign_in(request: Request, exc: Exception) -> Response:
        if request.headers.get("x-requested-with") == "fetch":
            return Response("Your session ended; please sign in again.", 401)
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(("/v1/", "/static/", "/openapi")):
            return await http_exception_handler(request, exc)
        message = exc.detail if isinstance(exc.detail, str) else "The request could not be handled."
        if exc.status_code == 404:
            message = "There is nothing here, or it is not yours to see."
        context = {"status": exc.status_code, "heading": HEADINGS.get(exc.status_code, "Something went wrong")}
        response = web.TEMPLATES.TemplateResponse(
            request, "error.html", {**context, "message": message}, status_code=exc.status_code
        )
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if request.url.path.startswith("/v1/"):  # never echo a large or non-JSON input (NaN, lone surrogates)
            return JSONResponse({"detail": safe_errors(exc.errors())}, status_code=422)
        return await http_error(request, HTTPException(422, "The request was not valid."))


def app_factory() -> Any:
    """For ``uvicorn --factory genrec.serve.app:app_factory`` (settings from the environment)."""
    return create_app(settings_from_env())
