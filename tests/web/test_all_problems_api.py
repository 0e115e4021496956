"""Rule (issue 9 §3, "ALL problems at once"): the API answers a case with a bad field AND a
whole-record contradiction with one 422 naming both paths, and saves nothing."""

from __future__ import annotations


def test_bad_field_and_record_contradiction_one_422_nothing_saved(web):
    bad = {
        "id": "bad-both",
        "patient": {"age_years": 32, "bmi": 5},
        "current_pregnancy": {"lmp": "2026-10-01", "scans": [{"date": "2026-09-01"}]},
    }
    r = web.client.post("/api/cases", json=bad, headers=web.h())
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert [p["path"] for p in problems] == ["current_pregnancy.scans[0].date", "patient.bmi"]
    assert all(set(p) == {"path", "message"} for p in problems)
    assert web.client.get("/api/cases/bad-both", headers=web.h()).status_code == 404
