"""Clinician pages (issue 4 §2-§5): login and CSRF, case list badges and search, the case form
with inline path errors, the plan with its override control, history, users."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _new_case(web, **fields):
    data = {"csrf_token": web.csrf(), **fields}
    return web.client.post("/cases/new", data=data, follow_redirects=False)


def test_no_patient_data_without_login(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    for url in (
        "/cases",
        "/cases/example-bleeding",
        "/cases/example-bleeding/history",
        "/cases/example-bleeding/schedule.ics",
        "/cases/example-bleeding/export.yaml",
    ):
        r = web.client.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/cases")
    r = web.client.get("/cases", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.headers["hx-redirect"].startswith("/login")


def test_login_wrong_password_and_csrf(web):
    page = web.client.get("/login")
    assert "Decision support, not diagnosis" in page.text
    r = web.client.post(
        "/login", data={"csrf_token": csrf_of(page.text), "name": "clin", "password": "wrong"}
    )
    assert r.status_code == 401 and "wrong password" in r.text
    r = web.client.post(
        "/login", data={"csrf_token": "forged", "name": "clin", "password": "amber-kettle-river-01"}
    )
    assert r.status_code == 403
    web.login()
    assert web.client.get("/cases").status_code == 200
    # a form POST without the session's token is refused
    r = web.client.post("/cases/new", data={"id": "x"}, follow_redirects=False)
    assert r.status_code == 403


def test_login_is_audited_and_next_is_local_only(web):
    page = web.client.get("/login")
    r = web.client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "clin",
            "password": "amber-kettle-river-01",
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/cases"
    from rplcare.store import repository as repo

    with web.app.state.store.read() as s:
        assert [e.action for e in repo.audit_log(s) if e.action.startswith("login")] == ["login"]


def test_structured_form_creates_a_case_and_shows_the_plan(web):
    web.login()
    r = _new_case(
        web,
        id="form-1",
        assessed_on="2026-11-20",
        age_years="36",
        smoking="no",
        p0_outcome="miscarriage",
        p0_ga="8+1",
        p0_year="2024",
        p1_outcome="miscarriage",
        p1_ga="7",
        p1_year="2025",
    )
    assert r.status_code == 303 and r.headers["location"] == "/cases/form-1"
    plan = web.client.get("/cases/form-1")
    assert plan.status_code == 200
    text = plan.text
    assert "Decision support, not diagnosis" in text
    for heading in ("Do now", "Consider", "Not recommended", "Findings", "Audit log"):
        assert heading in text
    assert "<details>" in text and "Sources (" in text
    assert "workup incomplete" in text
    assert 'id="rec-test-thyroid_function"' in text
    for link in ("report.pdf", "handout?lang=zh", "schedule.ics"):
        assert f"/cases/form-1/{link}" in text
    # the footer names the app and knowledge-base versions, never a Python object
    from rplcare import __version__

    assert f"rplcare {__version__} · knowledge base" in text and "object at 0x" not in text


def test_form_errors_are_inline_and_save_nothing(web):
    web.login()
    r = _new_case(
        web,
        id="bad-1",
        age_years="7",
        p0_outcome="",
        p2_outcome="miscarriage",
        p2_ga="30+0",
        p2_year="2024",
    )
    assert r.status_code == 422
    assert "Nothing was saved" in r.text
    # the third table row became pregnancies[0]: its error sits next to that row's GA input
    assert 'data-path="pregnancies[0].ga"' in r.text
    assert 'data-path="patient.age_years"' in r.text
    assert 'value="30+0"' in r.text  # what was typed is kept
    assert web.client.get("/cases/bad-1").status_code == 404


def test_yaml_textarea_and_edit_adds_a_version(web, example_text):
    web.login()
    r = _new_case(web, yaml=example_text)
    assert r.headers["location"] == "/cases/example-bleeding"
    edit = web.client.get("/cases/example-bleeding/edit")
    assert "age_years: 33" in edit.text
    bad = example_text.replace("unit: IU/L, date: 2026-11-10", "unit: mg, date: 2026-11-10")
    r = web.client.post(
        "/cases/example-bleeding/edit",
        data={"csrf_token": csrf_of(edit.text), "yaml": bad, "version": "1"},
    )
    assert r.status_code == 422 and "results[0].unit" in r.text
    good = example_text.replace("age_years: 33", "age_years: 34")
    r = web.client.post(
        "/cases/example-bleeding/edit",
        data={"csrf_token": csrf_of(edit.text), "yaml": good, "version": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    hist = web.client.get("/cases/example-bleeding/history")
    assert "Version 2" in hist.text and "Version 1" in hist.text
    plan = web.client.get("/cases/example-bleeding")
    # the audit log names the changed field; its values are in the versions (history page)
    assert "Version 2 saved (edited): changed patient age years." in plan.text


def test_case_list_badges_and_search(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.client.post(
        "/api/cases", json={"id": "other-case", "patient": {"age_years": 30}}, headers=web.h()
    )
    web.login()
    page = web.client.get("/cases")
    assert "example-bleeding" in page.text and "other-case" in page.text
    row = re.search(r"example-bleeding</a></td>\s*<td>(.*?)</td>", page.text, re.S).group(1)
    assert "pregnant" in row and "workup incomplete" in row
    found = web.client.get("/cases?q=BLEED", headers={"HX-Request": "true"})
    assert "example-bleeding" in found.text and "other-case" not in found.text


def test_override_through_htmx_returns_the_recommendation(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    token = web.csrf()
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    r = web.client.post(
        "/cases/example-bleeding/overrides",
        headers=hx,
        data={
            "recommendation_id": "test.anti_b2gpi",
            "decision": "overridden",
            "reason": "",
            "comment": "",
        },
    )
    assert r.status_code == 200 and "required when overriding" in r.text
    r = web.client.post(
        "/cases/example-bleeding/overrides",
        headers=hx,
        data={
            "recommendation_id": "test.anti_b2gpi",
            "decision": "overridden",
            "reason": "patient_declined",
            "comment": "wants to wait",
        },
    )
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<article class="rec')
    assert 'data-decision="overridden"' in r.text and "patient declined" in r.text
    plan = web.client.get("/cases/example-bleeding")
    assert "wants to wait" in plan.text
    # the audit row holds the decision and reason; the free-text comment stays in the override
    assert "Overrode “Anti-beta2-glycoprotein I IgG/IgM” (patient declined)." in plan.text


def test_override_without_htmx_redirects(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    r = web.client.post(
        "/cases/example-bleeding/overrides",
        follow_redirects=False,
        data={
            "csrf_token": web.csrf(),
            "recommendation_id": "advice.no_bed_rest",
            "decision": "accepted",
            "reason": "",
            "comment": "",
        },
    )
    assert r.status_code == 303 and r.headers["location"].endswith("#rec-advice-no_bed_rest")


def test_pregnancy_panel_and_record_loss(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    plan = web.client.get("/cases/example-bleeding")
    assert "Current pregnancy" in plan.text and "Luteal support" in plan.text
    assert "16+0" in plan.text and "2026-11-20" in plan.text
    r = web.client.post(
        "/cases/example-bleeding/loss",
        follow_redirects=False,
        data={"csrf_token": csrf_of(plan.text), "date": "2026-11-20", "ga": ""},
    )
    assert r.status_code == 303
    plan = web.client.get("/cases/example-bleeding")
    assert "loss recorded" in plan.text and "Current pregnancy" not in plan.text
    ics = web.client.get("/cases/example-bleeding/schedule.ics")
    assert "BEGIN:VEVENT" not in ics.text


def test_viewer_reads_but_cannot_write(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login("view", "amber-kettle-river-02")
    plan = web.client.get("/cases/example-bleeding")
    assert plan.status_code == 200 and 'name="decision"' not in plan.text
    assert web.client.get("/cases/new").status_code == 403
    r = web.client.post(
        "/cases/example-bleeding/overrides",
        data={
            "csrf_token": csrf_of(plan.text),
            "recommendation_id": "advice.no_bed_rest",
            "decision": "accepted",
        },
    )
    assert r.status_code == 403
    assert web.client.get("/admin/users").status_code == 403


def test_admin_adds_users_and_tokens(web):
    web.login("adm", "amber-kettle-river-03")
    page = web.client.get("/admin/users")
    assert page.status_code == 200
    r = web.client.post(
        "/admin/users",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "new",
            "role": "viewer",
            "password": "plum orchard lantern",
        },
    )
    assert "User &#39;new&#39; added" in r.text
    uid = re.search(r"/admin/users/(\d+)/token", r.text).group(1)
    r = web.client.post(f"/admin/users/{uid}/token", data={"csrf_token": csrf_of(page.text)})
    token = re.search(r"<code>(rpl_[^<]+)</code>", r.text).group(1)
    assert web.client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).json() == []


def test_unknown_case_page_is_404(web):
    web.login()
    r = web.client.get("/cases/nope")
    assert r.status_code == 404 and "Decision support, not diagnosis" in r.text
