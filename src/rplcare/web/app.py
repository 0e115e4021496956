"""The FastAPI application: pages, JSON API, CDS Hooks services (when installed), /healthz.

`create_app()` migrates the database before serving, so a fresh `var/` or an empty
PostgreSQL database just works. Uvicorn starts it as a factory
(`uvicorn rplcare.web.app:create_app --factory`); importing this module touches no database.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from rplcare.case.errors import CaseError, join_path
from rplcare.store import repository as repo
from rplcare.store.db import Store
from rplcare.web import auth, documents

HERE = Path(__file__).resolve().parent
log = logging.getLogger("rplcare.web")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/cds-services", "/healthz"))


def _problems(request: Request, code: int, problems: list[dict[str, str]]) -> Response:
    if _wants_json(request):
        return JSONResponse({"problems": problems}, status_code=code)
    lines = [f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems]
    return _error_page(request, code, "; ".join(lines))


def _error_page(request: Request, code: int, message: str) -> Response:
    from rplcare.web.pages import render

    user = None
    try:
        with request.app.state.store.read() as s:
            user = auth.session_user(s, request)
    except Exception:  # the error page must render even when the database is down
        log.exception("no user for the error page")
    return render(request, "error.html", user, code, status=code, message=message)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(CaseError)
    async def case_error(request: Request, exc: CaseError) -> Response:
        code = getattr(exc, "status", status.HTTP_422_UNPROCESSABLE_CONTENT)
        return _problems(request, code, exc.as_json())

    @app.exception_handler(repo.StaleVersion)
    async def stale(request: Request, exc: repo.StaleVersion) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {
                    "detail": str(exc),
                    "current_version": exc.current,
                    "expected_version": exc.expected,
                    "changes": exc.changes,
                },
                status_code=status.HTTP_412_PRECONDITION_FAILED,
                headers={"ETag": f'"{exc.current}"'},
            )
        return _error_page(request, status.HTTP_409_CONFLICT, str(exc))

    @app.exception_handler(repo.AssessmentFailed)
    async def assessment_failed(request: Request, exc: repo.AssessmentFailed) -> Response:
        """A stored case whose assessment raises: its own pages say so and why (500), the
        record itself stays readable and editable; no shared page depends on it."""
        log.error("%s", exc, exc_info=exc.__cause__)
        code = status.HTTP_500_INTERNAL_SERVER_ERROR
        if _wants_json(request):
            body = {"detail": str(exc), "case_id": exc.case_id, "version": exc.version}
            return JSONResponse(body, status_code=code)
        from rplcare.web.pages import render

        user = None
        try:
            with request.app.state.store.read() as s:
                user = auth.session_user(s, request)
        except Exception:
            log.exception("no user for the error page")
        return render(
            request,
            "assessment_failed.html",
            user,
            code,
            case_id=exc.case_id,
            failed_version=exc.version,
            reason=exc.reason,
        )

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            loc = [p for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            problems.append({"path": join_path(loc), "message": str(err.get("msg"))})
        return _problems(request, status.HTTP_422_UNPROCESSABLE_CONTENT, problems)

    @app.exception_handler(repo.NotFound)
    async def not_found(request: Request, exc: repo.NotFound) -> Response:
        return _plain(request, status.HTTP_404_NOT_FOUND, str(exc.args[0]))

    @app.exception_handler(repo.Conflict)
    async def conflict(request: Request, exc: repo.Conflict) -> Response:
        return _plain(request, status.HTTP_409_CONFLICT, str(exc.args[0]))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return _error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(auth.LoginRequired)
    async def login_required(request: Request, exc: auth.LoginRequired) -> Response:
        from urllib.parse import quote

        url = f"/login?next={quote(exc.next_url, safe='/')}"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def _plain(request: Request, code: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=code)
    return _error_page(request, code, message)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Swagger UI starts with an inline script (its assets are served from /static)
CSP_DOCS = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
HSTS = "max-age=31536000; includeSubDomains"


def create_app(
    database_url: str | None = None,
    secret_key: str | None = None,
    *,
    secure_cookies: bool | None = None,
    smart_http_client: Any = None,
) -> FastAPI:
    """The app bound to a store (`RPLCARE_DATABASE_URL` or `var/rplcare.db` by default).

    `secure_cookies` (default `RPLCARE_COOKIE_SECURE`, on) marks the session cookie Secure;
    `smart_http_client` (an httpx.Client) is what the SMART launch talks to the EHR with."""
    from rplcare import __version__
    from rplcare.web import (
        api,
        form_pages,
        language,
        outcomes,
        pages,
        patient_pages,
        screening_pages,
    )
    from rplcare.web.throttle import BoundedHasher, LoginThrottle

    store = Store(database_url)
    hasher = BoundedHasher()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        hasher.shutdown()
        store.dispose()

    app = FastAPI(
        title="rplcare",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,  # ReDoc loads its script from a CDN: not served
        description="Clinical decision support for recurrent pregnancy loss. "
        "Decision support, not diagnosis.",
    )
    app.state.store = store
    app.state.hasher = hasher
    app.state.throttle = LoginThrottle()
    app.state.htmx = (HERE / "static" / "htmx.min.js").exists()
    app.state.smart_http_client = smart_http_client
    # EHRs that open SMART apps in a frame: their origins (space-separated), /smart/ only
    smart_frames = " ".join(os.environ.get("RPLCARE_SMART_FRAME_ANCESTORS", "").split())
    secure = auth.cookie_secure(secure_cookies)
    app.state.secure_cookies = secure
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key or auth.secret_key(),
        session_cookie=auth.SESSION_COOKIE,
        max_age=auth.SESSION_MAX_AGE,
        same_site="lax",
        https_only=secure,
    )

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        repo.CLIENT.set(auth.client_of(request))  # audit rows carry the client address
        response = await call_next(request)
        sid = getattr(request.state, "touch_session", None)
        if sid:
            from fastapi.concurrency import run_in_threadpool

            def touch() -> None:
                with store.write() as s:
                    repo.touch_session(s, sid)

            await run_in_threadpool(touch)
        path = request.url.path
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if smart_frames and path.startswith("/smart/"):
            csp = CSP.replace("frame-ancestors 'none'", f"frame-ancestors {smart_frames}")
            response.headers.setdefault("Content-Security-Policy", csp)
        else:
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault(
                "Content-Security-Policy", CSP_DOCS if path == "/docs" else CSP
            )
        if secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if not path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    _install_handlers(app)
    from rplcare.web.limits import BodyLimitMiddleware

    app.add_middleware(BodyLimitMiddleware)  # outermost: nothing reads a body before it
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _install_docs(app)
    app.include_router(api.router)
    app.include_router(form_pages.router)  # before pages: it answers /cases/new and /edit
    app.include_router(patient_pages.router)  # the worklist, patient details, import
    app.include_router(pages.router)
    app.include_router(language.router)
    app.include_router(outcomes.router)
    app.include_router(screening_pages.router)
    _include_cds(app)

    @app.get("/healthz", tags=["service"], summary="Liveness and database check (no login)")
    def healthz() -> JSONResponse:
        from sqlalchemy import text

        try:
            with store.read() as s:
                s.execute(text("SELECT 1"))
            db = "ok"
        except Exception:
            log.exception("health check: database")
            db = "error"
        body: dict[str, Any] = {
            "status": "ok" if db == "ok" else "degraded",
            "database": db,
            "renderers": documents.available(),
        }
        return JSONResponse(body, status_code=200 if db == "ok" else 503)

    return app


def _include_cds(app: FastAPI) -> None:
    """Mount the CDS Hooks services when that module is installed; the app works without.

    Service calls need a client JWT from an issuer listed in `RPLCARE_CDS_CLIENTS`; with none
    listed every call is refused (only discovery is public), so the default is closed.
    """
    try:
        from rplcare.interop.cds import build_cds_router
        from rplcare.interop.cds.auth import CdsJwtVerifier
    except ImportError as exc:
        log.info("CDS Hooks services not mounted: %s", exc)
        return
    from rplcare.store.repository import SqlFeedbackStore

    launch_url, smart = _smart_router(app)
    app.include_router(
        build_cds_router(
            CdsJwtVerifier.from_env(),
            feedback_store=SqlFeedbackStore(app.state.store),
            smart_launch_url=launch_url,
        )
    )
    if smart is not None:
        app.include_router(smart)
    app.add_middleware(_PrefixCors, prefix="/cds-services")


def _smart_router(app: FastAPI) -> tuple[str | None, Any]:
    """(the cards' SMART launch URL, the `/smart` router) from the environment.

    With `RPLCARE_SMART_CLIENT_ID` and `RPLCARE_SMART_REDIRECT_URI` set, `/smart/launch` and
    `/smart/callback` are mounted (interop/cds/smart.py), so a card's `smart` link opens the
    plan here; the launch URL is `RPLCARE_SMART_LAUNCH_URL`, or the redirect URI's
    `/smart/launch` when it ends in `/smart/callback`. Each plan shown is an audit row."""
    from rplcare.interop.cds.discovery import (
        ENV_SMART_CLIENT_ID,
        ENV_SMART_LAUNCH_URL,
        ENV_SMART_REDIRECT_URI,
    )

    client_id = os.environ.get(ENV_SMART_CLIENT_ID, "").strip()
    redirect = os.environ.get(ENV_SMART_REDIRECT_URI, "").strip()
    launch_url = os.environ.get(ENV_SMART_LAUNCH_URL, "").strip() or None
    if not (client_id and redirect):
        return launch_url, None
    from rplcare.interop.cds.smart import build_smart_router

    if launch_url is None and redirect.endswith("/smart/callback"):
        launch_url = redirect[: -len("callback")] + "launch"
    store = app.state.store

    def audit_plan(iss: str, patient: str) -> None:
        with store.write() as s:
            repo.audit(
                s, None, "viewed", None, {"what": "smart_plan", "iss": iss, "patient": patient}
            )

    http_client = getattr(app.state, "smart_http_client", None)
    return launch_url, build_smart_router(
        client_id, redirect, http_client=http_client, on_plan=audit_plan
    )


class _PrefixCors:
    """CORS (with the Authorization preflight) for the CDS Hooks endpoints only: EHR sandboxes
    call them from a browser, while the clinician pages and API stay same-origin."""

    def __init__(self, app: Any, prefix: str) -> None:
        from starlette.middleware.cors import CORSMiddleware

        self.app = app
        self.prefix = prefix
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_credentials=False,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _install_docs(app: Any) -> None:
    """Swagger UI at /docs from vendored assets (FastAPI's default loads them from a CDN,
    which a hospital network or this project's machines may not reach)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Any:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="rplcare API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon.png",
        )
