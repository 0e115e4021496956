"""JSON API under /api (OpenAPI at /docs): cases, assessments, overrides, documents.

Bearer token per user. Bad input is 422 `{"problems": [{"path", "message"}]}` with the same
paths as the CLI; unknown id 404; no token 401; a viewer writing 403. Each request's changes
and its audit entry commit in one transaction.

No lost update: `GET /api/cases/{id}` answers with `ETag: "N"` (N the case version number);
every change of an existing case (`PUT`, `POST .../loss`, an import onto an existing id)
must send `If-Match: "N"` with the version it read: 428 without, 412 when another version
was saved since (the answer names the current version and what changed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from rplcare.store import repository as repo
from rplcare.store.db import Store
from rplcare.store.patients import get_identity, identity_json
from rplcare.util import jsonio
from rplcare.web import auth, documents
from rplcare.web.params import Documents

router = APIRouter(prefix="/api", tags=["cases"])
bearer = HTTPBearer(auto_error=False, description="a token from `rplcare user add --token`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

CASE_BODY = {
    "requestBody": {
        "required": True,
        "description": "a case file in rplcare.case/1, as JSON or YAML",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


class CaseRef(BaseModel):
    id: str
    version: int


class OverrideIn(BaseModel):
    recommendation_id: str = Field(examples=["treat.levothyroxine"])
    decision: Literal["accepted", "overridden"]
    reason: (
        Literal[
            "patient_declined", "done_elsewhere", "contraindicated", "clinical_judgement", "other"
        ]
        | None
    ) = None
    comment: str = ""


class LossIn(BaseModel):
    date: date
    ga: str | None = Field(None, description="GA at loss; default: the assessment's dating")


def _store(request: Request) -> Store:
    return request.app.state.store


def _header(cred: HTTPAuthorizationCredentials | None) -> str | None:
    return f"Bearer {cred.credentials}" if cred else None


def attachment(filename: str) -> str:
    """`Content-Disposition` per RFC 6266 / 8187: an ASCII fallback and the UTF-8 name, so a
    case id with any characters gives a valid header."""
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\;%' else "_" for ch in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def etag(version: int) -> str:
    """The strong entity tag of a case version."""
    return f'"{version}"'


def if_match(request: Request, required: bool = True) -> int | None:
    """The version number named by `If-Match` (`"N"` or `W/"N"`): 428 when it is required
    and missing, 412 when it names no version (`*` is refused: it would allow lost updates)."""
    raw = request.headers.get("if-match")
    if raw is None or not raw.strip():
        if not required:
            return None
        raise HTTPException(
            status.HTTP_428_PRECONDITION_REQUIRED,
            'If-Match is required: send the ETag of the version you read (If-Match: "N")',
        )
    tag = raw.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    body = tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else ""
    if not (body.isascii() and body.isdigit() and 0 < len(body) <= 9):
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED,
            f"If-Match {raw[:40]!r} names no case version: send the ETag as given "
            '(If-Match: "N"; * is not accepted)',
        )
    return int(body)


async def _save_case(
    request: Request,
    cred: HTTPAuthorizationCredentials | None,
    save: Callable[..., Any],
    response: Response | None = None,
) -> CaseRef:
    """Write a case file (create, import or new version) as the token's user, in one
    transaction off the event loop: invalid input raises CaseError and saves nothing."""
    from rplcare.web import limits

    body = await limits.read_body(request)

    def work() -> CaseRef:
        with _store(request).write() as s:
            user = auth.api_user(s, _header(cred))
            auth.require_write(user)
            v = save(s, body, user)
            return CaseRef(id=v.case_id, version=v.n)

    ref = await run_in_threadpool(work)
    if response is not None:
        response.headers["ETag"] = etag(ref.version)
    return ref


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseRef,
    openapi_extra=CASE_BODY,
    summary="Create a case (409 if its id exists)",
)
async def create_case(request: Request, response: Response, cred: Credentials) -> CaseRef:
    ref = await _save_case(request, cred, repo.create_case, response)
    response.headers["Location"] = f"/api/cases/{quote(ref.id, safe='')}"
    return ref


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseRef,
    openapi_extra=CASE_BODY,
    summary="Import a case file: new case or new version",
)
async def import_case(request: Request, response: Response, cred: Credentials) -> CaseRef:
    def save(s: Any, body: bytes, user: Any) -> Any:
        expected = if_match(request, required=False)
        data = repo.canonical_case(body)
        case_id = data.get("id")
        if expected is None and case_id and repo.case_exists(s, case_id):
            if_match(request)  # an import onto an existing case is an update: 428
        return repo.import_case(s, data, user, expected_version=expected)

    return await _save_case(request, cred, save, response)


@router.get(
    "/cases",
    summary="The worklist: cases with their latest version, badges and next action",
    responses={
        200: {
            "description": "one page of rows; `X-Total-Count` and `Link` (rel next / prev) "
            "give the whole list"
        }
    },
)
def list_cases(
    request: Request,
    response: Response,
    cred: Credentials,
    q: Annotated[
        str | None, Query(description="case id, name, hospital number or date of birth")
    ] = None,
    sort: Annotated[Literal["urgency", "name", "updated", "clinician"], Query()] = "urgency",
    order: Annotated[Literal["asc", "desc"] | None, Query()] = None,
    status_: Annotated[
        list[Literal["today", "urgent", "pregnant", "workup"]] | None,
        Query(alias="status", description="only these (all must hold); an error row passes"),
    ] = None,
    clinician: str | None = None,
    from_: Annotated[date | None, Query(alias="from", description="changed on or after")] = None,
    to: Annotated[date | None, Query(description="changed on or before")] = None,
    archived: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 25,
) -> list[dict[str, Any]]:
    """The same rows, filters, sorting and paging as the worklist page (`/cases`)."""
    from rplcare.store import worklist as wl

    query = wl.parse_query(request.query_params)
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        result = wl.worklist(s, query)
        # the count, not the search term (which may be a name or a record number)
        repo.audit(s, user, "listed", None, {"what": "cases", "count": result.total})
    response.headers["X-Total-Count"] = str(result.total)
    links = []
    shown = result.query
    if shown.page < result.pages:
        links.append(f'<{shown.url("/api/cases", page=shown.page + 1)}>; rel="next"')
    if shown.page > 1:
        links.append(f'<{shown.url("/api/cases", page=shown.page - 1)}>; rel="prev"')
    if links:
        response.headers["Link"] = ", ".join(links)
    return [
        {
            **{k: v for k, v in row.items() if k != "updated_local"},
            "status": {
                k: row["status"][k] for k in ("workup_incomplete", "pregnant", "needs_review_24h")
            },
            "due_today": row["status"]["due_today"],
            "lost": row["status"]["lost"],
        }
        for row in result.rows
    ]


@router.get("/cases/{case_id}", summary="The latest case file (format=json|yaml)")
def get_case(
    request: Request, case_id: str, cred: Credentials, format: Literal["json", "yaml"] = "json"
) -> Response:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        v = repo.latest_version(s, case_id)
        repo.audit(s, user, "viewed", case_id, {"what": "case", "version": v.n})
        text = repo.export_case(v, format)
    media = "application/json" if format == "json" else "application/yaml"
    return Response(text, media_type=media, headers={"X-Case-Version": str(v.n), "ETag": etag(v.n)})


@router.put(
    "/cases/{case_id}",
    response_model=CaseRef,
    openapi_extra=CASE_BODY,
    summary="Save a new version of a case (If-Match required; earlier versions are kept)",
    responses={
        412: {"description": "another version was saved since the one named by If-Match"},
        428: {"description": "no If-Match"},
    },
)
async def put_case(
    request: Request, response: Response, case_id: str, cred: Credentials
) -> CaseRef:
    def save(s: Any, body: bytes, user: Any) -> Any:
        repo.get_case(s, case_id)  # 401/403, then 404, then 428
        expected = if_match(request)
        return repo.update_case(s, case_id, body, user, expected_version=expected)

    return await _save_case(request, cred, save, response)


@router.get("/cases/{case_id}/versions", summary="Every version of a case, oldest first")
def versions(request: Request, case_id: str, cred: Credentials) -> list[dict[str, Any]]:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        repo.audit(s, user, "viewed", case_id, {"what": "versions"})
        return [
            {
                "version": v.n,
                "event": v.event,
                "author": v.author.name if v.author else None,
                "created": v.created.isoformat(),
                "case": v.data,
            }
            for v in repo.case_versions(s, case_id)
        ]


@router.get(
    "/cases/{case_id}/assessment",
    summary="The assessment of the latest version",
    response_class=JSONResponse,
    responses={200: {"description": "rplcare.assessment/1 JSON"}},
)
def assessment(
    request: Request,
    case_id: str,
    cred: Credentials,
    opts: Documents,
) -> JSONResponse:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        v = repo.latest_version(s, case_id)
        a = repo.assessment_for(s, v, opts.definition, opts.luteal_policy)
        repo.audit(s, user, "viewed", case_id, {"what": "assessment", "version": v.n})
    return JSONResponse(a)  # already JSON types: skip FastAPI's slow re-encoding


@router.get(
    "/cases/{case_id}/history", summary="Assessments of every version and what changed between them"
)
def history(
    request: Request,
    case_id: str,
    cred: Credentials,
    opts: Documents,
) -> list[dict[str, Any]]:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        items = repo.history(s, case_id, opts.definition, opts.luteal_policy)
        repo.audit(s, user, "viewed", case_id, {"what": "history"})
        return [
            {
                "version": i.version.n,
                "event": i.version.event,
                "created": i.version.created.isoformat(),
                "input_hash": i.assessment.get("input_hash"),
                "changes": i.changes,
            }
            for i in items
        ]


@router.get("/cases/{case_id}/overrides", summary="Decisions on recommendations, newest first")
def overrides(request: Request, case_id: str, cred: Credentials) -> dict[str, Any]:
    with _store(request).read() as s:
        auth.api_user(s, _header(cred))
        repo.get_case(s, case_id)
        return {
            "current": {
                rid: repo.override_json(o) for rid, o in repo.current_overrides(s, case_id).items()
            },
            "history": [repo.override_json(o) for o in repo.override_history(s, case_id)],
        }


@router.post(
    "/cases/{case_id}/overrides",
    status_code=status.HTTP_201_CREATED,
    summary="Accept or override a recommendation (reason required to override)",
)
def post_override(
    request: Request, case_id: str, body: OverrideIn, cred: Credentials
) -> dict[str, Any]:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        auth.require_write(user)
        v = repo.latest_version(s, case_id)
        known = {r["id"] for r in repo.assessment_for(s, v)["recommendations"]}
        row = repo.record_override(
            s,
            case_id,
            body.recommendation_id,
            body.decision,
            body.reason,
            body.comment,
            user,
            known_ids=known,
        )
        return repo.override_json(row)


@router.post(
    "/cases/{case_id}/loss",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseRef,
    summary="Record the current pregnancy as lost (a new version; data entry only)",
)
def record_loss(
    request: Request, response: Response, case_id: str, body: LossIn, cred: Credentials
) -> CaseRef:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        auth.require_write(user)
        expected = if_match(request)
        v = repo.record_loss(s, case_id, body.date, user, body.ga, expected_version=expected)
        response.headers["ETag"] = etag(v.n)
        return CaseRef(id=v.case_id, version=v.n)


class PatientIn(BaseModel):
    """Who the case is about (kept apart from the clinical record; never assessed)."""

    name: str = Field(examples=["Wang Mei"])
    birth_date: date | None = None
    mrn: str | None = Field(None, description="hospital number")
    contact: str = Field("", description="phone or address, shown on the handout")


@router.get("/cases/{case_id}/patient", summary="The patient's details (404: none recorded)")
def get_patient(request: Request, case_id: str, cred: Credentials) -> dict[str, Any]:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        repo.get_case(s, case_id)
        found = identity_json(get_identity(s, case_id))
        repo.audit(s, user, "viewed", case_id, {"what": "patient"})
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no patient details for {case_id!r}")
    return found


@router.put("/cases/{case_id}/patient", summary="Record or change the patient's details")
def put_patient(
    request: Request, case_id: str, body: PatientIn, cred: Credentials
) -> dict[str, Any]:
    from rplcare.store.patients import set_identity

    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        auth.require_write(user)
        row = set_identity(s, case_id, body.model_dump(), user, how="api")
        return identity_json(row) or {}


@router.get("/cases/{case_id}/audit", summary="The case's audit log, newest first")
def case_audit(request: Request, case_id: str, cred: Credentials) -> list[dict[str, Any]]:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        repo.get_case(s, case_id)
        out = [repo.audit_json(e) for e in repo.audit_log(s, case_id)]
        repo.audit(s, user, "audit_read", case_id, {"what": "case audit"})
        return out


@router.get("/cases/{case_id}/record.json", summary="The whole record of a patient (export)")
def record_json(request: Request, case_id: str, cred: Credentials) -> Response:
    """Every version, assessment, decision and audit row of the case, as one JSON document."""
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        record = repo.full_record(s, case_id)
        repo.audit(s, user, "exported", case_id, {"what": "record.json"})
    return Response(
        jsonio.dumps_bytes(record, default=str),
        media_type="application/json",
        headers={"Content-Disposition": attachment(f"{case_id}-record.json")},
    )


@router.get("/cases/{case_id}/record.fhir.json", summary="The whole record as a FHIR Bundle")
def record_fhir(
    request: Request,
    case_id: str,
    cred: Credentials,
    identity: Annotated[
        bool, Query(description="name, hospital number, contact in the Patient resource")
    ] = True,
) -> Response:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        record = repo.full_record(s, case_id)
        what = {"what": "record.fhir.json", "identity": identity}
        repo.audit(s, user, "exported", case_id, what)
    bundle = repo.record_bundle(record, identity=identity)
    return Response(
        jsonio.dumps_bytes(bundle, default=str),
        media_type="application/fhir+json",
        headers={"Content-Disposition": attachment(f"{case_id}-record.fhir.json")},
    )


class ErasureIn(BaseModel):
    reason: str = Field(min_length=10, max_length=500, description="why (kept in the audit)")


@router.post("/cases/{case_id}/erase", summary="Erase a patient's record (admin; reason kept)")
def erase(request: Request, case_id: str, body: ErasureIn, cred: Credentials) -> dict[str, Any]:
    with _store(request).write() as s:
        user = auth.api_user(s, _header(cred))
        auth.require_admin(user)
        return repo.erase_case(s, case_id, user, body.reason)


# --- documents ------------------------------------------------------------------------


def document_context(
    store: Store,
    case_id: str,
    authorization: str | None = None,
    user: Any = None,
    definition: str = "eshre2022",
    luteal_policy: str = "guideline",
) -> dict[str, Any]:
    """What the renderers need, read in one transaction (rendering happens outside it)."""
    with store.write() as s:
        if user is None:
            user = auth.api_user(s, authorization)
        versions = repo.case_versions(s, case_id)
        v = versions[-1]
        return {
            "user": user,
            "case_id": case_id,
            "version": v.n,
            "case": v.data,
            "assessment": repo.assessment_for(s, v, definition, luteal_policy),
            "overrides": repo.overrides_for_report(s, case_id),
            "lost": repo.is_lost(versions),
            # who the documents are about (header only; never part of the assessment)
            "patient": identity_json(get_identity(s, case_id)),
        }


def log_export(store: Store, ctx: dict[str, Any], what: str, **extra: Any) -> None:
    with store.write() as s:
        repo.audit(
            s,
            ctx["user"],
            "exported",
            ctx["case_id"],
            {"what": what, "version": ctx["version"], **extra},
        )


def render_document(store: Store, ctx: dict[str, Any], kind: str, lang: str = "en") -> Response:
    """Render one document kind and record the export: report.html|report.pdf|handout|ics."""
    a, case = ctx["assessment"], ctx["case"]
    if kind == "report.pdf":
        body: Any = documents.report_pdf(
            a, case, ctx["overrides"], lang, patient=ctx.get("patient")
        )
        resp = Response(
            body,
            media_type="application/pdf",
            headers={"Content-Disposition": attachment(f"{ctx['case_id']}-report.pdf")},
        )
    elif kind == "report.html":
        resp = Response(
            documents.report_html(a, case, ctx["overrides"], lang, patient=ctx.get("patient")),
            media_type="text/html; charset=utf-8",
        )
    elif kind == "handout":
        resp = Response(
            documents.handout_html(
                a, case, lang, ctx["lost"], ctx["overrides"], patient=ctx.get("patient")
            ),
            media_type="text/html; charset=utf-8",
        )
    else:
        resp = Response(
            documents.schedule_ics(a, ctx["case_id"], ctx["lost"], ctx["overrides"]),
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": attachment(f"{ctx['case_id']}-schedule.ics")},
        )
    kb = a.get("knowledge_base") or {}
    log_export(
        store,
        ctx,
        kind,
        lang=lang,
        lost=ctx["lost"],
        definition=kb.get("definition"),
        luteal_policy=kb.get("luteal_policy"),
    )
    return resp


@router.get(
    "/cases/{case_id}/report.pdf",
    tags=["documents"],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def report_pdf(
    request: Request,
    case_id: str,
    cred: Credentials,
    opts: Documents,
) -> Response:
    store = _store(request)
    ctx = document_context(store, case_id, _header(cred), None, opts.definition, opts.luteal_policy)
    return render_document(store, ctx, "report.pdf")


@router.get(
    "/cases/{case_id}/report.html",
    tags=["documents"],
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}},
)
def report_html(
    request: Request,
    case_id: str,
    cred: Credentials,
    opts: Documents,
    lang: Literal["en", "zh"] = "en",
) -> Response:
    store = _store(request)
    ctx = document_context(store, case_id, _header(cred), None, opts.definition, opts.luteal_policy)
    return render_document(store, ctx, "report.html", lang)


@router.get(
    "/cases/{case_id}/handout",
    tags=["documents"],
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}},
    summary="Patient handout; the after-loss version once a loss is recorded",
)
def handout(
    request: Request,
    case_id: str,
    cred: Credentials,
    opts: Documents,
    lang: Literal["en", "zh"] = "en",
) -> Response:
    store = _store(request)
    ctx = document_context(store, case_id, _header(cred), None, opts.definition, opts.luteal_policy)
    return render_document(store, ctx, "handout", lang)


@router.get(
    "/cases/{case_id}/schedule.ics",
    tags=["documents"],
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
    summary="Follow-up events as iCalendar (none once a loss is recorded)",
)
def schedule(
    request: Request,
    case_id: str,
    cred: Credentials,
    opts: Documents,
) -> Response:
    store = _store(request)
    ctx = document_context(store, case_id, _header(cred), None, opts.definition, opts.luteal_policy)
    return render_document(store, ctx, "ics")
