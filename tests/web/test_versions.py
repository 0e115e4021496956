"""No lost update (issue 10 §3, contract 4): every case version has a number, GET answers with
its ETag, an update must name the version it read (If-Match: 428 without, 412 when stale),
the edit form refuses a stale save and shows what changed; 50 concurrent writers on SQLite
and PostgreSQL lose no acknowledged write."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta

import yaml
from tests.web.conftest import csrf_of

CASE = "/api/cases/example-bleeding"


def _create(web, text):
    r = web.client.post("/api/cases", content=text, headers=web.h())
    assert r.status_code == 201, r.text
    return r


def _with_result(case: dict, i: int) -> dict:
    day = date(2026, 1, 1) + timedelta(days=i)
    case = json.loads(json.dumps(case))
    case["results"].append({"test": "tsh", "value": 1.5, "unit": "mIU/L", "date": str(day)})
    return case


def test_etag_and_if_match_rules(web, example_text):
    created = _create(web, example_text)
    assert created.headers["etag"] == '"1"'
    got = web.client.get(CASE, headers=web.h())
    assert got.headers["etag"] == '"1"'
    case = got.json()
    # 428 without If-Match, 412 on a version that is not the latest, `*` refused
    assert web.client.put(CASE, json=_with_result(case, 0), headers=web.h()).status_code == 428
    bad = {**web.h(), "If-Match": "*"}
    assert web.client.put(CASE, json=_with_result(case, 0), headers=bad).status_code == 412
    r = web.client.put(CASE, json=_with_result(case, 0), headers=web.h(version=1))
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    weak = {**web.h(), "If-Match": 'W/"2"'}
    v2 = web.client.get(CASE, headers=web.h()).json()
    r = web.client.put(CASE, json=_with_result(v2, 1), headers=weak)
    assert r.status_code == 200 and r.json()["version"] == 3
    # a writer still holding version 1: refused, told the current version and what changed
    stale = web.client.put(CASE, json=_with_result(case, 5), headers=web.h(version=1))
    assert stale.status_code == 412 and stale.headers["etag"] == '"3"'
    body = stale.json()
    assert body["current_version"] == 3 and body["expected_version"] == 1
    assert {c["path"] for c in body["changes"]} == {"results[3]", "results[4]"}
    versions = web.client.get(CASE + "/versions", headers=web.h()).json()
    assert [v["version"] for v in versions] == [1, 2, 3]


def test_record_loss_needs_the_version(web, example_text):
    _create(web, example_text)
    r = web.client.post(CASE + "/loss", headers=web.h(), json={"date": "2026-11-20"})
    assert r.status_code == 428
    r = web.client.post(CASE + "/loss", headers=web.h(version=7), json={"date": "2026-11-20"})
    assert r.status_code == 412
    r = web.client.post(CASE + "/loss", headers=web.h(version=1), json={"date": "2026-11-20"})
    assert r.status_code == 201 and r.headers["etag"] == '"2"'


def test_edit_form_refuses_a_stale_save_and_shows_what_changed(web, example_text):
    _create(web, example_text)
    web.login()
    form = web.client.get("/cases/example-bleeding/edit")
    assert 'name="version" value="1"' in form.text
    # someone else saves version 2 (BMI) while the form is open
    data = yaml.safe_load(example_text)
    data["patient"]["bmi"] = 27.5
    other = json.loads(json.dumps(data, default=str))
    assert web.client.put(CASE, json=other, headers=web.h(version=1)).status_code == 200
    mine = example_text.replace("age_years: 33", "age_years: 34")
    r = web.client.post(
        "/cases/example-bleeding/edit",
        data={"csrf_token": csrf_of(form.text), "yaml": mine, "version": "1"},
    )
    assert r.status_code == 409
    assert "patient.bmi" in r.text and "27.5" in r.text and "age_years: 34" in r.text
    versions = web.client.get(CASE + "/versions", headers=web.h()).json()
    assert len(versions) == 2 and versions[-1]["case"]["patient"]["age_years"] == 33
    # without the hidden version nothing is saved either
    r = web.client.post(
        "/cases/example-bleeding/edit", data={"csrf_token": csrf_of(form.text), "yaml": mine}
    )
    assert (
        r.status_code == 422
        and len(web.client.get(CASE + "/versions", headers=web.h()).json()) == 2
    )


def test_fifty_concurrent_writers_lose_no_acknowledged_update(web, example_text):
    """Each writer reads the case and its ETag, adds its own result and saves with If-Match.
    Lost update = a writer told 200 whose result is not in the final case."""
    _create(web, example_text)
    writers = 50
    start = threading.Barrier(writers)
    acked: dict[int, int] = {}
    refused: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        try:
            got = web.client.get(CASE, headers=web.h())
            tag = got.headers["etag"]
            body = _with_result(got.json(), i)
            start.wait(timeout=60)
            r = web.client.put(CASE, json=body, headers={**web.h(), "If-Match": tag})
            with lock:
                if r.status_code == 200:
                    acked[i] = r.json()["version"]
                elif r.status_code == 412:
                    refused.append(i)
                else:
                    errors.append(f"{r.status_code} {r.text[:200]}")
        except Exception as exc:
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors
    assert len(acked) + len(refused) == writers and acked
    final = web.client.get(CASE, headers=web.h()).json()
    days = {r["date"] for r in final["results"] if r["test"] == "tsh"}
    lost = [i for i in acked if str(date(2026, 1, 1) + timedelta(days=i)) not in days]
    assert lost == []
    # one version per acknowledged write, numbered without gaps
    versions = web.client.get(CASE + "/versions", headers=web.h()).json()
    assert [v["version"] for v in versions] == list(range(1, len(acked) + 2))
    assert sorted(acked.values()) == list(range(2, len(acked) + 2))
