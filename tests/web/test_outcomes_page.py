"""The Outcomes page: login required, tables, filters, CSV / FHIR downloads and the plots."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

pytest.importorskip("scipy")

from rplcare.outcomes import cohort


@pytest.fixture
def clinic(web):
    cohort.load(web.app.state.store, cohort.cohort(24, seed=7, today=date(2026, 11, 23)))
    web.login()
    return web


def test_outcomes_needs_a_login(web):
    r = web.client.get("/outcomes", follow_redirects=False)
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]
    assert web.client.get("/outcomes.csv", follow_redirects=False).status_code in (302, 303)


def test_page_shows_denominators_intervals_and_the_breakdown(clinic):
    page = clinic.client.get("/outcomes?by=clinician&claim=0.85")
    assert page.status_code == 200
    text = page.text
    assert "24 patients" in text
    assert "Live birth, next pregnancy" in text and "95 % CI" in text
    assert "Claim check." in text and "Claimed 85 %" in text
    for name in cohort.CLINICIANS:
        assert name in text
    assert 'href="/outcomes"' in text  # the nav link


def test_csv_download_has_one_row_per_group(clinic):
    r = clinic.client.get("/outcomes.csv?by=year")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["group"] == "all" and rows[0]["patients"] == "24"
    assert sum(int(x["patients"]) for x in rows[1:]) == 24
    assert all(x["group"].startswith("year=") for x in rows[1:])


def test_plots_come_as_png_and_svg(clinic):
    for url in ("/outcomes/funnel.png?by=clinician", "/outcomes/funnel.png?by=year"):
        r = clinic.client.get(url)
        assert r.headers["content-type"] == "image/png" and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    svg = clinic.client.get("/outcomes/by-year.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content


def test_bad_filters_are_all_named_at_once(clinic):
    r = clinic.client.get(
        "/outcomes.json?by=colour&since=yesterday&claim=85", headers={"Accept": "application/json"}
    )
    assert r.status_code == 422
    body = r.text
    for field in ("by", "since", "claim"):
        assert field in body
    assert clinic.client.get("/outcomes/funnel.png?by=cause").status_code == 422


def test_fhir_measure_report_is_valid_r4b(clinic):
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    b = clinic.client.get("/outcomes/measure-report.json").json()
    Bundle.model_validate(b)
    for e in b["entry"]:
        get_fhir_model_class(e["resource"]["resourceType"]).model_validate(e["resource"])
    report = b["entry"][1]["resource"]
    group = report["group"][0]
    pops = {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}
    assert pops["initial-population"] == 24
    strata = group["stratifier"][0]["stratum"]
    assert (
        sum(
            next(
                p["count"]
                for p in s["population"]
                if p["code"]["coding"][0]["code"] == "initial-population"
            )
            for s in strata
        )
        == 24
    )
