"""Same data on every store and privacy (issue 10 §6, §7): identifiers without control
characters and within the column, percent-encoded Location and RFC 6266 filename*, NUL
refused on SQLite as on PostgreSQL; lists and audit reads audited; the whole record exported
as JSON and FHIR; erasure by an admin with a reason leaves a tombstone and no data; the
SQLite file is created 0600."""

from __future__ import annotations

import base64
import json
import os
import stat

import yaml

from rplcare.store import repository as repo
from rplcare.store.models import AssessmentRecord, CaseVersion, Override


def _case(example_text: str, case_id: str) -> str:
    data = yaml.safe_load(example_text)
    data["id"] = case_id
    return json.dumps(data, default=str)


def test_nul_and_control_characters_are_refused_on_every_store(web, example_text):
    for bad in ("case\x00x", "case\x1bx", "x" * 201):
        r = web.client.post("/api/cases", content=_case(example_text, bad), headers=web.h())
        assert r.status_code == 422 and r.json()["problems"][0]["path"] == "id"
    data = yaml.safe_load(example_text)
    data["results"][0]["unit"] = "IU/L\x00"
    r = web.client.post("/api/cases", content=json.dumps(data, default=str), headers=web.h())
    assert r.status_code == 422


def test_location_and_download_headers_for_a_non_latin_id(web, example_text):
    case_id = "病例-ü 1"
    r = web.client.post("/api/cases", content=_case(example_text, case_id), headers=web.h())
    assert r.status_code == 201
    assert r.headers["location"] == "/api/cases/%E7%97%85%E4%BE%8B-%C3%BC%201"
    ics = web.client.get(r.headers["location"] + "/schedule.ics", headers=web.h())
    disp = ics.headers["content-disposition"]
    assert "filename*=UTF-8''%E7%97%85%E4%BE%8B-%C3%BC%201-schedule.ics" in disp
    assert disp.isascii()


def test_lists_and_audit_reads_are_audited_without_search_terms(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.client.get("/api/cases?q=secret-name", headers=web.h("viewer"))
    web.client.get("/api/cases/example-bleeding/audit", headers=web.h("viewer"))
    with web.app.state.store.read() as s:
        listed = repo.audit_log(s, action="listed")
        read = repo.audit_log(s, action="audit_read")
    assert listed[0].user.name == "view" and "secret-name" not in json.dumps(listed[0].detail)
    assert read[0].case_id == "example-bleeding" and read[0].role == "viewer"


def test_whole_record_export_and_erasure(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.client.get("/api/cases/example-bleeding/assessment", headers=web.h())
    web.client.post(
        "/api/cases/example-bleeding/overrides",
        headers=web.h(),
        json={"recommendation_id": "advice.no_bed_rest", "decision": "accepted"},
    )
    rec = web.client.get("/api/cases/example-bleeding/record.json", headers=web.h()).json()
    assert rec["versions"][0]["case"]["id"] == "example-bleeding"
    assert rec["assessments"] and rec["overrides"][0]["recommendation_id"] == "advice.no_bed_rest"
    assert {e["action"] for e in rec["audit"]} >= {"created", "viewed", "overrode"}
    fhir = web.client.get("/api/cases/example-bleeding/record.fhir.json", headers=web.h()).json()
    assert fhir["resourceType"] == "Bundle"
    types = [e["resource"]["resourceType"] for e in fhir["entry"]]
    assert "Patient" in types and "DocumentReference" in types
    doc = next(
        e["resource"] for e in fhir["entry"] if e["resource"]["resourceType"] == "DocumentReference"
    )
    assert json.loads(base64.b64decode(doc["content"][0]["attachment"]["data"]))["version"] == 1
    # erasure: admin only, with a reason
    url = "/api/cases/example-bleeding/erase"
    assert (
        web.client.post(
            url, json={"reason": "patient request under GDPR art. 17"}, headers=web.h()
        ).status_code
        == 403
    )
    assert web.client.post(url, json={"reason": "x"}, headers=web.h("admin")).status_code == 422
    r = web.client.post(
        url, json={"reason": "patient request under GDPR art. 17"}, headers=web.h("admin")
    )
    assert r.status_code == 200 and r.json()["rows"]["versions"] == 1
    assert web.client.get("/api/cases/example-bleeding", headers=web.h()).status_code == 404
    with web.app.state.store.read() as s:
        from sqlalchemy import func, select

        for model in (CaseVersion, AssessmentRecord, Override):
            assert s.scalar(select(func.count()).select_from(model)) == 0
        rows = repo.audit_log(s, "example-bleeding", limit=1000)
        tomb = [e for e in rows if e.action == "erased"]
        assert tomb and tomb[0].user.name == "adm" and "GDPR" in tomb[0].detail["reason"]
        assert all(e.detail == {"erased": True} for e in rows if e.action != "erased")


def test_sqlite_file_is_created_0600(tmp_path):
    from rplcare.store.db import Store

    path = tmp_path / "new" / "care.db"
    store = Store(f"sqlite:///{path}")
    store.dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_access_log_is_redacted_by_default():
    import logging

    from rplcare.web.commands import RedactedAccessLog, access_log_mode

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/api/cases/mrn-123456/report.pdf?lang=en", "1.1", 200),
        None,
    )
    RedactedAccessLog().filter(record)
    line = record.getMessage()
    assert "mrn-123456" not in line and "lang=en" not in line and "/api/cases/…/report.pdf" in line
    assert access_log_mode() == "redacted"
