"""JSON API (issue 4 §6), on SQLite and on PostgreSQL: status codes, problem format, versions,
overrides, audit, loss entry and the loss-aware documents."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess

import pytest
import yaml

from rplcare.store import repository as repo


def _create(web, text, role="clinician"):
    return web.client.post(
        "/api/cases", content=text, headers={**web.h(role), "Content-Type": "application/yaml"}
    )


def test_healthz_needs_no_login(web):
    r = web.client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"


def test_create_yaml_and_json_then_read_back(web, example_text):
    r = _create(web, example_text)
    assert r.status_code == 201
    assert r.json() == {"id": "example-bleeding", "version": 1}
    assert r.headers["location"] == "/api/cases/example-bleeding"
    data = yaml.safe_load(example_text)
    data["id"] = "as-json"
    r = web.client.post("/api/cases", content=json.dumps(data, default=str), headers=web.h())
    assert r.status_code == 201
    got = web.client.get("/api/cases/as-json", headers=web.h())
    assert got.status_code == 200 and got.headers["x-case-version"] == "1"
    assert got.json()["current_pregnancy"]["lmp"] == "2026-10-06"
    as_yaml = web.client.get("/api/cases/as-json?format=yaml", headers=web.h())
    assert yaml.safe_load(as_yaml.text)["id"] == "as-json"


def test_generated_id_when_the_file_has_none(web):
    r = web.client.post("/api/cases", json={"patient": {"age_years": 30}}, headers=web.h())
    assert r.status_code == 201
    assert r.json()["id"].startswith("case-")


def test_duplicate_id_is_409(web, example_text):
    assert _create(web, example_text).status_code == 201
    assert _create(web, example_text).status_code == 409


def test_invalid_input_is_422_with_paths_and_saves_nothing(web):
    bad = {
        "id": "bad",
        "patient": {"bmi": 5},
        "results": [{"test": "hcg", "value": 10, "unit": "mg", "date": "2026-01-01"}],
    }
    r = web.client.post("/api/cases", json=bad, headers=web.h())
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert {p["path"] for p in problems} == {"patient.bmi", "results[0].unit"}
    assert all(set(p) == {"path", "message"} for p in problems)
    assert web.client.get("/api/cases/bad", headers=web.h()).status_code == 404


def test_assessment_returns_warnings_with_paths_like_the_problems(web):
    """Issue 8 §5: a warning carries its field path in the shape of the 422 problems."""
    odd = {"id": "odd-bmi", "patient": {"age_years": 32, "bmi": 55}}
    assert web.client.post("/api/cases", json=odd, headers=web.h()).status_code == 201
    a = web.client.get("/api/cases/odd-bmi/assessment", headers=web.h()).json()
    at = a["warnings_at"]
    assert all(set(w) == {"path", "message"} and w["path"] for w in at)
    assert any(w["path"] == "patient.bmi" and "outside" in w["message"] for w in at)


def test_yaml_syntax_error_is_422(web):
    r = _create(web, "id: [unclosed\n")
    assert r.status_code == 422
    assert "not valid YAML" in r.json()["problems"][0]["message"]


def test_auth_401_403_404(web, example_text):
    assert web.client.get("/api/cases").status_code == 401
    assert web.client.get("/api/cases", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert _create(web, example_text, role="viewer").status_code == 403
    assert _create(web, example_text).status_code == 201
    # a viewer reads but does not write
    assert (
        web.client.get(
            "/api/cases/example-bleeding/assessment", headers=web.h("viewer")
        ).status_code
        == 200
    )
    r = web.client.put("/api/cases/example-bleeding", content=example_text, headers=web.h("viewer"))
    assert r.status_code == 403
    r = web.client.post(
        "/api/cases/example-bleeding/overrides",
        headers=web.h("viewer"),
        json={"recommendation_id": "advice.no_bed_rest", "decision": "accepted"},
    )
    assert r.status_code == 403
    assert web.client.get("/api/cases/nope", headers=web.h()).status_code == 404
    assert web.client.get("/api/cases/nope/assessment", headers=web.h()).status_code == 404
    assert (
        web.client.put("/api/cases/nope", content=example_text, headers=web.h()).status_code == 404
    )


def test_put_adds_versions_and_keeps_the_old_ones(web, example_text):
    _create(web, example_text)
    data = yaml.safe_load(example_text)
    data["patient"]["bmi"] = 31.0
    r = web.client.put(
        "/api/cases/example-bleeding",
        json=json.loads(json.dumps(data, default=str)),
        headers=web.h(version=1),
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    # unchanged input adds no version
    r = web.client.put(
        "/api/cases/example-bleeding",
        json=json.loads(json.dumps(data, default=str)),
        headers=web.h(version=2),
    )
    assert r.json()["version"] == 2
    versions = web.client.get("/api/cases/example-bleeding/versions", headers=web.h()).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert "bmi" not in versions[0]["case"]["patient"]
    assert versions[1]["case"]["patient"]["bmi"] == 31.0
    # an invalid edit saves nothing
    data["patient"]["bmi"] = 3
    r = web.client.put(
        "/api/cases/example-bleeding",
        json=json.loads(json.dumps(data, default=str)),
        headers=web.h(version=2),
    )
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "patient.bmi"
    assert len(web.client.get("/api/cases/example-bleeding/versions", headers=web.h()).json()) == 2
    # the id in the body must be the one in the URL
    data["patient"]["bmi"] = 30.0
    data["id"] = "other"
    r = web.client.put(
        "/api/cases/example-bleeding",
        json=json.loads(json.dumps(data, default=str)),
        headers=web.h(version=2),
    )
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "id"


def test_assessment_is_what_assess_returns(web, example_text):
    from rplcare.reasoning.assess import assess

    _create(web, example_text)
    got = web.client.get("/api/cases/example-bleeding/assessment", headers=web.h()).json()
    direct = assess(yaml.safe_load(example_text)).to_dict()
    assert got == json.loads(json.dumps(direct))
    from rplcare import __version__
    from rplcare.knowledge import get_kb

    assert got["knowledge_base"] == {
        "version": direct["knowledge_base"]["version"],
        "content_hash": get_kb().content_hash,
        "engine": __version__,
        "definition": "eshre2022",
        "luteal_policy": "guideline",
    }
    r = web.client.get(
        "/api/cases/example-bleeding/assessment",
        params={"definition": "rcog2023", "luteal_policy": "article"},
        headers=web.h(),
    )
    assert r.json()["knowledge_base"]["definition"] == "rcog2023"
    assert r.json()["knowledge_base"]["luteal_policy"] == "article"
    r = web.client.get(
        "/api/cases/example-bleeding/assessment?luteal_policy=always", headers=web.h()
    )
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "luteal_policy"


def test_overrides_latest_wins_history_kept_survive_reassessment(web, example_text):
    _create(web, example_text)
    url = "/api/cases/example-bleeding/overrides"
    r = web.client.post(
        url,
        headers=web.h(),
        json={"recommendation_id": "test.anti_b2gpi", "decision": "overridden"},
    )
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "reason"
    r = web.client.post(
        url,
        headers=web.h(),
        json={"recommendation_id": "treat.nonexistent", "decision": "accepted"},
    )
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "recommendation_id"
    r = web.client.post(
        url,
        headers=web.h(),
        json={
            "recommendation_id": "test.anti_b2gpi",
            "decision": "overridden",
            "reason": "done_elsewhere",
            "comment": "done at the GP",
        },
    )
    assert r.status_code == 201 and r.json()["user"] == "clin"
    r = web.client.post(
        url, headers=web.h(), json={"recommendation_id": "test.anti_b2gpi", "decision": "accepted"}
    )
    assert r.status_code == 201
    # a new version (re-assessment) keeps the decisions: they are keyed by recommendation id
    data = yaml.safe_load(example_text)
    data["patient"]["bmi"] = 24.0
    web.client.put(
        "/api/cases/example-bleeding",
        headers=web.h(version=1),
        json=json.loads(json.dumps(data, default=str)),
    )
    got = web.client.get(url, headers=web.h()).json()
    assert got["current"]["test.anti_b2gpi"]["decision"] == "accepted"
    assert [h["decision"] for h in got["history"]] == ["accepted", "overridden"]
    audit = web.client.get("/api/cases/example-bleeding/audit", headers=web.h()).json()
    actions = [e["action"] for e in audit]
    assert actions.count("overrode") == 2 and "created" in actions and "changed" in actions
    changed = next(e for e in audit if e["action"] == "changed")
    # the audit names the changed field, never its value (issue 10 §7: no clinical values)
    assert changed["detail"]["changes"] == ["patient.bmi"]


def test_views_and_exports_are_audited(web, example_text):
    _create(web, example_text)
    web.client.get("/api/cases/example-bleeding/assessment", headers=web.h("viewer"))
    web.client.get("/api/cases/example-bleeding/schedule.ics", headers=web.h("viewer"))
    audit = web.client.get("/api/cases/example-bleeding/audit", headers=web.h()).json()
    seen = {(e["action"], e["user"]) for e in audit}
    assert ("viewed", "view") in seen and ("exported", "view") in seen


def test_schedule_ics_and_record_loss(web, example_text):
    _create(web, example_text)
    ics = web.client.get("/api/cases/example-bleeding/schedule.ics", headers=web.h())
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text and "luteal" in ics.text.lower()
    r = web.client.post(
        "/api/cases/example-bleeding/loss", headers=web.h(version=1), json={"date": "2026-11-20"}
    )
    assert r.status_code == 201 and r.json()["version"] == 2
    case = web.client.get("/api/cases/example-bleeding", headers=web.h()).json()
    assert "current_pregnancy" not in case
    assert case["pregnancies"][-1] == {
        "outcome": "miscarriage",
        "ga": "6+1",
        "date": "2026-11-20",
        "conception": "natural",
        "lmp": "2026-10-06",
        "heartbeat_seen": True,
    }
    ics = web.client.get("/api/cases/example-bleeding/schedule.ics", headers=web.h())
    assert "BEGIN:VCALENDAR" in ics.text and "BEGIN:VEVENT" not in ics.text
    # nothing left to lose
    r = web.client.post(
        "/api/cases/example-bleeding/loss", headers=web.h(version=2), json={"date": "2026-11-20"}
    )
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "current_pregnancy"


def _has(module: str, name: str) -> bool:
    try:
        spec = importlib.util.find_spec(module)
    except ImportError:
        return False
    if spec is None:
        return False
    try:
        return hasattr(importlib.import_module(module), name)
    except (ImportError, OSError):
        return False


def test_handout_languages_and_after_loss(web, example_text):
    _create(web, example_text)
    r = web.client.get("/api/cases/example-bleeding/handout?lang=fr", headers=web.h())
    assert r.status_code == 422
    if not _has("rplcare.render.handout", "render_handout_html"):
        r = web.client.get("/api/cases/example-bleeding/handout", headers=web.h())
        assert r.status_code == 503 and "not available" in r.json()["detail"]
        return
    en = web.client.get("/api/cases/example-bleeding/handout?lang=en", headers=web.h())
    zh = web.client.get("/api/cases/example-bleeding/handout?lang=zh", headers=web.h())
    assert en.status_code == zh.status_code == 200
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.text)
    web.client.post(
        "/api/cases/example-bleeding/loss", headers=web.h(version=1), json={"date": "2026-11-20"}
    )
    after = web.client.get("/api/cases/example-bleeding/handout?lang=en", headers=web.h())
    assert after.status_code == 200 and after.text != en.text


def test_report_pdf_carries_the_overrides(web, example_text, tmp_path):
    _create(web, example_text)
    web.client.post(
        "/api/cases/example-bleeding/overrides",
        headers=web.h(),
        json={
            "recommendation_id": "test.anti_b2gpi",
            "decision": "overridden",
            "reason": "done_elsewhere",
            "comment": "tested at the referring clinic",
        },
    )
    r = web.client.get("/api/cases/example-bleeding/report.pdf", headers=web.h())
    if not (
        _has("rplcare.render.report", "render_report_pdf")
        or _has("rplcare.render.pdf", "render_report_pdf")
    ):
        assert r.status_code == 503
        return
    if r.status_code == 503:
        pytest.skip(f"report renderer present but unavailable here: {r.json()['detail']}")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    html = web.client.get("/api/cases/example-bleeding/report.html", headers=web.h())
    assert "tested at the referring clinic" in html.text
    if shutil.which("pdftotext"):
        (tmp_path / "r.pdf").write_bytes(r.content)
        text = subprocess.run(
            ["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "referring clinic" in " ".join(text.split())


def test_import_creates_then_versions(web, example_text):
    r = web.client.post("/api/import", content=example_text, headers=web.h())
    assert r.status_code == 201 and r.json()["version"] == 1
    changed = example_text.replace("age_years: 33", "age_years: 34")
    r = web.client.post("/api/import", content=changed, headers=web.h())
    assert r.status_code == 428  # an import onto an existing case is an update
    r = web.client.post("/api/import", content=changed, headers=web.h(version=1))
    assert r.json() == {"id": "example-bleeding", "version": 2}


def test_list_shows_status_badges(web, example_text):
    _create(web, example_text)
    rows = web.client.get("/api/cases", headers=web.h()).json()
    assert rows[0]["id"] == "example-bleeding"
    assert rows[0]["status"] == {
        "workup_incomplete": True,
        "pregnant": True,
        "needs_review_24h": False,
    }
    assert web.client.get("/api/cases?q=zzz", headers=web.h()).json() == []


def test_history_reports_what_changed(web, example_text):
    _create(web, example_text)
    web.client.post(
        "/api/cases/example-bleeding/loss", headers=web.h(version=1), json={"date": "2026-11-20"}
    )
    hist = web.client.get("/api/cases/example-bleeding/history", headers=web.h()).json()
    assert [h["version"] for h in hist] == [2, 1]
    ch = hist[0]["changes"]
    assert "current.pregnant" in ch["findings_removed"]
    assert {"id": "treat.vaginal_progesterone_bleeding", "status": "recommended"} in ch[
        "recommendations_removed"
    ]


def test_openapi_lists_the_routes(web):
    paths = web.client.get("/openapi.json").json()["paths"]
    for p in (
        "/api/cases",
        "/api/cases/{case_id}",
        "/api/cases/{case_id}/assessment",
        "/api/cases/{case_id}/overrides",
        "/api/cases/{case_id}/report.pdf",
        "/api/cases/{case_id}/handout",
        "/api/cases/{case_id}/schedule.ics",
        "/healthz",
    ):
        assert p in paths


def test_repository_loss_needs_dating_or_ga(web):
    store = web.app.state.store
    with store.write() as s:
        repo.create_case(s, {"id": "undated", "current_pregnancy": {"conception": "natural"}}, None)
    from datetime import date

    from rplcare.case.errors import CaseError

    with pytest.raises(CaseError) as err, store.write() as s:
        repo.record_loss(s, "undated", date(2026, 11, 1), None)
    assert err.value.problems[0][0] == "ga"
    with store.write() as s:
        v = repo.record_loss(s, "undated", date(2026, 11, 1), None, ga="7+2")
    assert v.data["pregnancies"][-1]["ga"] == "7+2"


def test_case_ids_must_be_addressable(web):
    r = web.client.post("/api/cases", json={"id": "a/b"}, headers=web.h())
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "id"


def test_timestamps_are_utc_on_every_backend(web, example_text):
    _create(web, example_text)
    versions = web.client.get("/api/cases/example-bleeding/versions", headers=web.h()).json()
    assert versions[0]["created"].endswith("+00:00")


def test_cds_services_mounted_closed_by_default(web, monkeypatch):
    if importlib.util.find_spec("jwt") is None:
        pytest.skip("CDS Hooks needs the interop extra (pyjwt)")
    r = web.client.get("/cds-services")
    if r.status_code == 404:
        pytest.skip("rplcare.interop.cds is not installed")
    assert r.status_code == 200 and r.json()["services"]
    sid = r.json()["services"][0]["id"]
    r = web.client.post(
        f"/cds-services/{sid}", json={"hook": "patient-view", "hookInstance": "x", "context": {}}
    )
    assert r.status_code == 401


def test_cds_endpoints_answer_the_authorization_preflight_pages_and_api_do_not(web):
    pre = {
        "Origin": "https://sandbox.cds-hooks.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    r = web.client.options("/cds-services/rplcare-patient-view", headers=pre)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    api = web.client.options("/api/cases", headers=pre)
    assert "access-control-allow-origin" not in api.headers
