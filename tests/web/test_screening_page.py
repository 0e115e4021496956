"""The "Screening" page (issue 14, "Where it shows").

Rules: only an admin screens; an export is read only from under the configured root (a path
outside it is refused, said why, nothing started); a run goes in the background with its
progress polled by htmx, then shows the summary and the patient list; a candidate patient
opens as a case imported from her own resources, the source noted in the audit log.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from tests.web.conftest import Web, csrf_of

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT.parent / "shared" / "fhir-samples" / "synthea"
if not SYNTHEA.exists():
    SYNTHEA = Path("/work/shared/fhir-samples/synthea")
sys.path.insert(0, str(ROOT / "scripts"))

import synthea_to_bulk  # noqa: E402


@pytest.fixture
def root(tmp_path: Path, web: Web) -> Path:
    r = tmp_path / "exports"
    synthea_to_bulk.main([str(SYNTHEA), str(r / "synthea")])
    web.app.state.screening_root = str(r)  # type: ignore[attr-defined]
    return r


def _wait(web: Web, url: str) -> str:
    for _ in range(600):  # a bound on the polling, not a timed assertion
        page = web.client.get(url, headers={"HX-Request": "true"})
        if "Running:" not in page.text:
            return page.text
        time.sleep(0.1)
    raise AssertionError("the run did not finish")


def test_only_an_admin_sees_the_page(web: Web, root: Path) -> None:
    web.login("clin", "amber-kettle-river-01")
    assert web.client.get("/screening").status_code == 403


def test_path_outside_the_root_is_refused(web: Web, root: Path) -> None:
    web.login("adm", "amber-kettle-river-03")
    page = web.client.get("/screening")
    assert page.status_code == 200
    r = web.client.post("/screening", data={"csrf_token": csrf_of(page.text), "path": "../../etc"})
    assert r.status_code == 422
    assert "outside the screening root" in r.text
    assert "Nothing was started" in r.text


def test_run_shows_summary_and_patients_and_opens_a_case(web: Web, root: Path) -> None:
    web.login("adm", "amber-kettle-river-03")
    page = web.client.get("/screening")
    assert 'value="synthea"' in page.text
    r = web.client.post(
        "/screening",
        data={"csrf_token": csrf_of(page.text), "path": "synthea", "today": "2026-11-23"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    url = r.headers["location"]
    done = _wait(web, url)
    assert "patients read: 12" in done  # twelve Synthea bundles, one woman each
    full = web.client.get(url).text
    assert full.count("Open as case") >= 1
    # the first candidate's form
    import re

    action = re.search(r'action="(/screening/[^"]+/open/[^"]+)"', full)
    assert action
    opened = web.client.post(
        action.group(1), data={"csrf_token": csrf_of(full)}, follow_redirects=False
    )
    assert opened.status_code == 303, opened.text[-2000:]
    assert opened.headers["location"].startswith("/cases/")
    from sqlalchemy import select

    from rplcare.store.models import AuditEntry

    with web.app.state.store.read() as s:  # type: ignore[attr-defined]
        entries = list(s.scalars(select(AuditEntry)))
    acts = [e.detail for e in entries if e.action == "screening_import"]
    assert acts and "Patient/" in acts[0]["source"]
    # her name came with her (Synthea's Patient.name), kept apart from the case (issue 11 §2)
    case_id = opened.headers["location"].rsplit("/", 1)[-1]
    from rplcare.store.patients import get_identity

    with web.app.state.store.read() as s:  # type: ignore[attr-defined]
        person = get_identity(s, case_id)
        assert person is not None and person.name
    # opening her again asks instead of merging silently (merge / new case / cancel)
    again = web.client.post(
        action.group(1), data={"csrf_token": csrf_of(full)}, follow_redirects=False
    )
    assert again.status_code == 409 and "already in the store" in again.text
    assert person.name in again.text


# --- upload (multipart) -------------------------------------------------------------------


def _files(export: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [
        ("files", (f.name, f.read_bytes(), "application/fhir+ndjson"))
        for f in sorted(export.iterdir())
    ]


def test_uploaded_ndjson_files_are_stored_under_the_root_and_screened(web: Web, root: Path) -> None:
    """Rule: an admin uploads the export's files; they are written under the screening root
    (uploads/…) and screened as a directory named there: the twelve Synthea women."""
    web.login("adm", "amber-kettle-river-03")
    page = web.client.get("/screening")
    assert 'action="/screening/upload"' in page.text
    r = web.client.post(
        "/screening/upload",
        data={"csrf_token": csrf_of(page.text), "today": "2026-11-23"},
        files=_files(root / "synthea"),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[-2000:]
    assert "patients read: 12" in _wait(web, r.headers["location"])
    (stored,) = (root / "uploads").iterdir()
    names = {f.name for f in (root / "synthea").iterdir()}
    assert {f.name for f in stored.iterdir()} == names  # manifest.json included


def test_uploaded_zip_keeps_only_its_ndjson_files_flat(web: Web, root: Path) -> None:
    """Rule: of a zip, only the NDJSON files (and manifest.json) are written, by their base
    name inside the upload folder: a README is left out, a member named ../x.ndjson lands
    inside the folder, never beside it."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted((root / "synthea").iterdir()):
            z.write(f, f"export/{f.name}")
        z.writestr("export/README.txt", "not part of the export")
        z.writestr("../escape.ndjson", "")
    web.login("adm", "amber-kettle-river-03")
    page = web.client.get("/screening")
    r = web.client.post(
        "/screening/upload",
        data={"csrf_token": csrf_of(page.text), "today": "2026-11-23"},
        files=[("files", ("export.zip", buf.getvalue(), "application/zip"))],
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[-2000:]
    assert "patients read: 12" in _wait(web, r.headers["location"])
    (stored,) = (root / "uploads").iterdir()
    kept = {f.name for f in stored.iterdir()}
    assert "README.txt" not in kept and "escape.ndjson" in kept
    assert not (root / "escape.ndjson").exists()
    assert not (root / "uploads" / "escape.ndjson").exists()


def test_upload_of_other_files_is_refused_and_nothing_kept(web: Web, root: Path) -> None:
    web.login("adm", "amber-kettle-river-03")
    page = web.client.get("/screening")
    r = web.client.post(
        "/screening/upload",
        data={"csrf_token": csrf_of(page.text)},
        files=[("files", ("notes.txt", b"hello", "text/plain"))],
    )
    assert r.status_code == 422
    assert "Nothing was started" in r.text and "not an export file" in r.text
    assert list((root / "uploads").iterdir()) == []


def test_upload_over_the_limit_is_refused_before_it_is_read(
    web: Web, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule: the upload limit (RPLCARE_MAX_UPLOAD_BYTES) is checked on the Content-Length:
    413, nothing stored."""
    monkeypatch.setenv("RPLCARE_MAX_UPLOAD_BYTES", "2000")
    web.login("adm", "amber-kettle-river-03")
    page = web.client.get("/screening")
    r = web.client.post(
        "/screening/upload",
        data={"csrf_token": csrf_of(page.text)},
        files=_files(root / "synthea"),
    )
    assert r.status_code == 413
    assert "RPLCARE_MAX_UPLOAD_BYTES" in r.text
    assert not (root / "uploads").exists()


def test_only_an_admin_uploads(web: Web, root: Path) -> None:
    web.login("clin", "amber-kettle-river-01")
    page = web.client.get("/cases")
    r = web.client.post(
        "/screening/upload",
        data={"csrf_token": csrf_of(page.text)},
        files=_files(root / "synthea"),
    )
    assert r.status_code == 403
    assert not (root / "uploads").exists()
