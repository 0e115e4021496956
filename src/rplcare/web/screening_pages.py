"""The "Screening" page (issue 14, "Where it shows"): an admin screens a Bulk export.

The admin names an export directory under the configured root (`app.state.screening_root`,
else the `RPLCARE_SCREENING_ROOT` environment variable; no root, no screening: a path typed
in a browser never reaches the rest of the disk). The run goes in a background thread
(`screen_local`, the command's engine, one worker) with its progress polled by htmx; at the
end the page shows the summary (gap counts) and the patient list, and each patient can be
imported as a case from her own resources in the export (the importer of `import-fhir`,
R4B validation then the mapping), her source noted in the case's history.

Runs live in this process's memory (a restart forgets them; the rows file stays on disk).
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rplcare.case.errors import CaseError
from rplcare.web import auth

router = APIRouter(include_in_schema=False)
_LOCK = threading.Lock()
MAX_LISTED = 500


@dataclass
class Run:
    id: str
    export: Path
    today: date
    out: Path
    state: str = "running"  # running | done | failed
    rows_done: int = 0
    patients_seen: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    not_relevant: int = 0
    bad_lines: list[str] = field(default_factory=list)
    error: str | None = None


def _runs(request: Request) -> dict[str, Run]:
    state = request.app.state
    with _LOCK:
        if not hasattr(state, "screening_runs"):
            state.screening_runs = {}
        return state.screening_runs  # type: ignore[no-any-return]


def screening_root(request: Request) -> Path | None:
    root = getattr(request.app.state, "screening_root", None) or os.environ.get(
        "RPLCARE_SCREENING_ROOT"
    )
    return Path(root).resolve() if root else None


def _admin(request: Request) -> Any:
    store = request.app.state.store
    with store.read() as s:
        user = auth.page_user(s, request)
    auth.require_admin(user)
    return user


def _checked_export(root: Path | None, raw: str) -> tuple[Path | None, list[str]]:
    if root is None:
        return None, ["screening is not configured: set RPLCARE_SCREENING_ROOT on the server"]
    text = raw.strip()
    if not text:
        return None, ["path: name an export directory under the screening root"]
    candidate = (root / text).resolve()
    if candidate != root and root not in candidate.parents:
        return None, [f"path: {text!r} is outside the screening root"]
    if not candidate.is_dir():
        return None, [f"path: {text!r} is not a directory under the screening root"]
    return candidate, []


def _start(run: Run) -> None:
    from rplcare.interop.fhir.bulk import BulkStats
    from rplcare.screening.local import screen_local

    st = BulkStats()

    def on_row(_row: dict[str, Any]) -> None:
        run.rows_done += 1
        run.patients_seen = st.patients

    def on_bad(b: Any) -> None:
        if len(run.bad_lines) < 100:
            run.bad_lines.append(str(b))

    def work() -> None:
        try:
            s = screen_local(
                [run.export], run.out, run.today, workers=1, on_row=on_row, on_bad=on_bad, stats=st
            )
            run.summary = s.to_json()
            run.not_relevant = sum(st.not_relevant.values())
            run.state = "done"
        except Exception as exc:
            run.error = f"{type(exc).__name__}: {exc}"
            run.state = "failed"

    threading.Thread(target=work, name=f"screening-{run.id}", daemon=True).start()


def _rows(run: Run) -> list[dict[str, Any]]:
    if run.state != "done" or not run.out.exists():
        return []
    rows = [orjson.loads(line) for line in run.out.read_bytes().splitlines() if line.strip()]
    # candidates first (those with gaps first), then the rest; stable within each
    rows.sort(key=lambda r: (not r["candidate"], not r["gaps"]))
    return rows[:MAX_LISTED]


def _get(request: Request, run_id: str) -> Run:
    run = _runs(request).get(run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such screening run")
    return run


@router.get("/screening")
def screening_page(request: Request) -> HTMLResponse:
    from rplcare.web.pages import render

    user = _admin(request)
    root = screening_root(request)
    return render(
        request,
        "screening.html",
        user,
        root=root,
        runs=list(_runs(request).values()),
        problems=[],
        entries=sorted(p.name for p in root.iterdir() if p.is_dir()) if root else [],
    )


@router.post("/screening")
async def screening_start(request: Request) -> Response:
    from rplcare.web.pages import render

    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    user = _admin(request)
    root = screening_root(request)
    export, problems = _checked_export(root, str(form.get("path") or ""))
    today_raw = str(form.get("today") or "").strip()
    today = date.today()
    if today_raw:
        try:
            today = date.fromisoformat(today_raw)
        except ValueError:
            problems.append(f"today: {today_raw!r} is not a date (YYYY-MM-DD)")
    if problems or export is None:
        return render(
            request,
            "screening.html",
            user,
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            root=root,
            runs=list(_runs(request).values()),
            problems=problems,
            entries=sorted(p.name for p in root.iterdir() if p.is_dir()) if root else [],
        )
    run_id = uuid.uuid4().hex[:12]
    out = Path(tempfile.mkdtemp(prefix="rplcare-screening-")) / "rows.ndjson"
    run = Run(run_id, export, today, out)
    _runs(request)[run_id] = run
    _start(run)
    return RedirectResponse(f"/screening/{run_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/screening/{run_id}")
def screening_run(request: Request, run_id: str) -> HTMLResponse:
    from rplcare.web.pages import render

    user = _admin(request)
    run = _get(request, run_id)
    partial = request.headers.get("hx-request") == "true"
    return render(
        request,
        "screening_progress.html" if partial else "screening_run.html",
        user,
        run=run,
        rows=_rows(run),
        max_listed=MAX_LISTED,
    )


@router.post("/screening/{run_id}/open/{patient_id}")
async def screening_open(request: Request, run_id: str, patient_id: str) -> Response:
    from rplcare.web.pages import _in_thread, render

    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    user = _admin(request)
    run = _get(request, run_id)

    def work() -> str | list[str] | dict[str, Any]:
        from rplcare.case.loader import load_case
        from rplcare.interop.fhir.bulk import read_patients
        from rplcare.interop.fhir.importer import import_bundle
        from rplcare.store import repository as repo
        from rplcare.store.patients import identity_from_fhir
        from rplcare.web.patient_pages import store_import

        group = next((g for g in read_patients([run.export]) if g.key == patient_id), None)
        if group is None:
            return [f"patient {patient_id!r} is not in the export"]
        try:
            resources = list(group.resources())
            result = import_bundle(resources, patient_id=patient_id, today=run.today)
            case = dict(result.case)
            load_case(case, today=run.today)
            person = next((r for r in resources if r.get("resourceType") == "Patient"), None)
            source = f"FHIR Bulk export {run.export.name}, Patient/{patient_id}"
            payload = {
                "case": repo.canonical_case(case, today=run.today),
                "identity": identity_from_fhir(person) if person else None,
                "source": "fhir",
                "source_note": source,
            }
            with request.app.state.store.write() as s:
                if repo.case_exists(s, payload["case"]["id"]):
                    return payload  # an id clash asks (issue 11 §2): never a silent merge
                case_id, _ = store_import(s, payload, user, "merge", source=source)
                return case_id
        except CaseError as exc:
            return exc.lines()

    outcome = await _in_thread(work)
    if isinstance(outcome, dict):
        from rplcare.web.patient_pages import confirm_page

        return confirm_page(request, user, outcome)
    if isinstance(outcome, str):
        return RedirectResponse(f"/cases/{outcome}", status_code=status.HTTP_303_SEE_OTHER)
    return render(
        request,
        "screening_run.html",
        user,
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        run=run,
        rows=_rows(run),
        max_listed=MAX_LISTED,
        problems=[f"Patient/{patient_id}: {line}" for line in outcome],
    )
