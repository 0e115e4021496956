"""The worklist, patients as people and the case import (issue 11 §2, §3).

- `/cases` is the worklist: sorted, filtered and paged by the database from the `worklist`
  rows (store/worklist.py), every setting in the query string so a view is a bookmark; one
  failing assessment is an error badge on its row, never a broken list.
- `/cases/{id}/patient` records who the case is about (name, date of birth, hospital number,
  contact); the header of every case page and document shows it. It is kept apart from the
  clinical record (store/patients.py).
- `/cases/import` takes a case file or a FHIR Bundle; an id already in the store is never
  merged silently: a confirmation page asks (merge into it, import as a new case, cancel).

Included before `pages.router`, so these routes answer `/cases` and `/cases/import`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from rplcare.case.errors import CaseError
from rplcare.store import patients
from rplcare.store import repository as repo
from rplcare.store import worklist as wl
from rplcare.store.models import User
from rplcare.web import auth
from rplcare.web.i18n import N_
from rplcare.web.pages import _in_thread, _redirect, _store, render

router = APIRouter(include_in_schema=False)
MAX_PAYLOAD = 2_000_000  # characters of the case carried by the confirmation page

URGENCY_LABEL = {
    "immediate": N_("immediate"),
    "same_day": N_("today"),
    "within_24h": N_("within 24 h"),
    "routine": N_("routine"),
}
SORT_LABEL = {
    "urgency": N_("Next action"),
    "name": N_("Patient"),
    "updated": N_("Last change"),
    "clinician": N_("Clinician"),
}
#: the worklist's status filters in words (store/worklist.py keeps the keys and their rules)
STATUS_LABEL = {
    "today": N_("needs review today"),
    "urgent": N_("urgent (within 24 h or sooner)"),
    "pregnant": N_("pregnant"),
    "workup": N_("workup incomplete"),
}
#: the patient's fields in words (store/patients.py keeps the fields)
FIELD_LABEL = {
    "name": N_("Name"),
    "birth_date": N_("Date of birth"),
    "mrn": N_("Hospital number"),
    "contact": N_("Contact"),
}
assert set(STATUS_LABEL) == set(wl.STATUS_FILTERS) and set(FIELD_LABEL) == set(patients.LABELS)


def _case_url(case_id: str, tail: str = "") -> str:
    return f"/cases/{quote(case_id, safe='')}{tail}"


# --- the worklist ------------------------------------------------------------------------


@router.get("/cases")
def worklist_page(request: Request) -> HTMLResponse:
    query = wl.parse_query(request.query_params)
    with _store(request).write() as s:
        user = auth.page_user(s, request)
        page = wl.worklist(s, query)
        clinicians = wl.clinicians(s)
        # the count, not the search (which may be a name or a hospital number)
        repo.audit(s, user, "listed", None, {"what": "worklist", "count": page.total})
    return render(
        request,
        "cases.html",
        user,
        page=page,
        query=page.query,
        rows=page.rows,
        q=page.query.q,
        clinicians=clinicians,
        status_filters=STATUS_LABEL,
        sorts=SORT_LABEL,
        urgency_label=URGENCY_LABEL,
    )


@router.get("/cases/{case_id}/archive")
def archive_page(request: Request, case_id: str) -> HTMLResponse:
    """Archiving asks first (the case leaves the worklist)."""
    with _store(request).read() as s:
        user = auth.page_user(s, request)
        auth.require_write(user)
        case = repo.get_case(s, case_id)
    return render(request, "archive.html", user, case_id=case_id, archived=case.archived)


@router.post("/cases/{case_id}/archive")
async def archive(request: Request, case_id: str) -> Response:
    """Archive (`archived=1`) or bring back (`archived=0`) a case; back to its page."""
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    flag = str(form.get("archived") or "1") != "0"

    def work() -> None:
        with _store(request).write() as s:
            user = auth.page_user(s, request)
            auth.require_write(user)
            wl.set_archived(s, case_id, flag, user)

    await _in_thread(work)
    return _redirect(_case_url(case_id))


def archived_of(request: Request, case_id: str) -> bool:
    with _store(request).read() as s:
        return repo.get_case(s, case_id).archived


# --- patient details ---------------------------------------------------------------------


def _patient_form(
    request: Request,
    user: User,
    case_id: str,
    values: Mapping[str, Any],
    problems: list[tuple[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    errors: dict[str, list[str]] = {}
    for path, msg in problems or []:
        errors.setdefault(path or "_form", []).append(msg)
    return render(
        request,
        "patient.html",
        user,
        status_code,
        case_id=case_id,
        values={k: "" if v is None else str(v) for k, v in values.items()},
        errors=errors,
        labels=FIELD_LABEL,
        first_error=next((f for f in patients.FIELDS if f in errors), None),
        archived=archived_of(request, case_id),
    )


@router.get("/cases/{case_id}/patient")
def patient_page(request: Request, case_id: str) -> HTMLResponse:
    with _store(request).read() as s:
        user = auth.page_user(s, request)
        auth.require_write(user)
        v = repo.latest_version(s, case_id)
        current = patients.identity_json(patients.get_identity(s, case_id))
    # a first entry starts from the clinical record's date of birth, when it has one
    values = current or {"birth_date": (v.data.get("patient") or {}).get("birth_date")}
    return _patient_form(request, user, case_id, values)


@router.post("/cases/{case_id}/patient")
async def save_patient(request: Request, case_id: str) -> Response:
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    values = {k: str(form.get(k) or "") for k in patients.FIELDS}

    def work() -> tuple[User, list[tuple[str, str]] | None]:
        with _store(request).read() as s:
            user = auth.page_user(s, request)
            repo.get_case(s, case_id)
        auth.require_write(user)
        try:
            with _store(request).write() as s:
                patients.set_identity(s, case_id, values, user)
        except CaseError as exc:
            return user, exc.problems
        return user, None

    user, problems = await _in_thread(work)
    if problems is None:
        return _redirect(_case_url(case_id))
    return _patient_form(
        request, user, case_id, values, problems, status.HTTP_422_UNPROCESSABLE_CONTENT
    )


# --- import ------------------------------------------------------------------------------


@router.get("/cases/import")
def import_page(request: Request) -> HTMLResponse:
    with _store(request).read() as s:
        user = auth.page_user(s, request)
    auth.require_write(user)
    return render(request, "import.html", user, problems=[])


def read_upload(raw: bytes, today: date | None = None) -> dict[str, Any]:
    """A case file (YAML / JSON) or a FHIR Bundle of one patient, as what the import stores:
    `{"case": canonical case, "identity": name etc. from the FHIR Patient or None,
    "source": "file" | "fhir"}`. CaseError for anything unreadable."""
    from rplcare.case.loader import load_case

    bundle: Any = None
    if raw.lstrip()[:1] == b"{":
        try:
            bundle = json.loads(raw)
        except ValueError:
            bundle = None
    if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle":
        from rplcare.interop.fhir.importer import import_bundle

        result = import_bundle(bundle, today=today or date.today())
        case = dict(result.case)
        load_case(case, today=today or date.today())
        person = next(
            (
                e.get("resource")
                for e in bundle.get("entry") or []
                if isinstance(e, dict)
                and isinstance(e.get("resource"), dict)
                and e["resource"].get("resourceType") == "Patient"
            ),
            None,
        )
        identity = patients.identity_from_fhir(person) if person else None
        return {"case": repo.canonical_case(case), "identity": identity, "source": "fhir"}
    return {"case": repo.canonical_case(raw), "identity": None, "source": "file"}


def confirm_page(
    request: Request,
    user: User,
    payload: Mapping[str, Any],
    problems: list[str] | None = None,
    status_code: int = status.HTTP_409_CONFLICT,
) -> HTMLResponse:
    """The id of the file is a case in the store: ask what to do (nothing is saved yet)."""
    case_id = str(payload["case"]["id"])
    with _store(request).read() as s:
        latest = repo.latest_version(s, case_id)
        current = patients.identity_json(patients.get_identity(s, case_id))
    incoming = payload.get("identity")
    return render(
        request,
        "import_confirm.html",
        user,
        status_code,
        existing_id=case_id,
        existing_version=latest.n,
        existing=current,
        existing_birth=(latest.data.get("patient") or {}).get("birth_date"),
        incoming=incoming,
        incoming_birth=(payload["case"].get("patient") or {}).get("birth_date"),
        payload=json.dumps(payload, ensure_ascii=False, default=str),
        suggested_id=repo.new_case_id(),
        problems=problems or [],
        labels=FIELD_LABEL,
    )


def store_import(
    s: Any, payload: Mapping[str, Any], user: User, choice: str, **kw: Any
) -> tuple[str, bool]:
    """Save an import as chosen: `new` (a case of its own; `new_id` or a fresh id) or `merge`
    (a new version of the case with its id, checked against `expected_version`). Identity
    from the file is recorded for a new case, and for a merged one that has none yet (an
    identity on record is never overwritten by an import). (case id, identity recorded)."""
    data = dict(payload["case"])
    identity = payload.get("identity")
    if choice == "new":
        data["id"] = kw.get("new_id") or repo.new_case_id()
        version = repo.create_case(s, data, user, event="imported")
    else:
        version = repo.import_case(s, data, user, expected_version=kw.get("expected_version"))
    recorded = False
    if identity and (choice == "new" or patients.get_identity(s, version.case_id) is None):
        try:
            with s.begin_nested():
                patients.set_identity(s, version.case_id, identity, user, how="import")
            recorded = True
        except CaseError:
            recorded = False  # an unusable name in the file: the case is imported without it
    source = kw.get("source")
    if source:
        repo.audit(s, user, "screening_import", version.case_id, {"source": source})
    return version.case_id, recorded


@router.post("/cases/import")
async def import_case(request: Request) -> Response:
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    upload = form.get("file")
    raw: bytes = await upload.read() if upload is not None and hasattr(upload, "read") else b""

    def work() -> tuple[User, str | dict[str, Any] | CaseError]:
        with _store(request).read() as s:
            user = auth.page_user(s, request)
        auth.require_write(user)
        if not raw.strip():
            return user, CaseError([("", "choose a case file to import")])
        try:
            payload = read_upload(raw)
            case_id = payload["case"].get("id")
            with _store(request).write() as s:
                if case_id and repo.case_exists(s, case_id):
                    return user, payload  # ask first
                return user, store_import(s, payload, user, "merge")[0]
        except CaseError as exc:
            return user, exc

    user, outcome = await _in_thread(work)
    if isinstance(outcome, str):
        return _redirect(_case_url(outcome))
    if isinstance(outcome, dict):
        return confirm_page(request, user, outcome)
    return render(
        request,
        "import.html",
        user,
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        problems=outcome.lines(),
    )


@router.post("/cases/import/confirm")
async def import_confirm(request: Request) -> Response:
    """The answer of the confirmation page: merge, new (with the id typed) or cancel."""
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    choice = str(form.get("choice") or "")
    raw = str(form.get("payload") or "")
    new_id = str(form.get("new_id") or "").strip()
    version_text = str(form.get("version") or "").strip()
    expected = int(version_text) if version_text.isdigit() and len(version_text) <= 9 else None
    if choice == "cancel":
        return _redirect("/cases/import")
    if choice not in ("merge", "new"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "choose merge, new or cancel")
    if len(raw) > MAX_PAYLOAD:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the case is too large")
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("case"), dict)
        or not isinstance(payload["case"].get("id"), str)
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "the import was lost: start again"
        )
    source = payload.get("source_note")

    def work() -> tuple[User, str | list[str]]:
        with _store(request).read() as s:
            user = auth.page_user(s, request)
        auth.require_write(user)
        try:
            clean = {
                "case": repo.canonical_case(payload["case"]),
                "identity": payload.get("identity")
                if isinstance(payload.get("identity"), dict)
                else None,
            }
            if choice == "new" and new_id:
                repo.check_case_id(new_id)
            if choice == "merge" and expected is None:
                return user, ["version: missing; import the file again"]
            note = None
            if isinstance(source, str) and source:
                note = repo.check_identifier(source[:300], "source", 300)
            with _store(request).write() as s:
                case_id, _ = store_import(
                    s,
                    clean,
                    user,
                    choice,
                    new_id=new_id or None,
                    expected_version=expected,
                    source=note,
                )
                return user, case_id
        except CaseError as exc:
            return user, exc.lines()
        except repo.Conflict as exc:
            return user, [f"{exc}; choose another id"]

    user, outcome = await _in_thread(work)
    if isinstance(outcome, str):
        return _redirect(_case_url(outcome))
    return confirm_page(request, user, payload, outcome, status.HTTP_422_UNPROCESSABLE_CONTENT)
