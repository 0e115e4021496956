"""CDS Hooks wire models: the spec's own examples parse, SHALL rules bite, vendor extras pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from rplcare.interop.cds.models import (
    SUMMARY_MAX_CHARS,
    Action,
    Card,
    CdsRequest,
    CdsResponse,
    Coding,
    DiscoveryResponse,
    FeedbackRequest,
    FhirAuthorization,
    Link,
    Source,
    Suggestion,
    SystemAction,
)

SPEC_DIR = Path(__file__).parent / "fixtures" / "cds_spec_examples"


def spec(name: str) -> Any:
    return json.loads((SPEC_DIR / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# The specification's own examples
# --------------------------------------------------------------------------------------------

WHOLE_EXAMPLES: list[tuple[str, type[BaseModel]]] = [
    ("discovery.json", DiscoveryResponse),
    ("discovery-usage-requirements.json", DiscoveryResponse),
    ("discovery-extension.json", DiscoveryResponse),
    ("request-patient-view.json", CdsRequest),
    ("request-extension.json", CdsRequest),
    ("response-empty.json", CdsResponse),
    ("response-cards.json", CdsResponse),
    ("response-system-actions.json", CdsResponse),
    ("feedback-accepted.json", FeedbackRequest),
    ("feedback-overridden.json", FeedbackRequest),
    ("feedback-overridden-reason.json", FeedbackRequest),
    ("action-create.json", Action),
    ("action-update.json", Action),
    ("action-delete.json", Action),
]


@pytest.mark.parametrize(("name", "model"), WHOLE_EXAMPLES, ids=[n for n, _ in WHOLE_EXAMPLES])
def test_spec_example_parses_and_round_trips(name: str, model: type[BaseModel]):
    raw = (SPEC_DIR / name).read_text(encoding="utf-8")
    parsed = model.model_validate_json(raw)
    wire = parsed.to_wire()
    expected = json.loads(raw)
    if name == "request-patient-view.json":  # the FHIR access token is masked on the way out
        expected["fhirAuthorization"]["access_token"] = "**********"
    assert wire == expected


def test_every_fixture_file_is_exercised():
    fragments = {
        "fragment-fhir-authorization.json",
        "fragment-prefetch-data.json",
        "fragment-prefetch-templates.json",
        "fragment-source.json",
        "fragment-override-reasons.json",
        "jwt-example-jwks.json",  # used by test_cds_auth.py
    }
    covered = {name for name, _ in WHOLE_EXAMPLES} | fragments
    assert {p.name for p in SPEC_DIR.glob("*.json")} == covered


def test_spec_fragments_parse_into_their_parts():
    auth = FhirAuthorization.model_validate(
        spec("fragment-fhir-authorization.json")["fhirAuthorization"]
    )
    assert auth.access_token.get_secret_value() == "some-opaque-fhir-access-token"
    source = Source.model_validate(spec("fragment-source.json")["source"])
    assert source.topic == Coding(
        system="http://example.org/cds-services/fhir/CodeSystem/topics",
        code="12345",
        display="Mosquito born virus",
    )
    reasons = spec("fragment-override-reasons.json")["overrideReasons"]
    card = Card(summary="s", indicator="info", source=source, overrideReasons=reasons)
    assert [r.display for r in card.overrideReasons or []] == ["Patient refused", "Contraindicated"]
    templates = spec("fragment-prefetch-templates.json")["prefetch"]
    service = {"hook": "patient-view", "id": "x", "description": "d", "prefetch": templates}
    assert (
        DiscoveryResponse.model_validate({"services": [service]}).services[0].prefetch == templates
    )


def test_spec_prefetch_data_example_rides_in_a_request():
    request = CdsRequest.model_validate(
        {
            "hook": "patient-view",
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/example", "patientId": "1288992"},
            **spec("fragment-prefetch-data.json"),
        }
    )
    assert request.prefetch is not None and request.prefetch["user"] == "123"
    assert request.prefetch["hemoglobin-a1c"]["type"] == "searchset"


def test_spec_request_example_keeps_context_and_prefetch_as_plain_json():
    request = CdsRequest.model_validate(spec("request-patient-view.json"))
    assert request.context["patientId"] == "1288992"
    assert request.prefetch == {
        "patientToGreet": spec("request-patient-view.json")["prefetch"]["patientToGreet"]
    }
    assert request.fhirAuthorization is not None
    assert request.fhirAuthorization.subject == "cds-service4"


def test_spec_extension_members_are_kept():
    request = CdsRequest.model_validate(spec("request-extension.json"))
    assert request.extension == {
        "com.example.timestamp": "2017-11-27T22:13:25Z",
        "com.cds-hooks.sandbox.myextension-practitionerspecialty": "gastroenterology",
    }


def test_spec_feedback_timestamps_are_timezone_aware():
    feedback = FeedbackRequest.model_validate(spec("feedback-accepted.json")).feedback[0]
    assert feedback.outcomeTimestamp.utcoffset() is not None
    assert feedback.acceptedSuggestions and feedback.acceptedSuggestions[0].id.startswith("e56e")


# --------------------------------------------------------------------------------------------
# Strict where the spec says SHALL / MUST / REQUIRED
# --------------------------------------------------------------------------------------------

SOURCE = {"label": "ESHRE RPL guideline 2022"}


def card(**overrides: Any) -> dict[str, Any]:
    return {
        "summary": "Order lupus anticoagulant",
        "indicator": "warning",
        "source": SOURCE,
        **overrides,
    }


def test_summary_must_be_under_140_characters():
    Card.model_validate(card(summary="x" * SUMMARY_MAX_CHARS))
    with pytest.raises(ValidationError):
        Card.model_validate(card(summary="x" * 140))
    with pytest.raises(ValidationError):
        Card.model_validate(card(summary=""))


@pytest.mark.parametrize("missing", ["summary", "indicator", "source"])
def test_card_required_fields(missing: str):
    data = card()
    del data[missing]
    with pytest.raises(ValidationError):
        Card.model_validate(data)


def test_indicator_is_a_closed_set():
    for ok in ("info", "warning", "critical"):
        Card.model_validate(card(indicator=ok))
    with pytest.raises(ValidationError):
        Card.model_validate(card(indicator="hard-stop"))


def test_source_needs_a_label_and_absolute_urls():
    with pytest.raises(ValidationError):
        Card.model_validate(card(source={"url": "https://example.org"}))
    with pytest.raises(ValidationError):
        Source.model_validate({"label": "x", "icon": "icon.png"})


def test_suggestions_require_selection_behavior():
    suggestion = {"label": "Order aCL", "actions": [spec("action-create.json")]}
    with pytest.raises(ValidationError, match="selectionBehavior"):
        Card.model_validate(card(suggestions=[suggestion]))
    parsed = Card.model_validate(card(suggestions=[suggestion], selectionBehavior="any"))
    assert parsed.suggestions and parsed.suggestions[0].actions
    with pytest.raises(ValidationError):
        Card.model_validate(card(suggestions=[suggestion], selectionBehavior="all"))


def test_at_most_one_allows_only_one_recommended_suggestion():
    two = [{"label": "A", "isRecommended": True}, {"label": "B", "isRecommended": True}]
    Card.model_validate(card(suggestions=two, selectionBehavior="any"))
    with pytest.raises(ValidationError):
        Card.model_validate(card(suggestions=two, selectionBehavior="at-most-one"))


def test_override_reasons_must_have_display():
    reason = {"code": "c", "system": "http://example.org/reasons"}
    with pytest.raises(ValidationError, match="display"):
        Card.model_validate(card(overrideReasons=[reason]))


def test_coding_requires_code_and_system():
    with pytest.raises(ValidationError):
        Coding.model_validate({"code": "x"})
    with pytest.raises(ValidationError):
        Coding.model_validate({"system": "http://example.org"})


def test_empty_optional_arrays_are_refused():
    # "null, "", [], or {} are prohibited" for OPTIONAL attributes: omit them instead.
    for field in ("suggestions", "overrideReasons", "links"):
        with pytest.raises(ValidationError):
            Card.model_validate(card(**{field: []}, selectionBehavior="any"))
    with pytest.raises(ValidationError):
        Suggestion.model_validate({"label": "x", "actions": []})


def test_action_type_and_resource_rules():
    with pytest.raises(ValidationError):
        Action.model_validate({"type": "patch", "description": "d", "resourceId": "X/1"})
    with pytest.raises(ValidationError, match="resource"):
        Action.model_validate({"type": "create", "description": "d"})
    with pytest.raises(ValidationError, match="resource"):
        Action.model_validate({"type": "update", "description": "d", "resource": {"id": "1"}})
    with pytest.raises(ValidationError, match="delete"):
        Action.model_validate({"type": "delete", "description": "d"})
    # The deprecated delete-by-id-in-resource form still parses.
    Action.model_validate({"type": "delete", "description": "d", "resource": "ServiceRequest/1"})


def test_card_actions_need_a_description_but_system_actions_may_omit_it():
    create = {k: v for k, v in spec("action-create.json").items() if k != "description"}
    with pytest.raises(ValidationError):
        Action.model_validate(create)
    assert SystemAction.model_validate(create).description is None


def test_link_type_and_app_context():
    Link.model_validate(
        {"label": "x", "url": "https://app.example.org/launch", "type": "smart", "appContext": "{}"}
    )
    with pytest.raises(ValidationError):
        Link.model_validate({"label": "x", "url": "https://example.org", "type": "relative"})
    with pytest.raises(ValidationError, match="appContext"):
        Link.model_validate(
            {"label": "x", "url": "https://example.org", "type": "absolute", "appContext": "a"}
        )


def test_request_required_fields_and_fhir_server_condition():
    base = spec("request-patient-view.json")
    for missing in ("hook", "hookInstance", "context"):
        with pytest.raises(ValidationError):
            CdsRequest.model_validate({k: v for k, v in base.items() if k != missing})
    with pytest.raises(ValidationError, match="fhirServer"):
        CdsRequest.model_validate({k: v for k, v in base.items() if k != "fhirServer"})
    with pytest.raises(ValidationError):
        CdsRequest.model_validate({**base, "fhirServer": "ftp://fhir.example.org"})


@pytest.mark.parametrize("missing", ["access_token", "token_type", "scope", "subject"])
def test_fhir_authorization_required_fields(missing: str):
    auth = spec("fragment-fhir-authorization.json")["fhirAuthorization"]
    with pytest.raises(ValidationError):
        FhirAuthorization.model_validate({k: v for k, v in auth.items() if k != missing})


def test_fhir_authorization_without_expires_in_is_accepted():
    # issue 15 §5: EHRs omit expires_in; the token is used within the call either way
    auth = spec("fragment-fhir-authorization.json")["fhirAuthorization"]
    parsed = FhirAuthorization.model_validate({k: v for k, v in auth.items() if k != "expires_in"})
    assert parsed.expires_in is None


def test_fhir_authorization_token_type_is_bearer_and_token_never_shows():
    auth = spec("fragment-fhir-authorization.json")["fhirAuthorization"]
    with pytest.raises(ValidationError):
        FhirAuthorization.model_validate({**auth, "token_type": "MAC"})
    parsed = FhirAuthorization.model_validate({**auth, "patient": "1288992"})
    secret = auth["access_token"]
    assert secret not in repr(parsed) and secret not in str(parsed)
    assert secret not in json.dumps(parsed.to_wire())
    assert secret not in parsed.model_dump_json()


def test_prefetch_null_means_no_data_and_is_kept():
    request = CdsRequest.model_validate(
        {"hook": "patient-view", "hookInstance": "i", "context": {}, "prefetch": {"hcg": None}}
    )
    assert request.prefetch == {"hcg": None}


def test_feedback_rules():
    accepted = {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-22T10:00:00Z"}
    with pytest.raises(ValidationError, match="acceptedSuggestions"):
        FeedbackRequest.model_validate({"feedback": [accepted]})
    with pytest.raises(ValidationError):
        FeedbackRequest.model_validate({"feedback": [{**accepted, "outcome": "ignored"}]})
    with pytest.raises(ValidationError):  # naive timestamp: the spec says UTC
        FeedbackRequest.model_validate(
            {
                "feedback": [
                    {**accepted, "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00"}
                ]
            }
        )


def test_discovery_service_rules():
    ok = {"hook": "patient-view", "id": "rpl-workup", "description": "RPL work-up gaps"}
    DiscoveryResponse.model_validate({"services": [ok]})
    assert DiscoveryResponse.model_validate({"services": []}).services == []
    for missing in ("hook", "id", "description"):
        with pytest.raises(ValidationError):
            DiscoveryResponse.model_validate(
                {"services": [{k: v for k, v in ok.items() if k != missing}]}
            )
    with pytest.raises(ValidationError, match="path segment"):
        DiscoveryResponse.model_validate({"services": [{**ok, "id": "a/b"}]})


# --------------------------------------------------------------------------------------------
# Permissive where vendors and later versions add fields
# --------------------------------------------------------------------------------------------


def test_vendor_and_later_version_fields_are_kept():
    service = {
        "hook": "patient-view",
        "id": "rpl",
        "description": "d",
        "version": "STU3",
        "hookVersion": "1.0",
    }
    assert (
        DiscoveryResponse.model_validate({"services": [service]}).to_wire()["services"][0]
        == service
    )
    suggestion = {"label": "A", "actionSelectionBehavior": "all"}
    parsed = Card.model_validate(
        card(suggestions=[suggestion], selectionBehavior="any", vendorFlag=True)
    )
    assert parsed.to_wire()["vendorFlag"] is True
    assert parsed.to_wire()["suggestions"][0]["actionSelectionBehavior"] == "all"


def test_to_wire_omits_absent_optionals():
    wire = CdsResponse(cards=[Card.model_validate(card())]).to_wire()
    assert wire == {
        "cards": [
            {"summary": "Order lupus anticoagulant", "indicator": "warning", "source": SOURCE}
        ]
    }
