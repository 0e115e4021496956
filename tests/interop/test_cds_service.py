"""CDS Hooks service: cards from prefetch, FHIR-server fallback, feedback, auth, CORS, fuzzing.

Nothing touches the network: the FHIR server is an httpx MockTransport, JWTs are signed with a
key made here, and the schemathesis run drives the ASGI app in-process.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm

from rplcare.case.loader import load_case
from rplcare.interop.cds import (
    OVERRIDE_REASONS,
    PREFETCH,
    SERVICE_ORDER_SIGN,
    SERVICE_PATIENT_VIEW,
    InMemoryFeedbackStore,
    build_cds_router,
    create_cds_app,
)
from rplcare.interop.cds.auth import CdsClients, CdsJwtVerifier
from rplcare.interop.cds.cards import NOTICE_SYSTEM
from rplcare.interop.cds.models import SUMMARY_MAX_CHARS, Card, CdsResponse
from rplcare.interop.fhir import OVERRIDE_REASON_SYSTEM, RECOMMENDATION_SYSTEM, case_to_bundle

ROOT = Path(__file__).resolve().parents[2]
APS = ROOT / "examples" / "aps-three-losses.yaml"
BLEEDING = ROOT / "examples" / "bleeding-early-pregnancy.yaml"
CARRIER = ROOT / "examples" / "carrier-frozen-transfer.yaml"
FHIR = "https://ehr.example.org/fhir"


def chart(path: Path) -> tuple[str, dict[str, Any], date]:
    """Patient id, a complete prefetch (searchset Bundles per template) and the case date."""
    case = load_case(path, today=date(2026, 11, 23))
    entries = case_to_bundle(case)["entry"]
    patient = entries[0]["resource"]

    def searchset(*types: str) -> dict[str, Any]:
        hits = [e for e in entries if e["resource"]["resourceType"] in types]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(hits), "entry": hits}

    prefetch = {
        "patient": patient,
        "observations": searchset("Observation"),
        "conditions": searchset("Condition"),
        "medicationStatements": searchset("MedicationStatement"),
        "medicationRequests": None,
    }
    return patient["id"], prefetch, case.day


def request(
    hook: str, patient_id: str, prefetch: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": patient_id, "userId": "Practitioner/1"},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    for key, value in extra.items():
        if key == "context":
            body["context"].update(value)
        else:
            body[key] = value
    return body


def client_for(day: date, **kwargs: Any) -> TestClient:
    kwargs.setdefault("allow_unauthenticated", True)
    return TestClient(create_cds_app(clock=lambda: day, environ={}, **kwargs))


def cards_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    data = response.json()
    CdsResponse.model_validate(data)
    for card in data["cards"]:
        Card.model_validate(card)
        assert len(card["summary"]) <= SUMMARY_MAX_CHARS
        assert card["source"]["label"]
        assert card["source"]["topic"]["system"] in (RECOMMENDATION_SYSTEM, NOTICE_SYSTEM)
    return data["cards"]


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------


def test_discovery_lists_both_services_with_prefetch() -> None:
    data = client_for(date(2026, 11, 22)).get("/cds-services").json()
    services = {s["id"]: s for s in data["services"]}
    assert services[SERVICE_PATIENT_VIEW]["hook"] == "patient-view"
    assert services[SERVICE_ORDER_SIGN]["hook"] == "order-sign"
    assert services[SERVICE_PATIENT_VIEW]["prefetch"] == PREFETCH
    assert all(s["description"] for s in data["services"])


# --------------------------------------------------------------------------------------------
# patient-view
# --------------------------------------------------------------------------------------------


def test_patient_view_aps_cause_and_workup_gaps() -> None:
    pid, prefetch, day = chart(APS)
    cards = cards_of(
        client_for(day).post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", pid, prefetch)
        )
    )
    summaries = [c["summary"] for c in cards]
    cause = next(c for c in cards if c["summary"].startswith("Possible cause: Antiphospholipid"))
    assert cause["indicator"] == "warning"
    assert cause["source"]["topic"]["code"] == "treat.aspirin_heparin"
    assert "aspirin" in cause["detail"].lower()
    gaps = {c["source"]["topic"]["code"] for c in cards if c["summary"].startswith("Workup gap")}
    assert gaps == {"test.full_blood_count", "test.poc_genetics"}
    assert not any("Luteal" in s for s in summaries)
    for card in cards:
        assert card["overrideReasons"][0]["system"] == OVERRIDE_REASON_SYSTEM
        assert all(r["display"] for r in card["overrideReasons"])
        assert all(link["type"] == "absolute" for link in card.get("links", []))


def test_patient_view_bleeding_luteal_schedule() -> None:
    pid, prefetch, day = chart(BLEEDING)
    cards = cards_of(
        client_for(day).post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", pid, prefetch)
        )
    )
    luteal = next(c for c in cards if c["summary"].startswith("Luteal support"))
    assert "400 mg twice daily" in luteal["summary"]
    assert "16+0 (2027-01-28)" in luteal["summary"]
    assert luteal["selectionBehavior"] == "at-most-one"
    action = luteal["suggestions"][0]["actions"][0]
    assert action["type"] == "create"
    repeat = action["resource"]["dosageInstruction"][0]["timing"]["repeat"]
    assert repeat["boundsPeriod"]["end"] == "2027-01-28"
    gaps = {c["source"]["topic"]["code"] for c in cards if c["summary"].startswith("Workup gap")}
    assert {
        "test.antiphospholipid_antibodies",
        "test.thyroid_function",
        "test.uterine_anatomy",
    } <= gaps


def test_card_uuids_are_stable_per_hook_instance() -> None:
    pid, prefetch, day = chart(APS)
    client = client_for(day)
    body = request("patient-view", pid, prefetch)
    first = [
        c["uuid"] for c in cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body))
    ]
    again = [
        c["uuid"] for c in cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body))
    ]
    assert first == again and len(set(first)) == len(first)


# --------------------------------------------------------------------------------------------
# order-sign
# --------------------------------------------------------------------------------------------


def _orders(pid: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "subject": {"reference": f"Patient/{pid}"},
                    "status": "draft",
                    "intent": "order",
                    **r,
                }
            }
            for r in resources
        ],
    }


def test_order_sign_critical_for_lit_and_ivig_coded() -> None:
    # rule: a critical card with a delete suggestion needs a code-level match (issue 15 §3)
    pid, prefetch, day = chart(APS)
    orders = _orders(
        pid,
        {
            "resourceType": "ServiceRequest",
            "id": "lit",
            "code": {
                "coding": [
                    {
                        "system": "https://rplcare.org/fhir/CodeSystem/medication",
                        "code": "lymphocyte_immunotherapy",
                    }
                ],
                "text": "Paternal LYMPHOCYTE IMMUNISATION therapy",
            },
        },
        {
            "resourceType": "MedicationRequest",
            "id": "ivig",
            "medicationCodeableConcept": {
                "coding": [
                    {"system": "http://www.whocc.no/atc", "code": "J06BA02", "display": "IVIg"}
                ]
            },
        },
        {"resourceType": "ServiceRequest", "id": "tsh", "code": {"text": "TSH"}},
    )
    body = request("order-sign", pid, prefetch, context={"draftOrders": orders})
    cards = cards_of(client_for(day).post(f"/cds-services/{SERVICE_ORDER_SIGN}", json=body))
    by_topic = {c["source"]["topic"]["code"]: c for c in cards}
    assert set(by_topic) == {"treat.lymphocyte_immunotherapy", "treat.ivig"}
    for rid, card in by_topic.items():
        assert card["indicator"] == "critical"
        assert card["overrideReasons"] == [r.to_wire() for r in OVERRIDE_REASONS]
        delete = card["suggestions"][0]["actions"][0]
        assert delete["type"] == "delete"
        assert delete["resourceId"] == (
            "ServiceRequest/lit" if "lymph" in rid else "MedicationRequest/ivig"
        )


def test_order_sign_text_only_match_warns_without_a_delete_suggestion() -> None:
    pid, prefetch, day = chart(APS)
    orders = _orders(
        pid,
        {
            "resourceType": "ServiceRequest",
            "id": "lit",
            "code": {"text": "Paternal LYMPHOCYTE IMMUNISATION therapy"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "ivig",
            "medicationCodeableConcept": {
                "coding": [
                    {"system": "http://example.org/drugs", "code": "x", "display": "IVIg 0.4 g/kg"}
                ]
            },
        },
    )
    body = request("order-sign", pid, prefetch, context={"draftOrders": orders})
    cards = cards_of(client_for(day).post(f"/cds-services/{SERVICE_ORDER_SIGN}", json=body))
    by_topic = {c["source"]["topic"]["code"]: c for c in cards}
    assert set(by_topic) == {"treat.lymphocyte_immunotherapy", "treat.ivig"}
    for card in by_topic.values():
        assert card["indicator"] == "warning"
        assert not card.get("suggestions")
        assert "words" in card["detail"]


def test_order_sign_matches_codes_and_bed_rest() -> None:
    pid, prefetch, day = chart(BLEEDING)
    orders = _orders(
        pid,
        {
            "resourceType": "ServiceRequest",
            "id": "hla",
            "code": {
                "coding": [
                    {"system": "https://rplcare.org/fhir/CodeSystem/test", "code": "hla_typing"}
                ]
            },
        },
        {"resourceType": "ServiceRequest", "id": "rest", "code": {"text": "Strict bed rest"}},
    )
    body = request("order-sign", pid, prefetch, context={"draftOrders": orders})
    cards = cards_of(client_for(day).post(f"/cds-services/{SERVICE_ORDER_SIGN}", json=body))
    indicator = {c["source"]["topic"]["code"]: c["indicator"] for c in cards}
    assert indicator == {"test.hla_typing": "critical", "advice.no_bed_rest": "warning"}


def test_order_sign_lit_flagged_even_without_rpl_the_order_is_a_record() -> None:
    # the gestational carrier has no losses: the assessment lists no LIT, but an order for it
    # is a record of it, and the knowledge base advises against it for everyone
    pid, prefetch, day = chart(CARRIER)
    orders = _orders(
        pid,
        {
            "resourceType": "ServiceRequest",
            "id": "lit",
            "code": {"text": "Lymphocyte immunotherapy (partner cells)"},
        },
    )
    body = request("order-sign", pid, prefetch, context={"draftOrders": orders})
    (card,) = cards_of(client_for(day).post(f"/cds-services/{SERVICE_ORDER_SIGN}", json=body))
    assert card["indicator"] == "warning"
    assert card["source"]["topic"]["code"] == "treat.lymphocyte_immunotherapy"


# issue 15 §3: orders that look like something advised against and are not. Each draft order
# is (resource, the recommendation it must NOT be read as); none of them may raise a card.
LOOK_ALIKE_ORDERS = [
    (
        {
            "resourceType": "MedicationRequest",
            "id": "antid",
            "medicationCodeableConcept": {"text": "Anti-D immune globulin 1500 IU IM"},
        },
        "treat.ivig",
    ),
    (
        {
            "resourceType": "MedicationRequest",
            "id": "antid-coded",
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.whocc.no/atc", "code": "J06BB01"}],
                "text": "Rho(D) immune globulin",
            },
        },
        "treat.ivig",
    ),
    (
        {
            "resourceType": "MedicationRequest",
            "id": "hbig",
            "medicationCodeableConcept": {"text": "Hepatitis B immune globulin (human)"},
        },
        "treat.ivig",
    ),
    (
        {
            "resourceType": "MedicationRequest",
            "id": "vzig",
            "medicationCodeableConcept": {"text": "Varicella zoster immune globulin"},
        },
        "treat.ivig",
    ),
    (
        {"resourceType": "ServiceRequest", "id": "b5801", "code": {"text": "HLA-B*58:01 genotype"}},
        "test.hla_typing",
    ),
    (
        {"resourceType": "ServiceRequest", "id": "b27", "code": {"text": "HLA-B27 antigen"}},
        "test.hla_typing",
    ),
    (
        {
            "resourceType": "ServiceRequest",
            "id": "nkt",
            "code": {"text": "NK/T-cell lymphoma panel (flow cytometry)"},
        },
        "test.nk_cells",
    ),
]


@pytest.mark.parametrize(("order", "not_rec"), LOOK_ALIKE_ORDERS, ids=lambda x: str(x)[:40])
def test_order_sign_look_alikes_raise_no_card(order: dict[str, Any], not_rec: str) -> None:
    pid, prefetch, day = chart(APS)
    body = request("order-sign", pid, prefetch, context={"draftOrders": _orders(pid, order)})
    cards = cards_of(client_for(day).post(f"/cds-services/{SERVICE_ORDER_SIGN}", json=body))
    assert not_rec not in {c["source"]["topic"]["code"] for c in cards}
    assert cards == []


def _progesterone(pid: str, **timing: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "prog",
        "authoredOn": "2026-11-20",
        "medicationCodeableConcept": {"text": "Progesterone 400 mg vaginal pessary"},
        "dosageInstruction": [{"text": "400 mg twice daily", "timing": {"repeat": timing}}],
    }


@pytest.mark.parametrize("timing", ["period", "duration"])
def test_order_sign_progesterone_duration_differs_from_plan(timing: str) -> None:
    pid, prefetch, day = chart(BLEEDING)
    stop = date(2027, 1, 28)  # 16+0 by the plan
    early = stop - timedelta(weeks=4)  # 12+0
    repeat = (
        {"boundsPeriod": {"start": "2026-11-20", "end": early.isoformat()}}
        if timing == "period"
        else {"boundsDuration": {"value": (early - day).days, "unit": "days", "code": "d"}}
    )
    body = request(
        "order-sign",
        pid,
        prefetch,
        context={"draftOrders": _orders(pid, _progesterone(pid, **repeat))},
    )
    cards = cards_of(client_for(day).post(f"/cds-services/{SERVICE_ORDER_SIGN}", json=body))
    assert len(cards) == 1
    card = cards[0]
    assert card["indicator"] == "info"
    assert "12+0" in card["summary"] and "16+0" in card["summary"]
    assert card["selectionBehavior"] == "at-most-one"
    action = card["suggestions"][0]["actions"][0]
    assert action["type"] == "update"
    fixed = action["resource"]
    assert fixed["id"] == "prog"
    rep = fixed["dosageInstruction"][0]["timing"]["repeat"]
    assert rep["boundsPeriod"]["end"] == stop.isoformat()
    assert "boundsDuration" not in rep


def test_order_sign_progesterone_matching_plan_is_silent() -> None:
    pid, prefetch, day = chart(BLEEDING)
    order = _progesterone(pid, boundsPeriod={"start": "2026-11-20", "end": "2027-01-28"})
    body = request("order-sign", pid, prefetch, context={"draftOrders": _orders(pid, order)})
    assert cards_of(client_for(day).post(f"/cds-services/{SERVICE_ORDER_SIGN}", json=body)) == []


# --------------------------------------------------------------------------------------------
# Missing prefetch: FHIR server, or nothing
# --------------------------------------------------------------------------------------------


def fhir_server(
    prefetch: dict[str, Any], seen: list[httpx.Request], fail: int | None = None
) -> httpx.Client:
    by_type = {
        "Patient": prefetch["patient"],
        "Observation": prefetch["observations"],
        "Condition": prefetch["conditions"],
        "MedicationStatement": prefetch["medicationStatements"],
        "MedicationRequest": {"resourceType": "Bundle", "type": "searchset", "entry": []},
    }

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if fail:
            return httpx.Response(fail, json={"resourceType": "OperationOutcome"})
        rtype = req.url.path.rsplit("/fhir/", 1)[1].split("/")[0]
        return httpx.Response(200, json=by_type[rtype])

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_missing_prefetch_is_fetched_from_fhir_server_with_bearer() -> None:
    pid, prefetch, day = chart(APS)
    seen: list[httpx.Request] = []
    client = client_for(day, http_client=fhir_server(prefetch, seen))
    partial = {"patient": prefetch["patient"]}
    body = request(
        "patient-view",
        pid,
        partial,
        fhirServer=FHIR,
        fhirAuthorization={
            "access_token": "secret-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "rplcare",
        },
    )
    fetched = cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body))
    full = cards_of(
        client.post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", pid, prefetch)
        )
    )
    assert [c["summary"] for c in fetched] == [c["summary"] for c in full]
    assert len(seen) == 4
    assert all(r.headers["authorization"] == "Bearer secret-token" for r in seen)
    assert str(seen[0].url) == (
        f"{FHIR}/Observation?patient={pid}"
        "&category=laboratory,vital-signs,social-history,survey,imaging,exam&_count=100"
    )


def test_fhir_server_error_gives_empty_cards(caplog: pytest.LogCaptureFixture) -> None:
    pid, prefetch, day = chart(APS)
    client = client_for(day, http_client=fhir_server(prefetch, [], fail=500))
    body = request("patient-view", pid, None, fhirServer=FHIR)
    with caplog.at_level("INFO"):
        assert cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body)) == []
    assert "answered 500" in caplog.text


def test_no_prefetch_and_no_server_gives_200_empty_cards(caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(date(2026, 11, 22))
    with caplog.at_level("INFO"):
        resp = client.post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", "p1")
        )
    assert resp.status_code == 200 and resp.json() == {"cards": []}
    assert "no fhirServer" in caplog.text


def test_unreadable_chart_gives_empty_cards_not_500() -> None:
    pid, prefetch, day = chart(APS)
    obs = next(
        e["resource"]
        for e in prefetch["observations"]["entry"]
        if "3181-5" in json.dumps(e["resource"]["code"])
    )
    obs["valueQuantity"] = {"value": -5, "unit": "GPL"}  # impossible value: left out, said so
    client = client_for(day)
    cards = cards_of(
        client.post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", pid, prefetch)
        )
    )
    assert cards[-1]["source"]["topic"]["code"] == "chart-read-in-part"
    assert f"Observation/{obs['id']}" in cards[-1]["detail"]
    # a chart that cannot be a case at all (the patient is not in it) gives no cards
    wrong_patient = request("patient-view", "someone-else", prefetch)
    assert cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=wrong_patient)) == []
    too_old = copy.deepcopy(prefetch)
    too_old["patient"]["birthDate"] = "1930-01-01"
    body = request("patient-view", pid, too_old)
    assert cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body)) == []


def test_plain_http_fhir_server_is_refused() -> None:
    pid, prefetch, day = chart(APS)
    seen: list[httpx.Request] = []
    client = client_for(day, http_client=fhir_server(prefetch, seen))
    body = request("patient-view", pid, None, fhirServer="http://ehr.example.org/fhir")
    assert cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body)) == []
    assert seen == []


def test_wrong_hook_is_a_client_error() -> None:
    resp = client_for(date(2026, 11, 22)).post(
        f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("order-sign", "p1")
    )
    assert resp.status_code == 400


# --------------------------------------------------------------------------------------------
# Feedback
# --------------------------------------------------------------------------------------------


def test_feedback_is_stored_idempotently_with_its_recommendation() -> None:
    store = InMemoryFeedbackStore()
    pid, prefetch, day = chart(APS)
    client = client_for(day, feedback_store=store)
    cards = cards_of(
        client.post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", pid, prefetch)
        )
    )
    gap = next(c for c in cards if c["summary"].startswith("Workup gap"))
    overridden = {
        "card": gap["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-22T10:00:00Z",
        "overrideReason": {
            "reason": OVERRIDE_REASONS[1].to_wire(),
            "userComment": "done at the other hospital",
        },
    }
    accepted = {
        "card": cards[0]["uuid"],
        "outcome": "accepted",
        "outcomeTimestamp": "2026-11-22T10:01:00Z",
        "acceptedSuggestions": [{"id": "s1"}],
    }
    url = f"/cds-services/{SERVICE_PATIENT_VIEW}/feedback"
    for _ in range(2):  # the spec allows the same report twice
        assert client.post(url, json={"feedback": [overridden, accepted]}).status_code == 200
    rows = store.list(SERVICE_PATIENT_VIEW)
    assert len(rows) == 2
    assert rows[0]["overrideReason"]["reason"]["code"] == "already-done"
    assert rows[0]["recommendation"] == gap["source"]["topic"]["code"]
    assert rows[0]["patient"] == pid
    assert client.post("/cds-services/nope/feedback", json={"feedback": []}).status_code == 404
    bad = {
        "feedback": [
            {"card": "x", "outcome": "accepted", "outcomeTimestamp": "2026-11-22T10:01:00Z"}
        ]
    }
    assert client.post(url, json=bad).status_code == 422


# --------------------------------------------------------------------------------------------
# Authentication and CORS
# --------------------------------------------------------------------------------------------

ISS = "https://ehr.example.org/"


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def _verifier(key: ec.EllipticCurvePrivateKey) -> CdsJwtVerifier:
    public = ECAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "k1", "use": "sig"}
    return CdsJwtVerifier(CdsClients.from_list([{"iss": ISS, "jwks": {"keys": [public]}}]))


def _token(key: ec.EllipticCurvePrivateKey, aud: str) -> str:
    now = int(time.time())
    return jwt.encode(
        {"iss": ISS, "aud": aud, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())},
        key,
        algorithm="ES384",
        headers={"kid": "k1", "typ": "JWT"},
    )


def test_jwt_required_when_verifier_configured(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pid, prefetch, day = chart(APS)
    client = client_for(day, verifier=_verifier(ec_key), allow_unauthenticated=False)
    url = f"/cds-services/{SERVICE_PATIENT_VIEW}"
    body = request("patient-view", pid, prefetch)
    assert client.get("/cds-services").status_code == 200  # discovery is public
    assert client.post(url, json=body).status_code == 401
    wrong_aud = _token(ec_key, f"http://testserver/cds-services/{SERVICE_ORDER_SIGN}")
    assert (
        client.post(url, json=body, headers={"Authorization": f"Bearer {wrong_aud}"}).status_code
        == 401
    )
    good = _token(ec_key, f"http://testserver{url}")
    assert cards_of(client.post(url, json=body, headers={"Authorization": f"Bearer {good}"}))
    fb = f"{url}/feedback"
    assert client.post(fb, json={"feedback": []}).status_code == 401
    token = _token(ec_key, f"http://testserver{fb}")
    assert (
        client.post(
            fb, json={"feedback": []}, headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )


def test_no_clients_configured_refuses_service_calls() -> None:
    client = TestClient(create_cds_app(environ={}))
    assert client.get("/cds-services").status_code == 200
    resp = client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", "p"))
    assert resp.status_code == 401
    demo = TestClient(create_cds_app(environ={"RPLCARE_CDS_ALLOW_UNAUTHENTICATED": "1"}))
    resp = demo.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", "p"))
    assert resp.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/cds-services",
        f"/cds-services/{SERVICE_PATIENT_VIEW}",
        f"/cds-services/{SERVICE_ORDER_SIGN}/feedback",
    ],
)
def test_cors_preflight_allows_authorization(path: str) -> None:
    client = TestClient(create_cds_app(environ={}))
    resp = client.options(
        path,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] in ("*", "https://sandbox.cds-hooks.org")
    assert "authorization" in resp.headers["access-control-allow-headers"].lower()
    assert "POST" in resp.headers["access-control-allow-methods"]


def test_router_mounts_in_a_host_app() -> None:
    app = FastAPI()
    app.include_router(build_cds_router())
    assert TestClient(app).get("/cds-services").status_code == 200


# --------------------------------------------------------------------------------------------
# Fuzzing: no input gives a 5xx
# --------------------------------------------------------------------------------------------

_schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_cds_app(environ={"RPLCARE_CDS_ALLOW_UNAUTHENTICATED": "1"})
)


@_schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_server_error(case: Any) -> None:
    response = case.call()
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_FIELDS = [
    "resourceType",
    "code",
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "effectiveDateTime",
    "status",
    "subject",
    "extension",
    "component",
    "coding",
    "system",
    "value",
    "unit",
    "onsetDateTime",
    "medicationCodeableConcept",
    "entry",
    "resource",
    "dosageInstruction",
    "clinicalStatus",
    "birthDate",
    "id",
]
_resource = st.fixed_dictionaries(
    {
        "resourceType": st.sampled_from(
            [
                "Observation",
                "Condition",
                "MedicationStatement",
                "MedicationRequest",
                "Patient",
                "Bundle",
                "Encounter",
            ]
        )
    },
    optional={f: _json for f in _FIELDS if f != "resourceType"},
)


@given(data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_prefetch_and_orders_never_fail(data: st.DataObject) -> None:
    pid, prefetch, _day = _FUZZ_CHART
    mutated = json.loads(json.dumps(prefetch))
    key = data.draw(st.sampled_from(list(PREFETCH)))
    extra = data.draw(st.lists(_resource, max_size=3))
    target = mutated.get(key)
    if isinstance(target, dict) and target.get("resourceType") == "Bundle":
        target["entry"] += [{"resource": r} for r in extra]
        for entry in target["entry"][:2]:
            field = data.draw(st.sampled_from(_FIELDS))
            entry["resource"][field] = data.draw(_json)
    else:
        mutated[key] = data.draw(st.one_of(st.none(), _resource, _json))
    orders = {
        "resourceType": "Bundle",
        "entry": [{"resource": r} for r in data.draw(st.lists(_resource, max_size=3))],
    }
    service, hook = data.draw(
        st.sampled_from(
            [(SERVICE_PATIENT_VIEW, "patient-view"), (SERVICE_ORDER_SIGN, "order-sign")]
        )
    )
    body = request(hook, pid, mutated, context={"draftOrders": orders})
    resp = _FUZZ_CLIENT.post(f"/cds-services/{service}", json=body)
    assert resp.status_code == 200
    CdsResponse.model_validate(resp.json())


_FUZZ_CHART = chart(BLEEDING)
_FUZZ_CLIENT = client_for(_FUZZ_CHART[2])


# --------------------------------------------------------------------------------------------
# Real charts and real servers (issue 15 §2, §5)
# --------------------------------------------------------------------------------------------


def test_one_unreadable_result_leaves_the_other_cards_and_one_info_card() -> None:
    pid, prefetch, day = chart(APS)
    full = cards_of(
        client_for(day).post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", pid, prefetch)
        )
    )
    bad = copy.deepcopy(prefetch)
    bad["observations"]["entry"].append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": "neg-tsh",
                "status": "final",
                "subject": {"reference": f"Patient/{pid}"},
                "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]},
                "effectiveDateTime": "2026-10-01",
                "valueQuantity": {"value": -3, "unit": "mIU/L"},
            }
        }
    )
    cards = cards_of(
        client_for(day).post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", pid, bad)
        )
    )
    assert [c["summary"] for c in cards[:-1]] == [c["summary"] for c in full]
    info = cards[-1]
    assert info["indicator"] == "info"
    assert info["source"]["topic"]["system"] == NOTICE_SYSTEM
    assert "Observation/neg-tsh" in info["detail"]


def test_page_walk_bound_is_said_on_a_card_and_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pid, prefetch, day = chart(APS)
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        page = dict(prefetch["observations"])
        page["link"] = [{"relation": "next", "url": f"{FHIR}/Observation?page={len(seen)}"}]
        return httpx.Response(200, json=page)

    client = client_for(
        day, http_client=httpx.Client(transport=httpx.MockTransport(handler)), max_pages=2
    )
    partial = {k: v for k, v in prefetch.items() if k != "observations"}
    body = request("patient-view", pid, partial, fhirServer=FHIR)
    with caplog.at_level("WARNING"):
        cards = cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body))
    assert len(seen) == 2
    assert "_count=" in str(seen[0].url)
    info = cards[-1]
    assert info["source"]["topic"]["code"] == "chart-read-in-part"
    assert "more than 2 pages for: observations" in info["detail"]
    assert "read in part" in caplog.text


def test_fhir_authorization_without_expires_in_is_used() -> None:
    pid, prefetch, day = chart(APS)
    seen: list[httpx.Request] = []
    client = client_for(day, http_client=fhir_server(prefetch, seen))
    body = request(
        "patient-view",
        pid,
        {"patient": prefetch["patient"]},
        fhirServer=FHIR,
        fhirAuthorization={
            "access_token": "t0k",
            "token_type": "Bearer",
            "scope": "patient/*.read",
            "subject": "rplcare",
        },
    )
    assert cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body))
    assert seen and all(r.headers["authorization"] == "Bearer t0k" for r in seen)


def test_empty_override_reason_is_rejected_cds_fb_3() -> None:
    _pid, _prefetch, day = chart(APS)
    client = client_for(day)
    url = f"/cds-services/{SERVICE_PATIENT_VIEW}/feedback"
    fb = {
        "card": "c1",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-22T10:00:00Z",
        "overrideReason": {"userComment": "  "},
    }
    assert client.post(url, json={"feedback": [fb]}).status_code == 422


def test_feedback_dedup_keeps_a_new_user_comment() -> None:
    store = InMemoryFeedbackStore()
    base = {
        "card": "c1",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-22T10:00:00Z",
        "overrideReason": {"reason": OVERRIDE_REASONS[0].to_wire()},
    }
    store.add("s", base)
    store.add("s", copy.deepcopy(base))
    with_comment = copy.deepcopy(base)
    with_comment["overrideReason"]["userComment"] = "she prefers to wait"
    store.add("s", with_comment)
    rows = store.list("s")
    assert len(rows) == 2
    assert rows[1]["overrideReason"]["userComment"] == "she prefers to wait"


def test_no_cards_is_logged_at_warning_with_why(caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(date(2026, 11, 22))
    with caplog.at_level("WARNING"):
        client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", "p1"))
    assert any(r.levelname == "WARNING" and "no cards" in r.getMessage() for r in caplog.records)


def test_cards_link_to_the_plan_with_a_smart_app_launch() -> None:
    # SMART EHR launch: a `smart` link; the EHR adds launch + iss, the app does PKCE
    pid, prefetch, day = chart(APS)
    launch = "https://rplcare.example.org/smart/launch"
    for client in (
        client_for(day, smart_launch_url=launch),
        TestClient(
            create_cds_app(
                clock=lambda: day,
                environ={"RPLCARE_SMART_LAUNCH_URL": launch},
                allow_unauthenticated=True,
            )
        ),
    ):
        body = request("patient-view", pid, prefetch)
        cards = cards_of(client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body))
        assert cards
        for card in cards:
            smart = [link for link in card["links"] if link["type"] == "smart"]
            assert [link["url"] for link in smart] == [launch]
            assert json.loads(smart[0]["appContext"])["patient"] == pid
    plain = cards_of(
        client_for(day).post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}", json=request("patient-view", pid, prefetch)
        )
    )
    assert all(link["type"] != "smart" for c in plain for link in c.get("links") or [])


def test_order_sign_runs_assess_with_the_draft_orders_as_proposed_items(monkeypatch) -> None:
    # issue 8 §2: one decision path. The IVIG order (ATC J06BA02) is answered by assess() of the
    # chart with proposed.medications == ["ivig"]; the card is treat.ivig's recorded rule
    # (recommendations.yaml: recorded.ivig -> not_recommended, prominent -> critical).
    import rplcare.interop.cds.orders as orders_mod

    seen: list[Any] = []
    real = orders_mod.assess

    def spy(case: Any, **kw: Any) -> Any:
        seen.append(case.proposed)
        return real(case, **kw)

    monkeypatch.setattr(orders_mod, "assess", spy)
    pid, prefetch, day = chart(APS)
    orders = _orders(
        pid,
        {
            "resourceType": "MedicationRequest",
            "id": "ivig",
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.whocc.no/atc", "code": "J06BA02"}]
            },
        },
    )
    body = request("order-sign", pid, prefetch, context={"draftOrders": orders})
    cards = cards_of(client_for(day).post(f"/cds-services/{SERVICE_ORDER_SIGN}", json=body))
    assert [(p.medications, p.tests) for p in seen] == [(["ivig"], [])]
    [card] = [c for c in cards if c["source"]["topic"]["code"] == "treat.ivig"]
    assert card["indicator"] == "critical"


# --------------------------------------------------------------------------------------------
# Wire bytes (issue 12 §3: the response is encoded with orjson)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.stem)
def test_patient_view_bytes_are_the_compact_json_encoding(path: Path) -> None:
    """Rule (cds/app.py answer): the body is byte for byte what
    json.dumps(ensure_ascii=False, separators=(",", ":")) gives for the same cards, on every
    example, so the switch to orjson changed no client-visible byte."""
    patient_id, prefetch, day = chart(path)
    response = client_for(day).post(
        f"/cds-services/{SERVICE_PATIENT_VIEW}",
        json=request("patient-view", patient_id, prefetch),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    expected = json.dumps(response.json(), ensure_ascii=False, separators=(",", ":"))
    assert response.content == expected.encode("utf-8")
