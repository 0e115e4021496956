"""The "Screening" page (issue 14, "Where it shows"): an admin screens a Bulk export.

The admin names an export directory under the configured root (`app.state.screening_root`,
else the `RPLCARE_SCREENING_ROOT` environment variable; no root, no screening: a path typed
in a browser never reaches the rest of the disk), or uploads the export: its `.ndjson` /
`.ndjson.gz` files, or a `.zip` of them (multipart; at most `RPLCARE_MAX_UPLOAD_BYTES`, 1 GiB
by default, for the request and again for a zip's unpacked files; stored under the root in
`uploads/DATE-ID/`, file names checked, nothing else of a zip written). The run goes in a
background thread (`screen_local`, the command's engine, one worker) with its progress
polled by htmx; at the end the page shows the summary (gap counts) and the patient list, and
each patient can be imported as a case from her own resources in the export (the importer
of `import-fhir`, R4B validation then the mapping), her source noted in the case's history.

Runs live in this process's memory (a restart forgets them; the rows file stays on disk).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rplcare.case.errors import CaseError
from rplcare.web import auth, limits

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


def _page(request: Request, user: Any, problems: list[str] | None = None) -> HTMLResponse:
    """The Screening page: the runs, the export folders under the root and, when a form sent
    was refused (`problems` given, 422), its problems."""
    from rplcare.web.pages import render

    root = screening_root(request)
    return render(
        request,
        "screening.html",
        user,
        status.HTTP_200_OK if problems is None else status.HTTP_422_UNPROCESSABLE_CONTENT,
        root=root,
        runs=list(_runs(request).values()),
        problems=problems or [],
        entries=_entries(root),
        upload_limit=upload_limit(),
    )


@router.get("/screening")
def screening_page(request: Request) -> HTMLResponse:
    return _page(request, _admin(request))


@router.post("/screening")
async def screening_start(request: Request) -> Response:

    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    user = _admin(request)
    root = screening_root(request)
    export, problems = _checked_export(root, str(form.get("path") or ""))
    today = _today(str(form.get("today") or ""), problems)
    if problems or export is None:
        return _page(request, user, problems)
    return _launch(request, export, today)


def _today(raw: str, problems: list[str]) -> date:
    text = raw.strip()
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            problems.append(f"today: {text!r} is not a date (YYYY-MM-DD)")
    return date.today()


def _entries(root: Path | None) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root else []


def _launch(request: Request, export: Path, today: date) -> Response:
    run_id = uuid.uuid4().hex[:12]
    out = Path(tempfile.mkdtemp(prefix="rplcare-screening-")) / "rows.ndjson"
    run = Run(run_id, export, today, out)
    _runs(request)[run_id] = run
    _start(run)
    return RedirectResponse(f"/screening/{run_id}", status_code=status.HTTP_303_SEE_OTHER)


# --- upload -------------------------------------------------------------------------------

UPLOAD_PATH = "/screening/upload"
UPLOAD_ENV = "RPLCARE_MAX_UPLOAD_BYTES"
DEFAULT_UPLOAD_BYTES = 1 << 30  # 1 GiB: one request (every file of it), and a zip unpacked
UPLOAD_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def upload_limit() -> int:
    """The byte limit of one upload (`RPLCARE_MAX_UPLOAD_BYTES`, default 1 GiB)."""
    raw = os.environ.get(UPLOAD_ENV, "").strip().replace("_", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_UPLOAD_BYTES


limits.STREAMED[UPLOAD_PATH] = upload_limit  # the body goes to the form parser as it arrives


class _Refused(ValueError):
    pass


def _copy(src: Any, dest: Path, budget: list[int]) -> None:
    """Copy a file object to dest, counting against the byte budget shared by the upload."""
    with open(dest, "xb") as out:
        while chunk := src.read(1 << 20):
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise _Refused(f"the files are over the limit of {upload_limit():,} bytes")
            out.write(chunk)


def _keep_name(name: str) -> str | None:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if not _SAFE_NAME.match(base):
        return None
    return base if base.endswith(UPLOAD_SUFFIXES) or base == "manifest.json" else None


def _store_upload(files: list[Any], dest: Path) -> list[str]:
    """Write the uploaded NDJSON files (or the NDJSON files of uploaded zips) into dest; the
    names of the files kept. Other names are refused, not written."""
    budget = [upload_limit()]
    kept: list[str] = []
    for f in files:
        fname = str(getattr(f, "filename", "") or "")
        if fname.lower().endswith(".zip"):
            try:
                zf = zipfile.ZipFile(f.file)
            except zipfile.BadZipFile:
                raise _Refused(f"{fname}: not a zip file") from None
            with zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    name = _keep_name(info.filename)
                    if name is None:
                        continue  # not NDJSON (a README, a folder): not part of the export
                    if name in kept:
                        raise _Refused(f"{fname}: two files named {name}")
                    with zf.open(info) as member:
                        _copy(member, dest / name, budget)
                    kept.append(name)
            continue
        name = _keep_name(fname)
        if name is None:
            raise _Refused(
                f"{fname or 'a file'}: not an export file (.ndjson, .ndjson.gz or a .zip of them)"
            )
        if name in kept:
            raise _Refused(f"two files named {name}")
        _copy(f.file, dest / name, budget)
        kept.append(name)
    if not [k for k in kept if k != "manifest.json"]:
        raise _Refused("choose the export's .ndjson / .ndjson.gz files, or a .zip of them")
    return kept


@router.post(UPLOAD_PATH)
async def screening_upload(request: Request) -> Response:
    """An export uploaded as files (multipart): stored under the screening root
    (`uploads/ID/`), then screened like a directory named there."""
    from rplcare.web.pages import _in_thread

    form = await request.form(max_files=1000, max_fields=20)
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    user = _admin(request)
    root = screening_root(request)
    problems: list[str] = []
    today = _today(str(form.get("today") or ""), problems)
    files = [f for f in form.getlist("files") if hasattr(f, "file")]
    dest: Path | None = None
    if root is None:
        problems.append("screening is not configured: set RPLCARE_SCREENING_ROOT on the server")
    elif not problems:
        run_id = uuid.uuid4().hex[:12]
        dest = root / "uploads" / f"{date.today().isoformat()}-{run_id}"

        def store() -> str | None:
            assert dest is not None
            dest.mkdir(parents=True)
            try:
                _store_upload(files, dest)
            except (_Refused, OSError, zipfile.LargeZipFile, EOFError) as exc:
                shutil.rmtree(dest, ignore_errors=True)
                return f"files: {exc}"
            return None

        problem = await _in_thread(store)
        if problem:
            problems.append(problem)
    await form.close()
    if problems or dest is None:
        return _page(request, user, problems)
    return _launch(request, dest, today)


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
