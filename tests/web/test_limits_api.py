"""Limits before parsing on the web faces (issue 10 §1): the body size is enforced before the
body is read in full (413, on Content-Length and on a chunked body), nesting bombs are 422
with the path on the API, the forms and the CDS Hooks endpoint, and the server stays up."""

from __future__ import annotations

import pytest
from tests.web.conftest import csrf_of

NEST = 25_000


def test_body_over_the_limit_is_413_by_content_length_and_by_stream(web):
    big = b"a: " + b"x" * 1_100_000
    r = web.client.post("/api/cases", content=big, headers=web.h())
    assert r.status_code == 413 and "RPLCARE_MAX_BODY_BYTES" in r.text

    def chunks():
        for _ in range(11):
            yield b"x" * 100_000

    r = web.client.post("/api/cases", content=chunks(), headers=web.h())
    assert r.status_code == 413
    assert web.client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        ("patient: " + "[" * NEST + "]" * NEST, "application/yaml"),
        ('{"patient": ' + "[" * NEST + "]" * NEST + "}", "application/json"),
    ],
    ids=["yaml", "json"],
)
def test_nesting_bomb_on_the_api_is_422_with_the_path(web, body, ctype):
    r = web.client.post("/api/cases", content=body, headers={**web.h(), "Content-Type": ctype})
    assert r.status_code == 422
    problem = r.json()["problems"][0]
    assert problem["path"].startswith("patient[0]") and "RPLCARE_MAX_DEPTH" in problem["message"]
    assert web.client.get("/healthz").status_code == 200


def test_nesting_bomb_in_the_new_case_and_import_forms(web):
    web.login()
    page = web.client.get("/cases/new")
    bomb = "patient: " + "[" * NEST + "]" * NEST
    r = web.client.post("/cases/new", data={"csrf_token": csrf_of(page.text), "yaml": bomb})
    assert r.status_code == 422 and "RPLCARE_MAX_DEPTH" in r.text
    r = web.client.post(
        "/cases/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("bomb.yaml", bomb.encode(), "application/yaml")},
    )
    assert r.status_code == 422 and "RPLCARE_MAX_DEPTH" in r.text


def test_deep_json_to_cds_hooks_is_422_not_500(web):
    body = '{"hook": "patient-view", "context": ' + "[" * NEST + "]" * NEST + "}"
    r = web.client.post(
        "/cds-services/rplcare-patient-view",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
