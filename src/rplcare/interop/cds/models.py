"""Pydantic v2 models of the CDS Hooks 2.0.1 wire objects (discovery, request, cards, feedback).

Policy: required fields and closed value sets are enforced where the spec says SHALL/MUST/
REQUIRED, because a card the EHR rejects is guidance the clinician never sees. Unknown members
are kept (``extra="allow"``): EHR vendors and later spec versions (3.0 adds ``version``,
``hookVersion``, ``actionSelectionBehavior``) add fields, and rejecting them would break calls.
Serialise with :meth:`WireModel.to_wire`, which omits absent optionals as the spec requires
("OPTIONAL JSON attributes are omitted" rather than null).

FHIR resources (prefetch, context, action resources) are plain dicts here: validating them is
the engine's job and costs milliseconds per Bundle on the hot path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

__all__ = [
    "SUMMARY_MAX_CHARS",
    "AcceptedSuggestion",
    "Action",
    "Card",
    "CdsRequest",
    "CdsResponse",
    "CdsService",
    "Coding",
    "DiscoveryResponse",
    "Feedback",
    "FeedbackRequest",
    "FhirAuthorization",
    "Link",
    "OverrideReason",
    "Source",
    "Suggestion",
    "SystemAction",
    "WireModel",
]

#: "One-sentence, <140-character summary" (§ Card Attributes): strictly fewer than 140.
SUMMARY_MAX_CHARS = 139

NonEmptyStr = Annotated[str, Field(min_length=1)]


class WireModel(BaseModel):
    """Base for every CDS Hooks object: vendor extras kept, ``extension`` reserved."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    #: The spec reserves ``extension`` for pre-coordinated custom data; it MUST be an object.
    extension: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready dict with absent optionals omitted (the spec forbids nulls)."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError("must be an absolute http(s) URL")
    return value


# --------------------------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------------------------


class Coding(WireModel):
    """§ Data Types → Coding: ``code`` and ``system`` REQUIRED; ``display`` conditional."""

    code: NonEmptyStr
    system: NonEmptyStr
    display: str | None = None


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------


class CdsService(WireModel):
    """One entry of the discovery response; endpoint is ``{baseUrl}/cds-services/{id}``."""

    hook: NonEmptyStr
    title: str | None = None  # RECOMMENDED
    description: NonEmptyStr
    id: NonEmptyStr
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None

    @field_validator("id")
    @classmethod
    def _id_is_path_segment(cls, value: str) -> str:
        # The id becomes a URL path segment, and the JWT aud must match that URL exactly.
        if "/" in value or "?" in value or "#" in value or value.strip() != value:
            raise ValueError("service id must be a single URL path segment")
        return value


class DiscoveryResponse(WireModel):
    """``GET {baseUrl}/cds-services``; an empty list is the spec's answer for no services."""

    services: list[CdsService]


# --------------------------------------------------------------------------------------------
# Request
# --------------------------------------------------------------------------------------------


class FhirAuthorization(WireModel):
    """Access token the EHR lends the service (§ Passing the Access Token).

    ``access_token`` is a ``SecretStr``: repr, logs and ``to_wire`` show ``**********``; the
    FHIR client reads it with ``get_secret_value()``. Best practice is never to store or log it.
    """

    access_token: SecretStr
    token_type: NonEmptyStr
    #: optional here although the spec lists it: several EHRs omit it, and the token is used
    #: within the call anyway (issue 15 §5)
    expires_in: int | None = Field(None, ge=0)
    scope: NonEmptyStr
    subject: NonEmptyStr
    patient: str | None = None

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":  # OAuth token types are case-insensitive (RFC 6749)
            raise ValueError("token_type must be 'Bearer'")
        return value

    @field_validator("access_token")
    @classmethod
    def _non_empty_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("access_token must not be empty")
        return value


class CdsRequest(WireModel):
    """The POST body of a hook call (§ Calling a CDS Service → HTTP Request)."""

    hook: NonEmptyStr
    hookInstance: NonEmptyStr
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    #: Keys are the discovery prefetch keys; a value of ``None`` means "client found no data".
    prefetch: dict[str, Any] | None = None

    @field_validator("fhirServer")
    @classmethod
    def _fhir_server_url(cls, value: str | None) -> str | None:
        return _http_url(value)

    @model_validator(mode="after")
    def _server_with_token(self) -> Self:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is REQUIRED when fhirAuthorization is provided")
        return self


# --------------------------------------------------------------------------------------------
# Response
# --------------------------------------------------------------------------------------------


class Source(WireModel):
    """The primary source of the guidance: for rplcare, the guideline citation."""

    label: NonEmptyStr
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    @field_validator("url", "icon")
    @classmethod
    def _absolute_urls(cls, value: str | None) -> str | None:
        return _http_url(value)


class SystemAction(WireModel):
    """An action the client may auto-apply (§ System Action).

    ``description`` may be absent here only because the spec's own systemActions example omits
    it; :class:`Action`, shown to clinicians inside a card, requires it.
    """

    type: Literal["create", "update", "delete"]
    description: str | None = None
    #: A FHIR resource; a bare id string for delete is DEPRECATED but still legal.
    resource: dict[str, Any] | str | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _resource_matches_type(self) -> Self:
        if self.type in ("create", "update"):
            if not isinstance(self.resource, dict) or not self.resource.get("resourceType"):
                raise ValueError(f"a {self.type} action SHALL carry a FHIR resource")
        elif self.resourceId is None and self.resource is None:
            raise ValueError("a delete action needs resourceId (or the deprecated resource)")
        return self


class Action(SystemAction):
    """A suggested change inside a card suggestion (§ Suggestion → Action)."""

    description: NonEmptyStr  # type: ignore[assignment]  # REQUIRED here


class Suggestion(WireModel):
    """A set of actions the user accepts together (AND'd, applied like a FHIR transaction)."""

    label: NonEmptyStr
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = Field(default=None, min_length=1)


class Link(WireModel):
    """A link to a web page (``absolute``) or a SMART app launch (``smart``)."""

    label: NonEmptyStr
    url: NonEmptyStr
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        return _http_url(value) or value

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Self:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is not valid for absolute links")
        return self


class Card(WireModel):
    """One piece of guidance (§ Card Attributes)."""

    uuid: str | None = None
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX_CHARS)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = Field(default=None, min_length=1)
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = Field(default=None, min_length=1)
    links: list[Link] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _conditional_fields(self) -> Self:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior MUST be provided when suggestions are present")
        if self.overrideReasons and any(not c.display for c in self.overrideReasons):
            raise ValueError("every override reason MUST have a display")
        # "Multiple suggestions MAY be recommended, if card.selectionBehavior is any."
        if (
            self.suggestions
            and self.selectionBehavior == "at-most-one"
            and sum(bool(s.isRecommended) for s in self.suggestions) > 1
        ):
            raise ValueError("at most one suggestion may be recommended with at-most-one")
        return self


class CdsResponse(WireModel):
    """HTTP 200 body of a hook call; ``{"cards": []}`` means no guidance."""

    cards: list[Card]
    systemActions: list[SystemAction] | None = None


# --------------------------------------------------------------------------------------------
# Feedback
# --------------------------------------------------------------------------------------------


class AcceptedSuggestion(WireModel):
    id: NonEmptyStr


class OverrideReason(WireModel):
    """Why the clinician dismissed a card: a chosen reason and/or free text."""

    reason: Coding | None = None
    userComment: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        # cds-fb-3: an overrideReason says why, with a reason, a userComment, or both
        comment = (self.userComment or "").strip()
        if self.reason is None and not comment:
            raise ValueError("overrideReason needs a reason or a non-empty userComment (cds-fb-3)")
        return self


class Feedback(WireModel):
    """One outcome for one card; the same card may be reported more than once."""

    card: NonEmptyStr
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: AwareDatetime

    @model_validator(mode="after")
    def _accepted_names_suggestions(self) -> Self:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is REQUIRED for accepted outcomes")
        return self


class FeedbackRequest(WireModel):
    """``POST {baseUrl}/cds-services/{id}/feedback`` body."""

    feedback: list[Feedback]
