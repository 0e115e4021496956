"""Every route of the web app and the API, for every role: the status each gets.

Rule (issue 11 §9, docs/deployment.md "Roles"): a `viewer` reads; a `clinician` reads, writes
the record and decides (case entry and edit, import, overrides, outcomes and losses); an
`admin` reads and manages users, tokens and the clinic-wide operations (screening runs and
"open as case", erasing a record on request) but makes no clinical change: no case entry or
edit, no override, no outcome or loss. Without a login, pages send to /login (303) and the API
answers 401. The table is written by hand from that text, not from the code; a route missing
from it fails `test_every_route_is_in_the_table`.

Success codes: a page POST that saves redirects (303); the admin pages answer the users page
(200); a dry-run outcome answers its confirmation (200); POST /screening without a configured
root answers the form with the problem (422), and an unknown run is 404 (after the role check).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from rplcare.store import repository as repo

from .conftest import EXAMPLES, PASSWORDS, csrf_of

ROLES = ("anon", "viewer", "clinician", "admin")
LOGIN = {"viewer": "view", "clinician": "clin", "admin": "adm"}


@pytest.fixture
def database_url(tmp_path) -> str:  # SQLite only: the rules are the app's, not the backend's
    return f"sqlite:///{tmp_path / 'rplcare.db'}"


def _case_text(example: str, new_id: str) -> str:
    text = (EXAMPLES / f"{example}.yaml").read_text("utf-8")
    lines = [f"id: {new_id}" if ln.startswith("id:") else ln for ln in text.splitlines()]
    return "\n".join(lines) + "\n"


@dataclass
class Ctx:
    """What one role's run works on: its own cases and users, so runs do not interfere."""

    role: str
    client: TestClient
    csrf: str
    aps: str  # a case without a pregnancy
    preg: str  # a case with a current pregnancy and an hCG pair
    preg2: str  # another (the API records its loss)
    uid: int  # a user the admin pages act on
    token_id: int
    bearer: dict[str, str]

    def form(self, **fields: Any) -> dict[str, Any]:
        return {"csrf_token": self.csrf, **fields}


# (method, route as the router names it, request maker, expected {role: status})
Row = tuple[str, str, Callable[[Ctx], dict[str, Any]], dict[str, int]]

READ = {"anon": 303, "viewer": 200, "clinician": 200, "admin": 200}
WRITE = {"anon": 303, "viewer": 403, "clinician": 303, "admin": 403}
WRITE_PAGE = {"anon": 303, "viewer": 403, "clinician": 200, "admin": 403}
ADMIN = {"anon": 303, "viewer": 403, "clinician": 403, "admin": 200}
PUBLIC = {"anon": 200, "viewer": 200, "clinician": 200, "admin": 200}
API_READ = {"anon": 401, "viewer": 200, "clinician": 200, "admin": 200}
API_WRITE = {"anon": 401, "viewer": 403, "clinician": 201, "admin": 403}


def get(url: Callable[[Ctx], str]) -> Callable[[Ctx], dict[str, Any]]:
    return lambda c: {"url": url(c)}


def post(url: Callable[[Ctx], str], **fields: Any) -> Callable[[Ctx], dict[str, Any]]:
    def make(c: Ctx) -> dict[str, Any]:
        data = {k: (v(c) if callable(v) else v) for k, v in fields.items()}
        return {"url": url(c), "data": c.form(**data)}

    return make


def api(url: Callable[[Ctx], str], **kw: Any) -> Callable[[Ctx], dict[str, Any]]:
    def make(c: Ctx) -> dict[str, Any]:
        extra = {k: (v(c) if callable(v) else v) for k, v in kw.items()}
        headers = {**c.bearer, **extra.pop("headers", {})}
        return {"url": url(c), "headers": headers, **extra}

    return make


TABLE: list[Row] = [
    # --- public
    ("GET", "/login", get(lambda c: "/login"), PUBLIC),
    ("GET", "/docs", get(lambda c: "/docs"), PUBLIC),
    ("GET", "/openapi.json", get(lambda c: "/openapi.json"), PUBLIC),
    ("GET", "/healthz", get(lambda c: "/healthz"), PUBLIC),
    ("GET", "/forms/empty", get(lambda c: "/forms/empty"), PUBLIC),  # an empty fragment
    ("GET", "/", get(lambda c: "/"), dict.fromkeys(ROLES, 303)),
    (
        "GET",
        "/account/language/{lang}",
        get(lambda c: "/account/language/en"),
        dict.fromkeys(ROLES, 303),
    ),
    (
        "POST",
        "/login",
        post(lambda c: "/login", name="nobody", password="wrong-password-here"),
        dict.fromkeys(ROLES, 401),
    ),
    # --- reading (every role with a login)
    ("GET", "/cases", get(lambda c: "/cases"), READ),
    ("GET", "/cases/{case_id}", get(lambda c: f"/cases/{c.aps}"), READ),
    ("GET", "/cases/{case_id}/history", get(lambda c: f"/cases/{c.aps}/history"), READ),
    ("GET", "/cases/{case_id}/export.{fmt}", get(lambda c: f"/cases/{c.aps}/export.yaml"), READ),
    ("GET", "/cases/{case_id}/report.html", get(lambda c: f"/cases/{c.aps}/report.html"), READ),
    ("GET", "/cases/{case_id}/report.pdf", get(lambda c: f"/cases/{c.aps}/report.pdf"), READ),
    (
        "GET",
        "/cases/{case_id}/report.pdf/prepare",
        get(lambda c: f"/cases/{c.aps}/report.pdf/prepare"),
        READ,
    ),
    ("GET", "/cases/{case_id}/handout", get(lambda c: f"/cases/{c.aps}/handout"), READ),
    ("GET", "/cases/{case_id}/schedule.ics", get(lambda c: f"/cases/{c.preg}/schedule.ics"), READ),
    (
        "GET",
        "/cases/{case_id}/hcg-chart.{fmt}",
        get(lambda c: f"/cases/{c.preg}/hcg-chart.svg"),
        READ,
    ),
    ("GET", "/outcomes", get(lambda c: "/outcomes"), READ),
    ("GET", "/outcomes.csv", get(lambda c: "/outcomes.csv"), READ),
    ("GET", "/outcomes.json", get(lambda c: "/outcomes.json"), READ),
    (
        "GET",
        "/outcomes/measure-report.json",
        get(lambda c: "/outcomes/measure-report.json"),
        READ,
    ),
    ("GET", "/outcomes/funnel.{fmt}", get(lambda c: "/outcomes/funnel.svg"), READ),
    ("GET", "/outcomes/by-year.{fmt}", get(lambda c: "/outcomes/by-year.svg"), READ),
    ("GET", "/account/password", get(lambda c: "/account/password"), READ),
    # the form's fragments and live check change nothing: any logged-in user
    ("GET", "/forms/row/{section}", get(lambda c: "/forms/row/p?p_next=3"), READ),
    ("GET", "/forms/result/{prefix}", get(lambda c: "/forms/result/r0?r0_test=tsh"), READ),
    ("POST", "/forms/check", post(lambda c: "/forms/check", age_years="33"), READ),
    # own password: a wrong current password is refused for everyone logged in (422)
    (
        "POST",
        "/account/password",
        post(lambda c: "/account/password", current="not-my-password", new="x"),
        {"anon": 303, "viewer": 422, "clinician": 422, "admin": 422},
    ),
    # --- clinical writes and decisions: the clinician only
    ("GET", "/cases/new", get(lambda c: "/cases/new"), WRITE_PAGE),
    (
        "POST",
        "/cases/new",
        post(
            lambda c: "/cases/new", yaml=lambda c: _case_text("thyroid-two-losses", f"new-{c.role}")
        ),
        WRITE,
    ),
    ("GET", "/cases/import", get(lambda c: "/cases/import"), WRITE_PAGE),
    (
        "POST",
        "/cases/import",
        lambda c: {
            "url": "/cases/import",
            "data": c.form(),
            "files": {
                "file": (
                    "case.yaml",
                    _case_text("thyroid-two-losses", f"imp-{c.role}"),
                    "application/yaml",
                )
            },
        },
        WRITE,
    ),
    ("GET", "/cases/{case_id}/edit", get(lambda c: f"/cases/{c.aps}/edit"), WRITE_PAGE),
    (
        "POST",
        "/cases/{case_id}/edit",
        post(
            lambda c: f"/cases/{c.aps}/edit",
            version="1",
            yaml=lambda c: _case_text("aps-three-losses", c.aps),
        ),
        WRITE,
    ),
    # --- patient details and archiving (identity is not clinical data, but it is the record's:
    # the clinicians keep it; the admin manages accounts, not records)
    ("GET", "/cases/{case_id}/patient", get(lambda c: f"/cases/{c.aps}/patient"), WRITE_PAGE),
    (
        "POST",
        "/cases/{case_id}/patient",
        post(lambda c: f"/cases/{c.aps}/patient", name="Li Na", birth_date="1990-04-02"),
        WRITE,
    ),
    ("GET", "/cases/{case_id}/archive", get(lambda c: f"/cases/{c.aps}/archive"), WRITE_PAGE),
    (
        "POST",
        "/cases/{case_id}/archive",
        post(lambda c: f"/cases/{c.aps}/archive", archived="0"),
        WRITE,
    ),
    (
        "POST",
        "/cases/import/confirm",
        post(
            lambda c: "/cases/import/confirm",
            choice="new",
            new_id=lambda c: f"confirm-{c.role}",
            payload=lambda c: json.dumps(
                {"case": yaml.safe_load(_case_text("thyroid-two-losses", f"dup-{c.role}"))},
                default=str,
            ),
        ),
        WRITE,
    ),
    (
        "GET",
        "/api/cases/{case_id}/patient",  # none recorded for this case: 404 once allowed to read
        api(lambda c: f"/api/cases/{c.preg2}/patient"),
        {"anon": 401, "viewer": 404, "clinician": 404, "admin": 404},
    ),
    (
        "PUT",
        "/api/cases/{case_id}/patient",
        api(lambda c: f"/api/cases/{c.preg}/patient", json={"name": "Wang Mei"}),
        {"anon": 401, "viewer": 403, "clinician": 200, "admin": 403},
    ),
    (
        "POST",
        "/cases/{case_id}/overrides",
        post(
            lambda c: f"/cases/{c.aps}/overrides",
            recommendation_id="advice.mental_health",
            decision="accepted",
        ),
        WRITE,
    ),
    ("GET", "/cases/{case_id}/outcome", get(lambda c: f"/cases/{c.preg}/outcome"), WRITE_PAGE),
    (
        "POST",
        "/cases/{case_id}/outcome",  # not confirmed: the confirmation step, nothing saved
        post(
            lambda c: f"/cases/{c.preg}/outcome",
            version="1",
            outcome="miscarriage",
            date="2026-11-25",
        ),
        {"anon": 303, "viewer": 403, "clinician": 200, "admin": 403},
    ),
    (
        "POST",
        "/cases/{case_id}/loss",
        post(lambda c: f"/cases/{c.preg}/loss", version="1", date="2026-11-25"),
        WRITE,
    ),
    # --- users, tokens, clinic-wide operations: the admin only
    ("GET", "/admin/users", get(lambda c: "/admin/users"), ADMIN),
    (
        "POST",
        "/admin/users",
        post(
            lambda c: "/admin/users",
            name=lambda c: f"added-{c.role}",
            role="viewer",
            password="quiet harbour compass",
        ),
        ADMIN,
    ),
    ("POST", "/admin/users/{uid}/token", post(lambda c: f"/admin/users/{c.uid}/token"), ADMIN),
    (
        "POST",
        "/admin/tokens/{token_id}/revoke",
        post(lambda c: f"/admin/tokens/{c.token_id}/revoke"),
        ADMIN,
    ),
    (
        "POST",
        "/admin/users/{uid}/password",
        post(lambda c: f"/admin/users/{c.uid}/password", password="silver thistle ferry"),
        ADMIN,
    ),
    (
        "POST",
        "/admin/users/{uid}/role",
        post(lambda c: f"/admin/users/{c.uid}/role", role="clinician"),
        ADMIN,
    ),
    (
        "POST",
        "/admin/users/{uid}/disable",
        post(lambda c: f"/admin/users/{c.uid}/disable", disabled="1"),
        ADMIN,
    ),
    ("GET", "/screening", get(lambda c: "/screening"), ADMIN),
    (
        "POST",
        "/screening",
        post(lambda c: "/screening", path="export"),
        {"anon": 303, "viewer": 403, "clinician": 403, "admin": 422},
    ),
    (
        "POST",
        "/screening/upload",  # no screening root set up in this app: refused with the reason
        post(lambda c: "/screening/upload"),
        {"anon": 303, "viewer": 403, "clinician": 403, "admin": 422},
    ),
    (
        "GET",
        "/screening/{run_id}",
        get(lambda c: "/screening/no-such-run"),
        {"anon": 303, "viewer": 403, "clinician": 403, "admin": 404},
    ),
    (
        "POST",
        "/screening/{run_id}/open/{patient_id}",
        post(lambda c: "/screening/no-such-run/open/p1"),
        {"anon": 303, "viewer": 403, "clinician": 403, "admin": 404},
    ),
    # --- API (bearer tokens)
    ("GET", "/api/cases", api(lambda c: "/api/cases"), API_READ),
    ("GET", "/api/cases/{case_id}", api(lambda c: f"/api/cases/{c.aps}"), API_READ),
    (
        "GET",
        "/api/cases/{case_id}/versions",
        api(lambda c: f"/api/cases/{c.aps}/versions"),
        API_READ,
    ),
    (
        "GET",
        "/api/cases/{case_id}/assessment",
        api(lambda c: f"/api/cases/{c.aps}/assessment"),
        API_READ,
    ),
    ("GET", "/api/cases/{case_id}/history", api(lambda c: f"/api/cases/{c.aps}/history"), API_READ),
    (
        "GET",
        "/api/cases/{case_id}/overrides",
        api(lambda c: f"/api/cases/{c.aps}/overrides"),
        API_READ,
    ),
    ("GET", "/api/cases/{case_id}/audit", api(lambda c: f"/api/cases/{c.aps}/audit"), API_READ),
    (
        "GET",
        "/api/cases/{case_id}/record.json",
        api(lambda c: f"/api/cases/{c.aps}/record.json"),
        API_READ,
    ),
    (
        "GET",
        "/api/cases/{case_id}/record.fhir.json",
        api(lambda c: f"/api/cases/{c.aps}/record.fhir.json"),
        API_READ,
    ),
    (
        "GET",
        "/api/cases/{case_id}/report.html",
        api(lambda c: f"/api/cases/{c.aps}/report.html"),
        API_READ,
    ),
    (
        "GET",
        "/api/cases/{case_id}/report.pdf",
        api(lambda c: f"/api/cases/{c.aps}/report.pdf"),
        API_READ,
    ),
    ("GET", "/api/cases/{case_id}/handout", api(lambda c: f"/api/cases/{c.aps}/handout"), API_READ),
    (
        "GET",
        "/api/cases/{case_id}/schedule.ics",
        api(lambda c: f"/api/cases/{c.preg}/schedule.ics"),
        API_READ,
    ),
    (
        "POST",
        "/api/cases",
        api(
            lambda c: "/api/cases",
            content=lambda c: _case_text("thyroid-two-losses", f"api-{c.role}"),
        ),
        API_WRITE,
    ),
    (
        "POST",
        "/api/import",
        api(
            lambda c: "/api/import",
            content=lambda c: _case_text("thyroid-two-losses", f"apimp-{c.role}"),
        ),
        API_WRITE,
    ),
    (
        "PUT",
        "/api/cases/{case_id}",
        api(
            lambda c: f"/api/cases/{c.aps}",
            content=lambda c: _case_text("aps-three-losses", c.aps),
            headers={"If-Match": '"1"'},
        ),
        {"anon": 401, "viewer": 403, "clinician": 200, "admin": 403},
    ),
    (
        "POST",
        "/api/cases/{case_id}/overrides",
        api(
            lambda c: f"/api/cases/{c.aps}/overrides",
            json={"recommendation_id": "advice.mental_health", "decision": "accepted"},
        ),
        API_WRITE,
    ),
    (
        "POST",
        "/api/cases/{case_id}/loss",
        api(
            lambda c: f"/api/cases/{c.preg2}/loss",
            json={"date": "2026-11-25"},
            headers={"If-Match": '"1"'},
        ),
        API_WRITE,
    ),
    # erasing on a patient's request is data protection, not a clinical decision: the admin's
    (
        "POST",
        "/api/cases/{case_id}/erase",
        api(
            lambda c: f"/api/cases/{c.preg}/erase", json={"reason": "patient request, GDPR art. 17"}
        ),
        {"anon": 401, "viewer": 403, "clinician": 403, "admin": 200},
    ),
    # last: it ends the session the rows above use
    ("POST", "/logout", post(lambda c: "/logout"), dict.fromkeys(ROLES, 303)),
]


def _routes(app: Any) -> set[tuple[str, str]]:
    """Every route the web app answers, from the app itself (each included router's routes
    with its prefix): a router added later cannot escape the table. The CDS service, mounted
    only when configured, has its own tests."""
    from fastapi.routing import APIRoute

    out = {("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/healthz")}

    def walk(routes: Any, prefix: str) -> None:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:  # an included router (FastAPI keeps it whole)
                walk(inner.routes, prefix + (getattr(inner, "prefix", "") or ""))
            elif isinstance(r, APIRoute) and r.endpoint.__module__.startswith("rplcare.web."):
                path = r.path if r.path.startswith(prefix) else prefix + r.path
                for m in r.methods - {"HEAD"}:
                    out.add((m, path))

    walk(app.routes, "")
    return out


def test_every_route_is_in_the_table(web):
    """A new route needs its row here (and its role in docs/deployment.md)."""
    table = {(m, path) for m, path, _, _ in TABLE}
    assert _routes(web.app) - table == set()
    assert table - _routes(web.app) == set()
    assert all(set(expected) == set(ROLES) for _, _, _, expected in TABLE)


def _setup(web, role: str) -> Ctx:
    clinician = web.h("clinician")
    aps, preg, preg2 = f"aps-{role}", f"preg-{role}", f"preg2-{role}"
    cases = (
        ("aps-three-losses", aps),
        ("bleeding-early-pregnancy", preg),
        ("bleeding-early-pregnancy", preg2),
    )
    for example, cid in cases:
        r = web.client.post("/api/cases", content=_case_text(example, cid), headers=clinician)
        assert r.status_code == 201, r.text
    with web.app.state.store.write() as s:
        target = repo.create_user(s, f"target-{role}", "viewer", "copper lantern meadow 7")
        repo.issue_token(s, target)
        token_id = repo.list_tokens(s)[-1].id
        uid = target.id
    client = TestClient(web.app)
    if role != "anon":
        page = client.get("/login")
        name = LOGIN[role]
        client.post(
            "/login",
            data={"csrf_token": csrf_of(page.text), "name": name, "password": PASSWORDS[name]},
        )
    csrf = csrf_of(client.get("/login").text)
    bearer = {} if role == "anon" else {"Authorization": f"Bearer {web.tokens[role]}"}
    return Ctx(role, client, csrf, aps, preg, preg2, uid, token_id, bearer)


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(web, role):
    c = _setup(web, role)
    got = {}
    for method, path, make, expected in TABLE:
        kw = make(c)
        r = c.client.request(method, follow_redirects=False, **kw)
        got[(method, path)] = (r.status_code, expected[role])
    wrong = {k: v for k, v in got.items() if v[0] != v[1]}
    assert not wrong, f"{role}: (got, expected) {wrong}"
