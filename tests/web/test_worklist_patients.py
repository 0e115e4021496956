"""Patients as people and the worklist (issue 11 §2, §3), on SQLite and PostgreSQL.

Rules checked: identity is kept apart from the clinical record (no name in a case version, the
assessment's input unchanged), its audit rows name fields and never values; the worklist
searches by name / hospital number / date of birth, filters, sorts and pages with every setting
in the URL; its badges and next action are the assessment's ordered action list (urgent first);
one failing assessment is an error row, never a broken list, and its own page explains it;
the list reads stored assessments (no assess() on a warm list); archive hides a case; an import
onto an id in the store asks first; erasure deletes the patient row; the full record includes
it and the FHIR record export leaves it out on request.
"""

from __future__ import annotations

import json
import re

import pytest
from tests.render.test_urgent_first import CASE as URGENT
from tests.web.conftest import EXAMPLES, PASSWORDS, csrf_of

from rplcare.store import repository as repo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MEI = {
    "name": "Wang Mei",
    "birth_date": "1992-03-04",
    "mrn": "MRN-0042",
    "contact": "+86 10 5555 0100",
}


def _post_case(web, data: dict) -> None:
    r = web.client.post("/api/cases", content=json.dumps(data, default=str), headers=web.h())
    assert r.status_code == 201, r.text[:300]


def _example(name: str) -> dict:
    import yaml

    return yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))


def _set_patient(web, case_id: str, values: dict, token: str | None = None):
    return web.client.post(
        f"/cases/{case_id}/patient",
        data={"csrf_token": token or web.csrf(), **values},
        follow_redirects=False,
    )


def _ids(html: str) -> list[str]:
    body = html[html.index('<tbody id="rows">') :]
    body = body[: body.index("</tbody>")]
    return re.findall(r'<td><a href="/cases/[^"]+">([^<]+)</a></td>', body)


def test_identity_is_apart_from_the_record_and_audited_by_field_only(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    before = web.client.get("/api/cases/example-bleeding/assessment", headers=web.h()).json()
    web.login()
    r = _set_patient(web, "example-bleeding", MEI)
    assert r.status_code == 303 and r.headers["location"] == "/cases/example-bleeding"
    page = web.client.get("/cases/example-bleeding").text
    banner = page[page.index('class="patient-banner"') :][:800]
    for value in MEI.values():
        assert value in banner
    store = web.app.state.store
    with store.read() as s:
        versions = repo.case_versions(s, "example-bleeding")
        assert len(versions) == 1  # identity is no case version
        assert "Wang Mei" not in json.dumps(versions[0].data, ensure_ascii=False)
        rows = [e for e in repo.audit_log(s, "example-bleeding") if e.action == "patient_changed"]
        assert [e.detail for e in rows] == [
            {"fields": ["name", "birth_date", "mrn", "contact"], "how": "form"}
        ]
    after = web.client.get("/api/cases/example-bleeding/assessment", headers=web.h()).json()
    assert after["input_hash"] == before["input_hash"]  # assess() never sees identity
    # a change names only the field that changed
    _set_patient(web, "example-bleeding", {**MEI, "mrn": "MRN-0043"})
    with store.read() as s:
        last = repo.audit_log(s, "example-bleeding", action="patient_changed")[0]
        assert last.detail == {"fields": ["mrn"], "how": "form"}
        assert "MRN-0043" not in json.dumps(last.detail)


def test_patient_form_keeps_what_was_typed_and_ties_errors_to_inputs(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    r = _set_patient(web, "example-bleeding", {"name": " ", "birth_date": "31-31-1990"})
    assert r.status_code == 422
    assert 'aria-describedby="err-name"' in r.text and 'id="err-name"' in r.text
    assert 'aria-describedby="err-birth_date"' in r.text and "31-31-1990" in r.text
    with web.app.state.store.read() as s:
        from rplcare.store.patients import get_identity

        assert get_identity(s, "example-bleeding") is None  # nothing saved
    # a viewer reads the header but cannot edit
    web.login("view", PASSWORDS["view"])
    assert "No patient details recorded" in web.client.get("/cases/example-bleeding").text
    assert web.client.get("/cases/example-bleeding/patient").status_code == 403


def test_search_by_name_hospital_number_and_date_of_birth(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    _post_case(web, _example("thyroid-two-losses.yaml"))
    web.login()
    token = web.csrf()
    _set_patient(web, "example-bleeding", MEI, token)
    _set_patient(web, "example-thyroid", {"name": "Émilie Durand", "mrn": "H-77"}, token)
    for q in ("wang", "MEI", "mrn-0042", "1992-03-04", "04/03/1992"):
        assert _ids(web.client.get("/cases", params={"q": q}).text) == ["example-bleeding"], q
    # a name with an accent is found by its case-folded form (SQL lower() is ASCII-only)
    assert _ids(web.client.get("/cases", params={"q": "ÉMILIE"}).text) == ["example-thyroid"]
    api = web.client.get("/api/cases", params={"q": "h-77"}, headers=web.h()).json()
    assert [r["id"] for r in api] == ["example-thyroid"]
    assert api[0]["patient"] == {"name": "Émilie Durand", "birth_date": None, "mrn": "H-77"}


def test_worklist_filters_sort_and_pages_from_the_url(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())  # pregnant, workup
    _post_case(web, _example("thyroid-two-losses.yaml"))  # not pregnant, workup incomplete
    _post_case(web, _example("aps-three-losses.yaml"))  # not pregnant, workup complete
    _post_case(web, URGENT)  # immediate action: an ectopic alert
    web.login()
    # urgency first (the default): the ectopic alert case leads, its next action is the alert
    page = web.client.get("/cases").text
    assert _ids(page)[0] == URGENT["id"]
    row = page[page.index(f">{URGENT['id']}</a>") :]
    row = row[: row.index("</tr>")]
    assert "immediate" in row and "suspected ectopic pregnancy" in row
    assert "review within 24 h" in row  # the badge from the same action list
    assert sorted(_ids(web.client.get("/cases?status=pregnant").text)) == sorted(
        ["example-bleeding", URGENT["id"]]
    )
    assert _ids(web.client.get("/cases?status=urgent").text) == [URGENT["id"]]
    # its actions were due on its assessment day (2026-11-23): due today or overdue
    assert _ids(web.client.get("/cases?status=today").text) == [URGENT["id"]]
    both = web.client.get("/cases?status=workup&status=pregnant").text
    assert sorted(_ids(both)) == sorted(["example-bleeding", URGENT["id"]])
    assert _ids(web.client.get("/cases?clinician=clin").text) != []
    assert _ids(web.client.get("/cases?clinician=nobody").text) == []
    # paging: 2 per page, the pager links keep the filters
    p1 = web.client.get("/cases?sort=name&per_page=2")
    assert len(_ids(p1.text)) == 2 and "page 1 / 2" in p1.text
    assert 'href="/cases?sort=name&amp;page=2&amp;per_page=2"' in p1.text
    p2 = web.client.get("/cases?sort=name&per_page=2&page=2")
    assert len(_ids(p2.text)) == 2 and not set(_ids(p1.text)) & set(_ids(p2.text))
    # by case id when no names are recorded (names sort first once recorded)
    everyone = _ids(p1.text) + _ids(p2.text)
    assert everyone == sorted(everyone)
    _set_patient(web, "example-thyroid", {"name": "Aaron"})
    assert _ids(web.client.get("/cases?sort=name").text)[0] == "example-thyroid"
    # the API: same filters, one page, total and links in the headers
    r = web.client.get("/api/cases?per_page=3&sort=updated&order=asc", headers=web.h())
    assert r.status_code == 200 and len(r.json()) == 3
    assert r.headers["x-total-count"] == "4"
    assert 'rel="next"' in r.headers["link"] and "page=2" in r.headers["link"]
    urgent = web.client.get("/api/cases?status=urgent", headers=web.h()).json()
    assert [x["id"] for x in urgent] == [URGENT["id"]]
    assert urgent[0]["next_action"]["urgency"] == "immediate"
    bad = web.client.get("/api/cases?sort=price", headers=web.h())
    assert bad.status_code == 422
    assert web.client.get("/cases?status=soon").status_code == 422
    # dates: the last change, in the server's days
    assert _ids(web.client.get("/cases?from=2000-01-01&to=2000-12-31").text) == []


def test_one_failing_assessment_is_an_error_row_never_a_broken_list(web, example_text, monkeypatch):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    _post_case(web, _example("thyroid-two-losses.yaml"))
    from rplcare.reasoning import assess as assess_module

    real = assess_module.assess

    def flaky(case, *args, **kwargs):
        if (case.get("id") if isinstance(case, dict) else None) == "example-thyroid":
            raise ZeroDivisionError("float division by zero")
        return real(case, *args, **kwargs)

    monkeypatch.setattr(assess_module, "assess", flaky)
    web.login()
    page = web.client.get("/cases")
    assert page.status_code == 200
    assert sorted(_ids(page.text)) == ["example-bleeding", "example-thyroid"]
    row = page.text[page.text.index(">example-thyroid</a>") :]
    assert "assessment failed" in row[: row.index("</tr>")]
    # the error row sorts first (its urgency is unknown) and passes the status filters
    assert _ids(page.text)[0] == "example-thyroid"
    assert "example-thyroid" in _ids(web.client.get("/cases?status=urgent").text)
    api = web.client.get("/api/cases", headers=web.h())
    assert api.status_code == 200
    bad = next(r for r in api.json() if r["id"] == "example-thyroid")
    assert bad["error"] == "ZeroDivisionError: float division by zero"
    plan = web.client.get("/cases/example-thyroid")
    assert plan.status_code == 500
    assert "The assessment of example-thyroid failed" in plan.text
    assert "ZeroDivisionError: float division by zero" in plan.text
    assert web.client.get("/cases/example-bleeding").status_code == 200
    # once the assessment works again, the row is rebuilt
    monkeypatch.setattr(assess_module, "assess", real)
    again = web.client.get("/cases").text
    row = again[again.index(">example-thyroid</a>") :]
    assert "assessment failed" not in row[: row.index("</tr>")]


def test_a_warm_list_reads_stored_rows_and_assesses_nothing(web, example_text, monkeypatch):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    _post_case(web, _example("aps-three-losses.yaml"))
    web.login()
    assert web.client.get("/cases").status_code == 200  # builds the rows once
    from rplcare.reasoning import assess as assess_module

    calls = []
    real = assess_module.assess
    monkeypatch.setattr(assess_module, "assess", lambda *a, **k: calls.append(1) or real(*a, **k))
    for url in ("/cases", "/cases?status=pregnant", "/cases?sort=name&page=1"):
        assert web.client.get(url).status_code == 200
    assert web.client.get("/api/cases", headers=web.h()).status_code == 200
    assert calls == []
    # a new version makes that one row stale: one assessment, not one per case
    v = web.client.get("/api/cases/example-aps", headers=web.h())
    changed = {**v.json(), "patient": {**v.json()["patient"], "bmi": 24}}
    web.client.put("/api/cases/example-aps", json=changed, headers=web.h(version=1))
    calls.clear()
    web.client.get("/cases")
    assert calls == [1]


def test_archive_hides_a_case_from_the_worklist(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    _post_case(web, _example("aps-three-losses.yaml"))
    web.login()
    token = web.csrf()
    ask = web.client.get("/cases/example-aps/archive")
    assert ask.status_code == 200 and "Archive this case?" in ask.text
    r = web.client.post(
        "/cases/example-aps/archive",
        data={"csrf_token": token, "archived": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _ids(web.client.get("/cases").text) == ["example-bleeding"]
    assert _ids(web.client.get("/cases?archived=1").text) == ["example-aps"]
    assert "archived" in web.client.get("/cases/example-aps").text
    web.client.post("/cases/example-aps/archive", data={"csrf_token": token, "archived": "0"})
    assert sorted(_ids(web.client.get("/cases").text)) == ["example-aps", "example-bleeding"]
    with web.app.state.store.read() as s:
        acts = [e.action for e in repo.audit_log(s, "example-aps")]
        assert "archived" in acts and "unarchived" in acts
    # a viewer cannot archive
    web.login("view", PASSWORDS["view"])
    viewer = web.client.post(
        "/cases/example-aps/archive", data={"csrf_token": web.csrf(), "archived": "1"}
    )
    assert viewer.status_code == 403


def _upload(web, text: str | bytes, name: str = "case.yaml"):
    return web.client.post(
        "/cases/import",
        data={"csrf_token": web.csrf()},
        files={"file": (name, text, "application/octet-stream")},
        follow_redirects=False,
    )


def _confirm(web, page: str, choice: str, **extra: str):
    payload = re.search(r'<textarea name="payload"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    import html

    return web.client.post(
        "/cases/import/confirm",
        data={
            "csrf_token": csrf_of(page),
            "choice": choice,
            "payload": html.unescape(payload),
            "version": re.search(r'name="version" value="(\d+)"', page).group(1),
            **extra,
        },
        follow_redirects=False,
    )


def test_an_import_onto_a_known_id_asks_first(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    _set_patient(web, "example-bleeding", MEI)
    changed = example_text.replace("age_years: 33", "age_years: 34")
    r = _upload(web, changed)
    assert r.status_code == 409 and "already in the store" in r.text
    assert "Wang Mei" in r.text  # who is on record, to compare with the file
    store = web.app.state.store
    with store.read() as s:
        assert len(repo.case_versions(s, "example-bleeding")) == 1  # nothing saved yet
    assert _confirm(web, r.text, "cancel").status_code == 303
    with store.read() as s:
        assert len(repo.case_versions(s, "example-bleeding")) == 1
    new = _confirm(web, r.text, "new", new_id="bleeding-2")
    assert new.headers["location"] == "/cases/bleeding-2"
    merged = _confirm(web, r.text, "merge")
    assert merged.headers["location"] == "/cases/example-bleeding"
    with store.read() as s:
        assert len(repo.case_versions(s, "example-bleeding")) == 2
        assert repo.latest_version(s, "bleeding-2").data["patient"]["age_years"] == 34
        from rplcare.store.patients import get_identity

        assert get_identity(s, "example-bleeding").name == "Wang Mei"  # kept
        assert get_identity(s, "bleeding-2") is None
    # the same confirmation again is stale: another version was saved since it asked
    assert _confirm(web, r.text, "merge").status_code == 409
    # a new id: no question
    fresh = _upload(web, example_text.replace("id: example-bleeding", "id: fresh-one"))
    assert fresh.status_code == 303 and fresh.headers["location"] == "/cases/fresh-one"


def _fhir_bundle() -> dict:
    from rplcare.case.loader import load_case
    from rplcare.interop.fhir.write import case_to_bundle

    case = _example("thyroid-two-losses.yaml")
    bundle = case_to_bundle(load_case(case))
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "Patient":
            res["name"] = [{"use": "official", "family": "Li", "given": ["Na"]}]
            res["identifier"] = [
                *res.get("identifier", []),
                {
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                "code": "MR",
                            }
                        ]
                    },
                    "value": "BJ-123",
                },
            ]
    return bundle


def test_a_fhir_bundle_through_the_web_brings_the_patient_and_asks_on_a_clash(web):
    web.login()
    body = json.dumps(_fhir_bundle())
    r = _upload(web, body, "bundle.json")
    assert r.status_code == 303, r.text[:500]
    case_id = r.headers["location"].rsplit("/", 1)[-1]
    page = web.client.get(f"/cases/{case_id}").text
    assert "Na Li" in page and "BJ-123" in page
    again = _upload(web, body, "bundle.json")
    assert again.status_code == 409 and "Na Li" in again.text


def test_erasure_deletes_the_patient_and_exports_choose_identity(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    _set_patient(web, "example-bleeding", MEI)
    rec = web.client.get("/api/cases/example-bleeding/record.json", headers=web.h()).json()
    assert rec["patient"] == MEI
    fhir = web.client.get("/api/cases/example-bleeding/record.fhir.json", headers=web.h()).json()
    patient = next(
        e["resource"] for e in fhir["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert patient["name"] == [{"use": "official", "text": "Wang Mei"}]
    assert any(i.get("value") == "MRN-0042" for i in patient["identifier"])
    from rplcare.interop.fhir.importer import validate_bundle

    assert validate_bundle(fhir) == []  # still valid FHIR R4 (R4B models) with the identity
    # the research exports (outcomes registry) never carry identity
    assert "Wang Mei" not in web.client.get("/outcomes.csv").text
    bare = web.client.get(
        "/api/cases/example-bleeding/record.fhir.json?identity=false", headers=web.h()
    ).text
    assert "Wang Mei" not in bare and "MRN-0042" not in bare
    case_file = web.client.get("/cases/example-bleeding/export.yaml").text
    assert "Wang Mei" not in case_file  # the case file is clinical only
    r = web.client.post(
        "/api/cases/example-bleeding/erase",
        json={"reason": "patient asked for erasure (GDPR art. 17)"},
        headers=web.h("admin"),
    )
    assert r.status_code == 200 and r.json()["rows"]["patient"] == 1
    from sqlalchemy import select

    from rplcare.store.models import PatientIdentity, WorklistEntry

    with web.app.state.store.read() as s:
        assert s.scalars(select(PatientIdentity)).all() == []
        assert s.scalars(select(WorklistEntry)).all() == []


def test_documents_carry_the_patient_header(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    _set_patient(web, "example-bleeding", MEI)
    report = web.client.get("/cases/example-bleeding/report.html").text
    handout = web.client.get("/cases/example-bleeding/handout").text
    for doc in (report, handout):
        assert "Wang Mei" in doc and "MRN-0042" in doc and "1992-03-04" in doc
    assert "+86 10 5555 0100" in handout  # the contact is for the handout
    zh = web.client.get("/cases/example-bleeding/handout?lang=zh").text
    assert "Wang Mei" in zh and "出生日期" in zh and "病历号" in zh


def test_identity_never_reaches_assess(web, example_text, monkeypatch):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    _set_patient(web, "example-bleeding", MEI)
    from rplcare.reasoning import assess as assess_module

    seen = []
    real = assess_module.assess

    def spy(case, *args, **kwargs):
        seen.append(json.dumps(case, default=str, ensure_ascii=False))
        return real(case, *args, **kwargs)

    monkeypatch.setattr(assess_module, "assess", spy)
    web.client.get("/cases/example-bleeding?definition=asrm2012")  # a fresh assessment
    assert seen and not any("Wang Mei" in c or "MRN-0042" in c for c in seen)


def test_audit_view_says_what_changed_in_words_without_values(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    _set_patient(web, "example-bleeding", MEI)
    web.client.post(
        "/cases/example-bleeding/archive", data={"csrf_token": web.csrf(), "archived": "1"}
    )
    page = web.client.get("/cases/example-bleeding").text
    audit = page[page.index("Patient details changed") :][:300]
    assert audit.startswith(
        "Patient details changed: name, date of birth, hospital number, contact."
    )
    assert "Case archived." in page


def test_migration_0004_keeps_every_row_and_downgrades(tmp_path, example_text):
    """Adding `cases.archived` must not copy the table: on SQLite with foreign keys on, a
    batch copy drops `cases` and the drop cascades to every version and assessment."""
    from sqlalchemy import text

    from rplcare.store.db import Store, upgrade

    store = Store(f"sqlite:///{tmp_path / 'm.db'}", migrate=False)
    try:
        upgrade(store.engine, "0003_outcomes")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO cases (id, created) VALUES ('old', '2026-11-01')"))
            conn.execute(
                text(
                    "INSERT INTO case_versions (id, case_id, n, data, event, created) VALUES "
                    "(1, 'old', 1, '{\"id\": \"old\"}', 'created', '2026-11-01')"
                )
            )
        upgrade(store.engine, "head")
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM case_versions")).scalar() == 1
            assert conn.execute(text("SELECT archived FROM cases")).scalar() in (0, False)
        from alembic import command

        from rplcare.store.db import alembic_config

        command.downgrade(alembic_config(store.engine), "0003_outcomes")
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM case_versions")).scalar() == 1
        upgrade(store.engine, "head")
    finally:
        store.dispose()


def test_patient_details_through_the_api_and_on_the_edit_page(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    url = "/api/cases/example-bleeding/patient"
    assert web.client.get(url, headers=web.h()).status_code == 404
    assert web.client.put(url, json=MEI, headers=web.h("viewer")).status_code == 403
    r = web.client.put(url, json={**MEI, "birth_date": "2999-01-01"}, headers=web.h())
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "birth_date"
    assert web.client.put(url, json=MEI, headers=web.h()).json() == MEI
    assert web.client.get(url, headers=web.h("viewer")).json() == MEI
    with web.app.state.store.read() as s:
        [row] = repo.audit_log(s, "example-bleeding", action="patient_changed")
        assert row.detail == {"fields": ["name", "birth_date", "mrn", "contact"], "how": "api"}
    web.login()
    edit = web.client.get("/cases/example-bleeding/edit").text
    assert "Wang Mei" in edit[edit.index('class="patient-banner"') :][:400]


def test_no_machine_words_on_the_worklist_and_patient_pages(web, example_text):
    """Human words (issue 11 §8) on the pages of §2 and §3, the audit of a patient change
    and an archive included."""
    from tests.web.test_human_words import MACHINE, visible

    web.client.post("/api/cases", content=example_text, headers=web.h())
    _post_case(web, URGENT)
    web.login()
    _set_patient(web, "example-bleeding", MEI)
    web.client.post(
        "/cases/example-bleeding/archive", data={"csrf_token": web.csrf(), "archived": "1"}
    )
    for url in (
        "/cases",
        "/cases?archived=1",
        "/cases?status=urgent&sort=name&per_page=1",
        "/cases/example-bleeding",
        "/cases/example-bleeding/patient",
        "/cases/example-bleeding/archive",
        f"/cases/{URGENT['id']}/patient",
    ):
        page = web.client.get(url)
        assert page.status_code == 200, url
        found = sorted({m.group(0) for m in MACHINE.finditer(visible(page.text))})
        assert found == [], f"{url}: {found}"


def test_concurrent_lists_build_the_rows_once_without_failing(database_url):
    """Several workers opening the cold worklist at once (the morning rush) all get it."""
    import threading

    import yaml
    from sqlalchemy import func, select

    from rplcare.store import worklist as wl
    from rplcare.store.db import Store
    from rplcare.store.models import WorklistEntry

    store = Store(database_url)
    try:
        base = yaml.safe_load((EXAMPLES / "thyroid-two-losses.yaml").read_text())
        with store.write() as s:
            for i in range(6):
                repo.create_case(s, {**base, "id": f"rush-{i}"}, None)
        barrier = threading.Barrier(4)
        results: list[object] = []

        def one() -> None:
            barrier.wait()
            try:
                with store.write() as s:
                    results.append(wl.worklist(s, wl.Query()).total)
            except Exception as exc:  # recorded, asserted below
                results.append(exc)

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results == [6, 6, 6, 6]
        with store.read() as s:
            assert s.scalar(select(func.count()).select_from(WorklistEntry)) == 6
    finally:
        store.dispose()


def test_column_headers_sort_and_say_how(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    _post_case(web, URGENT)
    web.login()
    page = web.client.get("/cases?status=pregnant").text
    # the current sort (urgency, ascending) is marked; its header reverses it, keeping filters
    assert 'aria-sort="ascending"' in page
    assert 'href="/cases?order=desc&amp;status=pregnant"' in page
    assert 'href="/cases?sort=updated&amp;status=pregnant"' in page
    desc = web.client.get("/cases?status=pregnant&order=desc").text
    assert _ids(desc)[-1] == URGENT["id"] and 'aria-sort="descending"' in desc


def test_a_lost_or_forged_confirmation_saves_nothing(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    token = web.csrf()
    for payload in ("", "not json", json.dumps({"case": {"patient": {}}}), "[1]"):
        r = web.client.post(
            "/cases/import/confirm",
            data={"csrf_token": token, "choice": "new", "payload": payload, "version": "1"},
        )
        assert r.status_code == 422, payload
    r = web.client.post(
        "/cases/import/confirm", data={"choice": "merge", "payload": "{}", "version": "1"}
    )
    assert r.status_code == 403  # no CSRF token
    with web.app.state.store.read() as s:
        assert [c.id for c, _ in repo.list_cases(s)] == ["example-bleeding"]
