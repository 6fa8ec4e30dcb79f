"""The ASGI application: the /api/v1 API, the web pages, static assets, one error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from molehunt import __version__
from molehunt.errors import MolehuntError, WorkspaceError
from molehunt.serve.api import build_api
from molehunt.serve.context import ServeContext
from molehunt.serve.errors import error_body
from molehunt.serve.i18n import Translator, choose_locale
from molehunt.serve.render import render_page
from molehunt.serve.snapshot import DEFAULT_CHECK_INTERVAL, SnapshotReader
from molehunt.serve.views import AnswerCache, PeopleIndex
from molehunt.serve.web import build_web
from molehunt.serve.workbench import Clock, Workbench
from molehunt.store.database import DATABASE_FILE

# Everything the pages load comes from molehunt itself; charts are inline SVG.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


# Seconds the server keeps the workbench file open after the last request (workbench.py).
WORKBENCH_LEASE = 0.5


def utc_now() -> datetime:
    """Return the current UTC time without a zone (as the workbench tables store it)."""
    return datetime.now(UTC).replace(tzinfo=None)


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every HTTP response.

    Args:
        app: The wrapped application.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _status_of(error: MolehuntError) -> int:
    if isinstance(error, WorkspaceError):
        return 503
    return int(getattr(error, "status", 400))


def _error_response(request: Request, messages: list[str], status: int) -> Response:
    if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
        return JSONResponse(error_body(messages, status), status_code=status)
    if status == 401:
        return RedirectResponse("/login", status_code=303)
    t = Translator(
        choose_locale(
            request.query_params.get("lang"),
            request.cookies.get("molehunt_lang"),
            request.headers.get("accept-language"),
        )
    )
    html = render_page(
        "error.html", t=t, who=None, csrf="", stale=False, status=status, message=messages[0]
    )
    return HTMLResponse(html, status_code=status)


def create_app(
    workspace: Path | str,
    *,
    now: Clock = utc_now,
    check_interval: float = DEFAULT_CHECK_INTERVAL,
) -> FastAPI:
    """Build the workbench application on a workspace.

    Args:
        workspace: The workspace folder (must hold a database: run `molehunt ingest` first).
        now: The clock (UTC, naive), for audit times and session expiry.
        check_interval: Seconds between looks for a changed workspace (snapshot refresh).

    Returns:
        The ASGI application.

    Raises:
        WorkspaceError: No workspace there.
    """
    root = Path(workspace).expanduser().absolute()
    if not (root / DATABASE_FILE).exists():
        raise WorkspaceError(
            f"no molehunt workspace at {root} (expected {DATABASE_FILE}; run `molehunt demo` "
            "or `molehunt ingest` first, or pass --workspace)"
        )
    workbench = Workbench(root, now, lease=WORKBENCH_LEASE)
    names = workbench.pseudonymizer()
    app = FastAPI(
        title="molehunt workbench API",
        version=__version__,
        description="Insider-risk queue, people, findings and cases under pseudonyms. "
        "Every endpoint needs `Authorization: Bearer <token>` (`molehunt token create`).",
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.context = ServeContext(
        root=root,
        now=now,
        reader=SnapshotReader(root, check_interval=check_interval),
        workbench=workbench,
        names=names,
        people=PeopleIndex(names),
        answers=AnswerCache(),
    )
    app.include_router(build_api())
    app.include_router(build_web())
    static = Path(str(resources.files("molehunt.serve") / "static"))
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.add_middleware(SecurityHeaders)
    _add_error_handlers(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On shutdown, close the workbench file and delete the snapshot copies."""
    yield
    context: ServeContext = app.state.context
    context.workbench.close()
    context.reader.close()


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MolehuntError)
    async def molehunt_error(request: Request, error: MolehuntError) -> Response:
        return _error_response(request, [str(error)], _status_of(error))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        messages = [_validation_message(item) for item in error.errors()]
        return _error_response(request, messages or ["invalid request"], 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return _error_response(request, [str(error.detail)], error.status_code)


def _validation_message(item: Any) -> str:
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    return f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid"))
