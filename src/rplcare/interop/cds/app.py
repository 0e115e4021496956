"""CDS Hooks 2.0 service app: router, endpoints and the standalone app.

Hot path: prefetch is parsed with plain-JSON accessors (`fhir.read`), never with the FHIR
models, so a call costs about a millisecond of mapping plus the assessment (interop.md §2).

Failure policy. A CDS service that errors blocks nothing useful: the EHR just shows no
guidance. So every failure to *read the chart* (no prefetch and no FHIR server, a fetch that
fails, data that is not a valid case) is answered 200 `{"cards": []}` and logged with the reason
(paths and resource ids only, never values or tokens). The spec's 412 for missing data is not
used, deliberately: several EHRs surface a non-200 as an error banner to the clinician.
Malformed request bodies still get 422 and a bad JWT 401; nothing is answered with a 5xx.

Authentication. Discovery is public (the spec: it "SHALL always be available"); service and
feedback calls need a valid client JWT whenever a verifier is configured. `create_cds_app()`
builds the verifier from `RPLCARE_CDS_CLIENTS` (no clients configured = every call refused);
`RPLCARE_CDS_ALLOW_UNAUTHENTICATED=1` turns authentication off, for a local demo only.

CORS. `create_cds_app()` adds CORSMiddleware (origins from `RPLCARE_CDS_CORS_ORIGINS`,
default `*`; methods GET/POST/OPTIONS; the `Authorization` and `Content-Type` headers), which
answers the browser preflight of discovery, service and feedback calls. A host app that mounts
`build_cds_router()` must do the same: call `add_cds_cors(app)`.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware

from rplcare.case.errors import CaseError
from rplcare.case.model import Case
from rplcare.interop.cds.auth import CdsJwtVerifier, require_cds_jwt
from rplcare.interop.cds.cards import _CardFactory, _Issued, left_out_card, patient_view_cards
from rplcare.interop.cds.discovery import (
    _HOOKS,
    ENV_ALLOW_UNAUTHENTICATED,
    ENV_CORS_ORIGINS,
    ENV_SMART_CLIENT_ID,
    ENV_SMART_LAUNCH_URL,
    ENV_SMART_REDIRECT_URI,
    SERVICE_ORDER_SIGN,
    SERVICE_PATIENT_VIEW,
    SERVICES,
)
from rplcare.interop.cds.feedback import FeedbackStore, InMemoryFeedbackStore
from rplcare.interop.cds.fetch import _Fetcher, _gather, _NoData, _prefetch_complete
from rplcare.interop.cds.models import (
    Card,
    CdsRequest,
    CdsResponse,
    DiscoveryResponse,
    FeedbackRequest,
)
from rplcare.interop.cds.orders import order_sign_cards
from rplcare.interop.fhir.read import MappingError, case_from_entries, readable_case
from rplcare.knowledge import get_kb
from rplcare.reasoning.assess import Assessment, assess
from rplcare.reasoning.rules import bound_notes

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Router and app
# --------------------------------------------------------------------------------------------


def build_cds_router(
    verifier: CdsJwtVerifier | None = None,
    feedback_store: FeedbackStore | None = None,
    *,
    http_client: httpx.Client | None = None,
    clock: Callable[[], date] = date.today,
    fetch_timeout_s: float = 5.0,
    max_pages: int = 5,
    allow_http_fhir_server: bool = False,
    smart_launch_url: str | None = None,
) -> APIRouter:
    """The CDS Hooks endpoints under `/cds-services`.

    With `verifier`, service and feedback calls require a valid client JWT (discovery stays
    public). `http_client` is used to call the EHR's `fhirServer` when prefetch is incomplete
    (inject one with a mock transport in tests). `clock` is the service's today.
    """
    store: FeedbackStore = (
        feedback_store if feedback_store is not None else (InMemoryFeedbackStore())
    )
    fetcher = _Fetcher(http_client, fetch_timeout_s, max_pages, allow_http_fhir_server)
    issued = _Issued()
    deps = [Depends(require_cds_jwt(verifier))] if verifier is not None else []
    router = APIRouter(prefix="/cds-services", tags=["cds-hooks"])
    router.feedback_store = store  # type: ignore[attr-defined]  # for the host app and tests

    @router.get("", response_model=DiscoveryResponse, response_model_exclude_none=True)
    def discovery() -> dict[str, Any]:
        return {"services": [s.to_wire() for s in SERVICES.values()]}

    def run(
        service_id: str,
        body: CdsRequest,
        build: Callable[[Assessment, CdsRequest, _CardFactory, Case], Iterable[Card]],
    ) -> dict[str, Any]:
        """Read the chart, assess, build cards; every chart problem ends in no cards."""
        if body.hook != _HOOKS[service_id]:
            raise HTTPException(
                400,
                f"service {service_id} answers the {_HOOKS[service_id]} hook, not {body.hook!r}",
            )
        patient_id = body.context.get("patientId")
        try:
            if not isinstance(patient_id, str) or not patient_id:
                raise _NoData("context.patientId missing")
            entries, truncated = _gather(body, fetcher)
            today = clock()
            mapped = case_from_entries(entries, patient_id=patient_id, assessed_on=today)
            case, dropped = readable_case(mapped.case, mapped.sources, today=today)
            assessment = assess(case, today=today)
            factory = _CardFactory(issued, body.hookInstance, patient_id, smart_launch_url)
            cards = list(build(assessment, body, factory, case))
            # results given as bounds ("<0.1") that a rule treated as not measured, by the
            # FHIR resource they came from (card details cite references, not case paths)
            bounds = [
                (mapped.sources.get(f"results[{i}]", f"results[{i}]"), note)
                for i, note in bound_notes(case, get_kb())
            ]
            if dropped or truncated or bounds:
                cards.append(left_out_card(factory, dropped, truncated, fetcher.max_pages, bounds))
                logger.warning(
                    "%s %s: chart read in part: %d item(s) not readable, %d bound(s) not "
                    "compared, searches cut at the page bound: %s",
                    service_id,
                    body.hookInstance,
                    len(dropped),
                    len(bounds),
                    truncated or "none",
                )
            if not cards:
                logger.warning(
                    "%s %s: no cards: the assessment gives nothing to show for this hook "
                    "(%d resources read, %d not mapped)",
                    service_id,
                    body.hookInstance,
                    len(entries),
                    len(mapped.unmapped),
                )
        except _NoData as exc:
            logger.warning("%s %s: no cards: %s", service_id, body.hookInstance, exc)
            return {"cards": []}
        except (MappingError, CaseError) as exc:
            paths = [p for p, _ in getattr(exc, "problems", [])][:10]
            logger.warning(
                "%s %s: no cards: chart is not a readable case (%s at %s)",
                service_id,
                body.hookInstance,
                type(exc).__name__,
                paths,
            )
            return {"cards": []}
        except Exception as exc:  # never a 500 to the EHR; the type is safe to log
            logger.error(
                "%s %s: no cards: %s",
                service_id,
                body.hookInstance,
                type(exc).__name__,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            return {"cards": []}
        return {"cards": [c.to_wire() for c in cards]}

    async def answer(
        service_id: str,
        body: CdsRequest,
        build: Callable[[Assessment, CdsRequest, _CardFactory, Case], Iterable[Card]],
    ) -> Response:
        # With complete prefetch the work is ~1 ms of CPU: done inline, as a thread hop costs
        # more than it saves under the GIL. A call that must fetch from the EHR goes to the
        # thread pool so a slow FHIR server never blocks the event loop.
        if _prefetch_complete(body):
            data = run(service_id, body, build)
        else:
            data = await run_in_threadpool(run, service_id, body, build)
        # Cards were validated as they were built; skip FastAPI's second validation pass.
        # orjson: compact UTF-8 like json.dumps(ensure_ascii=False, separators=(",", ":")), in
        # about a tenth of the time (benchmarks/bench_cds.py, docs/performance.md).
        return Response(orjson.dumps(data), media_type="application/json")

    @router.post(
        f"/{SERVICE_PATIENT_VIEW}",
        response_model=CdsResponse,
        response_model_exclude_none=True,
        dependencies=deps,
    )
    async def patient_view(body: CdsRequest) -> Response:
        return await answer(
            SERVICE_PATIENT_VIEW, body, lambda a, _r, f, _c: patient_view_cards(a, f)
        )

    @router.post(
        f"/{SERVICE_ORDER_SIGN}",
        response_model=CdsResponse,
        response_model_exclude_none=True,
        dependencies=deps,
    )
    async def order_sign(body: CdsRequest) -> Response:
        return await answer(SERVICE_ORDER_SIGN, body, order_sign_cards)

    @router.post("/{service_id}/feedback", dependencies=deps)
    def feedback(service_id: str, body: FeedbackRequest) -> dict[str, Any]:
        if service_id not in SERVICES:
            raise HTTPException(404, "unknown service")
        received = datetime.now(UTC).isoformat(timespec="seconds")
        for item in body.feedback:
            row = item.to_wire()
            row["receivedAt"] = received
            known = issued.get(item.card)
            if known:
                row.update(known)
            store.add(service_id, row)
        return {}

    return router


def add_cds_cors(app: FastAPI, origins: Iterable[str] = ("*",)) -> None:
    """CORS for browser CDS clients (sandbox): preflight with Authorization on every endpoint.

    No credentials (cookies) are allowed: the JWT travels in the Authorization header, so a
    wildcard origin does not expose a session.
    """
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_credentials=False,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Load the knowledge base before the first call, then freeze the heap built so far.

    `gc.freeze()` moves start-up objects (models, schemas, knowledge base) out of the
    collector's view: without it a full collection rescans them all and stalls a request for
    tens of milliseconds every few seconds, which dominated p99 in benchmarks/bench_cds.py.
    """
    get_kb()
    gc.collect()
    gc.freeze()
    yield


def create_cds_app(
    verifier: CdsJwtVerifier | None = None,
    feedback_store: FeedbackStore | None = None,
    *,
    allow_unauthenticated: bool | None = None,
    environ: Mapping[str, str] | None = None,
    **router_kwargs: Any,
) -> FastAPI:
    """A standalone CDS Hooks app (also what the benchmark runs).

    Without an explicit `verifier` the JWT policy comes from the environment: clients from
    `RPLCARE_CDS_CLIENTS`, or no authentication at all if `RPLCARE_CDS_ALLOW_UNAUTHENTICATED=1`
    (or `allow_unauthenticated=True`), which is for a local demo only.
    """
    env = os.environ if environ is None else environ
    if allow_unauthenticated is None:
        allow_unauthenticated = env.get(ENV_ALLOW_UNAUTHENTICATED, "").strip().lower() in {
            "1",
            "true",
            "yes",
            "on",
        }
    if verifier is None and not allow_unauthenticated:
        verifier = CdsJwtVerifier.from_env(env)
        if not len(verifier.clients):
            logger.warning(
                "no CDS clients configured (%s): every service call will get 401",
                "RPLCARE_CDS_CLIENTS",
            )
    elif verifier is None:
        logger.warning("CDS Hooks service running WITHOUT client authentication (demo only)")
    router_kwargs.setdefault("smart_launch_url", env.get(ENV_SMART_LAUNCH_URL) or None)
    app = FastAPI(title="rplcare CDS Hooks service", version="1.0", lifespan=_lifespan)
    app.include_router(build_cds_router(verifier, feedback_store, **router_kwargs))
    client_id, redirect = env.get(ENV_SMART_CLIENT_ID), env.get(ENV_SMART_REDIRECT_URI)
    if client_id and redirect:
        from rplcare.interop.cds.smart import build_smart_router

        app.include_router(
            build_smart_router(
                client_id,
                redirect,
                http_client=router_kwargs.get("http_client"),
                allow_http=bool(router_kwargs.get("allow_http_fhir_server")),
                clock=router_kwargs.get("clock", date.today),
            )
        )
    origins = [o.strip() for o in env.get(ENV_CORS_ORIGINS, "*").split(",") if o.strip()]
    add_cds_cors(app, origins or ["*"])
    return app
