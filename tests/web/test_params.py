"""Rule: the plan, history and document routes of the pages and the API read `definition` and
`luteal_policy` through one dependency (web/params.py): the same defaults, and a value outside
the allowed ones is a 422 naming the parameter and listing the allowed values, every bad
parameter at once."""

from __future__ import annotations

import pytest

from rplcare.web import api, pages
from rplcare.web.params import DocumentOptions, document_options

# the allowed values, written from the shared spec (recommendations.md §1: definitions
# eshre2022 | asrm2012 | rcog2023) and the luteal policies the app offers
DEFINITIONS = ["eshre2022", "asrm2012", "rcog2023"]
POLICIES = ["guideline", "article"]

API_ROUTES = [
    "/api/cases/example-bleeding/assessment",
    "/api/cases/example-bleeding/history",
    "/api/cases/example-bleeding/report.html",
    "/api/cases/example-bleeding/handout",
    "/api/cases/example-bleeding/schedule.ics",
    "/api/cases/example-bleeding/report.pdf",
]
PAGE_ROUTES = [
    "/cases/example-bleeding",
    "/cases/example-bleeding/history",
    "/cases/example-bleeding/report.html",
    "/cases/example-bleeding/handout",
    "/cases/example-bleeding/schedule.ics",
    "/cases/example-bleeding/report.pdf",
    "/cases/example-bleeding/report.pdf/prepare",
    "/cases/example-bleeding/hcg-chart.svg",
]


def test_defaults_and_query():
    assert document_options() == DocumentOptions("eshre2022", "guideline")
    assert DocumentOptions("asrm2012", "article").query() == (
        "definition=asrm2012&luteal_policy=article"
    )


@pytest.mark.parametrize("url", API_ROUTES)
def test_api_refuses_bad_values_naming_the_param_and_the_allowed_ones(web, example_text, url):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    r = web.client.get(
        url, params={"definition": "who", "luteal_policy": "always"}, headers=web.h()
    )
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert [(p["path"], p["allowed"]) for p in problems] == [
        ("definition", DEFINITIONS),
        ("luteal_policy", POLICIES),
    ]
    assert "'who'" in problems[0]["message"] and "rcog2023" in problems[0]["message"]


@pytest.mark.parametrize("url", PAGE_ROUTES)
def test_pages_refuse_bad_values_naming_the_param_and_the_allowed_ones(web, example_text, url):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    r = web.client.get(url, params={"luteal_policy": "always"})
    assert r.status_code == 422
    assert "luteal_policy" in r.text and "guideline, article" in r.text
    ok = web.client.get(url, params={"definition": "asrm2012", "luteal_policy": "article"})
    assert ok.status_code == 200, ok.text[:300]


def test_no_route_declares_the_params_itself():
    """Every route takes these params from the dependency (one place to change), never as
    its own query parameters."""
    checked = 0
    for router in (api.router, pages.router):
        for route in router.routes:
            dependant = getattr(route, "dependant", None)
            if dependant is None:
                continue
            own = {p.name for p in dependant.query_params}
            assert not own & {"definition", "luteal_policy"}, route.path
            checked += any(d.call is document_options for d in dependant.dependencies)
    assert checked == len(API_ROUTES) + len(PAGE_ROUTES)
