"""SMART App Launch mounted in the web app `rplcare serve` (issue 15 §5).

Rules checked, with tests/interop/test_smart_launch.py (the CDS app) as the model:
- with `RPLCARE_SMART_CLIENT_ID` and `RPLCARE_SMART_REDIRECT_URI` set, the web app answers
  `/smart/launch` (302 to the EHR's authorization endpoint with `launch`, `aud=iss`, a state and
  a PKCE S256 challenge) and `/smart/callback` (the code exchanged with the matching verifier,
  RFC 7636 §4.2; the plan of the chart read with that token), without an rplcare login (the
  EHR authenticated the clinician); each plan shown is an audit row (ids only);
- the CDS cards of the web app carry a `smart` link to `<base>/smart/launch` (derived from the
  redirect URI when `RPLCARE_SMART_LAUNCH_URL` is not set), so the EHR opens the plan here;
- without the registration there is no `/smart` endpoint and no `smart` link.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm
from tests.interop.test_smart_launch import ISS, _ehr

from rplcare.store import repository as repo

BASE = "https://rplcare.example"
ENV = {
    "RPLCARE_SMART_CLIENT_ID": "rplcare-app",
    "RPLCARE_SMART_REDIRECT_URI": f"{BASE}/smart/callback",
}


def _app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], seen: dict) -> Any:
    from rplcare.web.app import create_app

    for k in (*ENV, "RPLCARE_SMART_LAUNCH_URL", "RPLCARE_SMART_FRAME_ANCESTORS"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return create_app(
        f"sqlite:///{tmp_path / 'w.db'}",
        secret_key="k",
        secure_cookies=False,
        smart_http_client=httpx.Client(transport=_ehr(seen)),
    )


def test_web_app_launch_redirects_with_pkce_and_callback_shows_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    app = _app(tmp_path, monkeypatch, ENV, seen)
    with TestClient(app) as client:  # no rplcare login
        r = client.get(
            "/smart/launch", params={"iss": ISS, "launch": "xyz"}, follow_redirects=False
        )
        assert r.status_code == 302
        loc = urlsplit(r.headers["location"])
        assert f"{loc.scheme}://{loc.netloc}{loc.path}" == "https://ehr.example.org/auth/authorize"
        q = {k: v[0] for k, v in parse_qs(loc.query).items()}
        assert (q["client_id"], q["launch"], q["aud"], q["redirect_uri"]) == (
            "rplcare-app",
            "xyz",
            ISS,
            f"{BASE}/smart/callback",
        )
        assert q["code_challenge_method"] == "S256"
        r = client.get("/smart/callback", params={"code": "c1", "state": q["state"]})
        assert r.status_code == 200, r.text
        verifier = seen["token_form"]["code_verifier"][0]
        digest = hashlib.sha256(verifier.encode()).digest()
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == q["code_challenge"]
        assert seen["auth"] == {"Bearer tok-123"}
        # the plan of this chart: recommendations.yaml treat.aspirin_heparin's title
        assert "Low-dose aspirin + prophylactic-dose heparin" in r.text
        assert r.headers["X-Frame-Options"] == "DENY"  # not framed unless configured
        again = client.get("/smart/callback", params={"code": "c1", "state": q["state"]})
        assert again.status_code == 400  # single-use state
    with app.state.store.read() as s:
        rows = [e for e in repo.audit_log(s) if (e.detail or {}).get("what") == "smart_plan"]
    assert len(rows) == 1
    assert rows[0].action == "viewed" and rows[0].detail["iss"] == ISS
    assert "token" not in json.dumps(rows[0].detail)  # the token is never stored


def test_web_app_smart_page_can_be_framed_by_the_configured_ehr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**ENV, "RPLCARE_SMART_FRAME_ANCESTORS": "https://ehr.example.org"}
    with TestClient(_app(tmp_path, monkeypatch, env, {})) as client:
        r = client.get("/smart/launch", params={"iss": ISS, "launch": "x"}, follow_redirects=False)
        other = client.get("/login")
    assert "frame-ancestors https://ehr.example.org" in r.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in r.headers
    assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]


def test_web_app_without_registration_has_no_smart_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(_app(tmp_path, monkeypatch, {}, {})) as client:
        r = client.get("/smart/launch", params={"iss": ISS, "launch": "x"})
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (ENV, {f"{BASE}/smart/launch"}),  # derived from the redirect URI
        (
            {**ENV, "RPLCARE_SMART_LAUNCH_URL": "https://other.example/smart/launch"},
            {"https://other.example/smart/launch"},
        ),
        ({}, set()),  # not registered: no smart link
    ],
)
def test_web_app_cds_cards_link_to_its_smart_launch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: set[str]
) -> None:
    from tests.conftest import EXAMPLES, TODAY

    from rplcare.case.loader import load_case
    from rplcare.interop.fhir.write import case_to_bundle

    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", alg="ES384", use="sig")
    iss = "https://ehr.example.org/"
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps([{"iss": iss, "jwks": {"keys": [jwk]}}]))
    monkeypatch.setenv("RPLCARE_CDS_CLIENTS", str(clients))
    app = _app(tmp_path, monkeypatch, env, {})
    case = load_case(EXAMPLES / "aps-three-losses.yaml", today=TODAY)
    entries = case_to_bundle(case)["entry"]
    patient = entries[0]["resource"]

    def searchset(*types: str) -> dict[str, Any]:
        hits = [e for e in entries if e["resource"]["resourceType"] in types]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(hits), "entry": hits}

    now = int(time.time())
    token = jwt.encode(
        {
            "iss": iss,
            "aud": "http://testserver/cds-services/rplcare-patient-view",
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        },
        key,
        algorithm="ES384",
        headers={"kid": "k1", "typ": "JWT"},
    )
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": patient["id"], "userId": "Practitioner/1"},
        "prefetch": {
            "patient": patient,
            "observations": searchset("Observation"),
            "conditions": searchset("Condition"),
            "medicationStatements": searchset("MedicationStatement"),
            "medicationRequests": None,
        },
    }
    with TestClient(app) as client:
        r = client.post(
            "/cds-services/rplcare-patient-view",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    assert cards
    smart = {lk["url"] for c in cards for lk in c.get("links") or [] if lk["type"] == "smart"}
    assert smart == expected


def test_smart_plan_page_names_what_of_the_chart_was_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the chart of test_smart_launch plus one TSH the case model refuses (a negative value)
    seen: dict[str, Any] = {}
    inner = _ehr(seen).handler

    def handler(req: httpx.Request) -> httpx.Response:
        resp = inner(req)
        if req.url.path.endswith("/Observation"):
            page = resp.json()
            page["entry"].append(
                {
                    "resource": {
                        "resourceType": "Observation",
                        "id": "neg-tsh",
                        "status": "final",
                        "subject": {"reference": seen_patient(page)},
                        "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]},
                        "effectiveDateTime": "2026-10-01",
                        "valueQuantity": {"value": -3, "unit": "mIU/L"},
                    }
                }
            )
            return httpx.Response(200, json=page)
        return resp

    def seen_patient(page: dict[str, Any]) -> str:
        return next(
            e["resource"]["subject"]["reference"]
            for e in page["entry"]
            if "subject" in e["resource"]
        )

    from rplcare.web.app import create_app

    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    app = create_app(
        f"sqlite:///{tmp_path / 'w.db'}",
        secret_key="k",
        secure_cookies=False,
        smart_http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    with TestClient(app) as client:
        r = client.get(
            "/smart/launch", params={"iss": ISS, "launch": "xyz"}, follow_redirects=False
        )
        state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
        r = client.get("/smart/callback", params={"code": "c1", "state": state})
    assert r.status_code == 200, r.text
    assert "left out of the chart: Observation/neg-tsh" in r.text
    assert "Low-dose aspirin + prophylactic-dose heparin" in r.text  # the rest is assessed
