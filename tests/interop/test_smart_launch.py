"""SMART App Launch (EHR launch) from a card's `smart` link (issue 15 §5).

Rule checked: `/smart/launch?iss&launch` reads `iss/.well-known/smart-configuration` and
redirects to its authorization endpoint with `launch`, `aud=iss`, a `state` and a PKCE S256
challenge; `/smart/callback` exchanges the code with the matching `code_verifier` (RFC 7636) and
answers with the plan assessed from the chart read with that token. The PKCE check value is the
RFC 7636 Appendix B example (verifier `dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk` ->
challenge `E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM`). The EHR is an httpx MockTransport.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient

from rplcare.case.loader import load_case
from rplcare.interop.cds import create_cds_app
from rplcare.interop.cds.smart import SCOPES, code_challenge
from rplcare.interop.fhir.write import case_to_bundle

ROOT = Path(__file__).resolve().parents[2]
ISS = "https://ehr.example.org/fhir"
DAY = date(2026, 11, 23)
ENV = {
    "RPLCARE_SMART_CLIENT_ID": "rplcare-app",
    "RPLCARE_SMART_REDIRECT_URI": "https://rplcare.example/smart/callback",
}


def test_pkce_s256_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def _ehr(seen: dict[str, Any]) -> httpx.MockTransport:
    case = load_case(ROOT / "examples" / "aps-three-losses.yaml", today=DAY)
    entries = case_to_bundle(case)["entry"]
    patient = entries[0]["resource"]

    def handler(req: httpx.Request) -> httpx.Response:
        path = req.url.path
        if path.endswith("/.well-known/smart-configuration"):
            return httpx.Response(
                200,
                json={
                    "authorization_endpoint": "https://ehr.example.org/auth/authorize",
                    "token_endpoint": "https://ehr.example.org/auth/token",
                    "code_challenge_methods_supported": ["S256"],
                },
            )
        if path == "/auth/token":
            form = parse_qs(req.content.decode())
            seen["token_form"] = form
            return httpx.Response(
                200,
                json={
                    "access_token": "tok-123",
                    "token_type": "Bearer",
                    "scope": SCOPES,
                    "patient": patient["id"],
                },
            )
        seen.setdefault("auth", set()).add(req.headers.get("Authorization"))
        if "/Patient/" in path:
            return httpx.Response(200, json=patient)
        rtype = path.rsplit("/", 1)[-1]  # a search: /fhir/Observation?patient=...
        hits = [e for e in entries if e["resource"]["resourceType"] == rtype]
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": "searchset", "entry": hits}
        )

    return httpx.MockTransport(handler)


def test_launch_redirects_with_pkce_and_callback_shows_the_plan() -> None:
    seen: dict[str, Any] = {}
    app = create_cds_app(
        environ=ENV,
        allow_unauthenticated=True,
        http_client=httpx.Client(transport=_ehr(seen)),
        clock=lambda: DAY,
    )
    client = TestClient(app)
    r = client.get("/smart/launch", params={"iss": ISS, "launch": "xyz"}, follow_redirects=False)
    assert r.status_code == 302
    loc = urlsplit(r.headers["location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == "https://ehr.example.org/auth/authorize"
    q = {k: v[0] for k, v in parse_qs(loc.query).items()}
    assert (q["response_type"], q["client_id"], q["launch"], q["aud"]) == (
        "code",
        "rplcare-app",
        "xyz",
        ISS,
    )
    assert q["redirect_uri"] == ENV["RPLCARE_SMART_REDIRECT_URI"]
    assert q["code_challenge_method"] == "S256" and q["scope"] == SCOPES
    r = client.get("/smart/callback", params={"code": "c1", "state": q["state"]})
    assert r.status_code == 200, r.text
    form = {k: v[0] for k, v in seen["token_form"].items()}
    assert (form["grant_type"], form["code"], form["client_id"]) == (
        "authorization_code",
        "c1",
        "rplcare-app",
    )
    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == q["code_challenge"]
    assert seen["auth"] == {"Bearer tok-123"}
    # the plan of this chart: recommendations.yaml treat.aspirin_heparin's title
    assert "<html" in r.text.lower() and "Low-dose aspirin + prophylactic-dose heparin" in r.text
    # the state is single-use
    again = client.get("/smart/callback", params={"code": "c1", "state": q["state"]})
    assert again.status_code == 400


def test_launch_refuses_a_plain_http_iss() -> None:
    app = create_cds_app(
        environ=ENV, allow_unauthenticated=True, http_client=httpx.Client(transport=_ehr({}))
    )
    r = TestClient(app).get(
        "/smart/launch",
        params={"iss": "http://ehr.example.org/fhir", "launch": "x"},
        follow_redirects=False,
    )
    assert r.status_code == 400


def test_without_registration_there_is_no_launch_endpoint() -> None:
    app = create_cds_app(environ={}, allow_unauthenticated=True)
    assert (
        TestClient(app).get("/smart/launch", params={"iss": ISS, "launch": "x"}).status_code == 404
    )
