"""CDS Hooks 2.0 service: patient-view and order-sign cards from the same `assess()`.

Hot path: prefetch is parsed with plain-JSON accessors (`fhir_map`), never with the FHIR
models, so a call costs about a millisecond of mapping plus the assessment (interop.md §2).

Failure policy. A CDS service that errors blocks nothing useful: the EHR just shows no
guidance. So every failure to *read the chart* (no prefetch and no FHIR server, a fetch that
fails, data that is not a valid case) is answered 200 `{"cards": []}` and logged with the reason
(paths and resource ids only, never values or tokens). The spec's 412 for missing data is not
used, deliberately: several EHRs surface a non-200 as an error banner to the clinician.
Malformed request bodies still get 422 and a bad JWT 401; nothing is answered with a 5xx.

Authentication. Discovery is public (the spec: it "SHALL always be available"); service and
feedback calls need a valid client JWT whenever a verifier is configured. `create_cds_app()`
builds the verifier from `RPLCARE_CDS_CLIENTS` (no clients configured = every call refused);
`RPLCARE_CDS_ALLOW_UNAUTHENTICATED=1` turns authentication off, for a local demo only.

CORS. `create_cds_app()` adds CORSMiddleware (origins from `RPLCARE_CDS_CORS_ORIGINS`,
default `*`; methods GET/POST/OPTIONS; the `Authorization` and `Content-Type` headers), which
answers the browser preflight of discovery, service and feedback calls. A host app that mounts
`build_cds_router()` must do the same: call `add_cds_cors(app)`.
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import os
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware

from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.interop.cds_auth import CdsJwtVerifier, require_cds_jwt
from rplcare.interop.cdshooks_models import (
    SUMMARY_MAX_CHARS,
    Action,
    Card,
    CdsRequest,
    CdsResponse,
    CdsService,
    Coding,
    DiscoveryResponse,
    FeedbackRequest,
    Link,
    Source,
    Suggestion,
)
from rplcare.interop.fhir_map import (
    CS_MEDICATION,
    CS_TEST,
    OVERRIDE_REASON_SYSTEM,
    RECOMMENDATION_SYSTEM,
    Entry,
    MappingError,
    bundle_entries,
    case_from_entries,
)
from rplcare.interop.fhir_out import medication_requests, progesterone_stop_date
from rplcare.knowledge import get_kb
from rplcare.pregnancy.gestation import format_ga
from rplcare.reasoning.assess import Assessment, assess
from rplcare.reasoning.engine import evaluate
from rplcare.reasoning.findings import FindingSet

__all__ = [
    "ENV_ALLOW_UNAUTHENTICATED",
    "ENV_CORS_ORIGINS",
    "OVERRIDE_REASONS",
    "PREFETCH",
    "SERVICE_ORDER_SIGN",
    "SERVICE_PATIENT_VIEW",
    "FeedbackStore",
    "InMemoryFeedbackStore",
    "add_cds_cors",
    "build_cds_router",
    "create_cds_app",
]

logger = logging.getLogger(__name__)

ENV_ALLOW_UNAUTHENTICATED = "RPLCARE_CDS_ALLOW_UNAUTHENTICATED"
ENV_CORS_ORIGINS = "RPLCARE_CDS_CORS_ORIGINS"

SERVICE_PATIENT_VIEW = "rplcare-patient-view"
SERVICE_ORDER_SIGN = "rplcare-order-sign"

PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}&status=active",
}

SERVICES: dict[str, CdsService] = {
    SERVICE_PATIENT_VIEW: CdsService(
        id=SERVICE_PATIENT_VIEW,
        hook="patient-view",
        title="rplcare: recurrent pregnancy loss workup and plan",
        description="Recurrent pregnancy loss decision support: outstanding workup, causes "
        "found, and the luteal-support schedule of a current pregnancy.",
        prefetch=PREFETCH,
        usageRequirements="Needs the patient's Observations (LOINC), Conditions and "
        "medications; decision support for a clinician, not a diagnosis.",
    ),
    SERVICE_ORDER_SIGN: CdsService(
        id=SERVICE_ORDER_SIGN,
        hook="order-sign",
        title="rplcare: orders against RPL guidance",
        description="Warns when an order is recommended against for this patient (e.g. "
        "lymphocyte immunotherapy, IVIG, HLA/NK testing, bed rest) and when a "
        "progesterone order's duration differs from the plan.",
        prefetch=PREFETCH,
    ),
}
_HOOKS = {sid: s.hook for sid, s in SERVICES.items()}

OVERRIDE_REASONS: list[Coding] = [
    Coding(system=OVERRIDE_REASON_SYSTEM, code="patient-declined", display="Patient declined"),
    Coding(system=OVERRIDE_REASON_SYSTEM, code="already-done", display="Already done elsewhere"),
    Coding(system=OVERRIDE_REASON_SYSTEM, code="contraindicated", display="Contraindicated"),
    Coding(
        system=OVERRIDE_REASON_SYSTEM,
        code="clinical-judgement",
        display="Clinical judgement (see note)",
    ),
    Coding(
        system=OVERRIDE_REASON_SYSTEM,
        code="research-protocol",
        display="Part of a research protocol",
    ),
]

# Orders recommended against, matched by text (case-insensitive) or by an rplcare code.
# Anti-HLA before HLA typing: "anti-HLA antibodies" also says "HLA".
ORDER_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.I), rid)
    for p, rid in [
        (
            r"lymphocyte\s*immun|leukocyte\s*immun|paternal\s*(lymphocyte|cell)|\bLIT\b",
            "treat.lymphocyte_immunotherapy",
        ),
        (r"\bivig\b|immunoglobulin|immune\s*globulin", "treat.ivig"),
        (r"blocking\s*antibod|anti-?\s*hla|anti-?paternal", "test.anti_hla_antibodies"),
        (r"\bhla\b|tissue\s*typing", "test.hla_typing"),
        (r"natural\s*killer|\bnk\b|\bnk[- ]?cell|uterine\s*nk", "test.nk_cells"),
        (r"bed\s*-?rest", "advice.no_bed_rest"),
        (r"intralipid", "treat.intralipid"),
        (r"filgrastim|\bg-?csf\b", "treat.g_csf"),
    ]
]
ORDER_CODES: dict[tuple[str, str], str] = {
    (CS_MEDICATION, "lymphocyte_immunotherapy"): "treat.lymphocyte_immunotherapy",
    (CS_MEDICATION, "ivig"): "treat.ivig",
    (CS_MEDICATION, "intralipid"): "treat.intralipid",
    (CS_MEDICATION, "g_csf"): "treat.g_csf",
    (CS_MEDICATION, "bed_rest"): "advice.no_bed_rest",
    (CS_TEST, "hla_typing"): "test.hla_typing",
    (CS_TEST, "blocking_antibodies"): "test.anti_hla_antibodies",
    (CS_TEST, "nk_cells"): "test.nk_cells",
}
# A draft order is a record of the item: the knowledge base's "recorded" rule then applies even
# when the patient's assessment did not list it (e.g. LIT ordered for a woman without RPL).
ORDERED_FINDING: dict[str, str] = {
    "treat.lymphocyte_immunotherapy": "recorded.lymphocyte_immunotherapy",
    "treat.ivig": "recorded.ivig",
    "treat.intralipid": "recorded.intralipid",
    "treat.g_csf": "recorded.g_csf",
    "advice.no_bed_rest": "recorded.bed_rest",
    "test.hla_typing": "recorded.hla_typing",
    "test.anti_hla_antibodies": "recorded.anti_hla_antibodies",
    "test.nk_cells": "recorded.nk_cells",
}
_PROGESTERONE = re.compile(r"progesteron|utrogestan|crinone|cyclogest|prometrium|endometrin", re.I)
_DYDRO = re.compile(r"dydrogesterone|duphaston", re.I)


# --------------------------------------------------------------------------------------------
# Feedback store
# --------------------------------------------------------------------------------------------


class FeedbackStore(Protocol):
    """Where card outcomes go; the web app may provide a database-backed one."""

    def add(self, service_id: str, feedback: dict[str, Any]) -> None: ...

    def list(self, service_id: str) -> list[dict[str, Any]]: ...


class InMemoryFeedbackStore:
    """Thread-safe, idempotent: the spec lets a client report the same outcome twice."""

    def __init__(self) -> None:
        self._items: dict[str, list[dict[str, Any]]] = {}
        self._seen: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def add(self, service_id: str, feedback: dict[str, Any]) -> None:
        reason = ((feedback.get("overrideReason") or {}).get("reason") or {}).get("code")
        key = (
            service_id,
            str(feedback.get("card")),
            str(feedback.get("outcome")),
            str(feedback.get("outcomeTimestamp")),
            str(reason),
        )
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
            self._items.setdefault(service_id, []).append(feedback)

    def list(self, service_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items.get(service_id, []))


# --------------------------------------------------------------------------------------------
# Reading the chart: prefetch, else the FHIR server
# --------------------------------------------------------------------------------------------


class _NoData(Exception):
    """The chart could not be read; the message is a loggable reason without PHI."""


def _render(template: str, context: Mapping[str, Any]) -> str:
    def token(m: re.Match[str]) -> str:
        value = context.get(m.group(1))
        if not isinstance(value, str):
            raise _NoData(f"prefetch token context.{m.group(1)} missing")
        return quote(value, safe="")

    return re.sub(r"\{\{context\.(\w+)\}\}", token, template)


class _Fetcher:
    def __init__(
        self, client: httpx.Client | None, timeout_s: float, max_pages: int, allow_http: bool
    ) -> None:
        self._client = client
        self._timeout = timeout_s
        self._max_pages = max_pages
        self._allow_http = allow_http
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
            return self._client

    def fetch(self, server: str, token: str | None, query: str) -> list[Entry]:
        if not server.startswith("https://") and not (
            self._allow_http and server.startswith("http://")
        ):
            raise _NoData("fhirServer is not https")
        base = server.rstrip("/") + "/"
        headers = {"Accept": "application/fhir+json, application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url: str | None = base + query
        out: list[Entry] = []
        for _ in range(self._max_pages):
            if url is None:
                break
            try:
                resp = self.client.get(url, headers=headers, timeout=self._timeout)
            except httpx.HTTPError as exc:
                raise _NoData(f"FHIR fetch failed ({type(exc).__name__})") from None
            if resp.status_code == 404 and query.startswith("Patient/"):
                raise _NoData("FHIR server has no such Patient")
            if resp.status_code != 200:
                raise _NoData(f"FHIR fetch answered {resp.status_code}")
            try:
                data = resp.json()
            except ValueError:
                raise _NoData("FHIR server answered non-JSON") from None
            if not isinstance(data, dict) or data.get("resourceType") == "OperationOutcome":
                raise _NoData("FHIR server answered an OperationOutcome")
            out.extend(bundle_entries(data))
            url = None
            if data.get("resourceType") == "Bundle":
                for link in data.get("link") or []:
                    nxt = link.get("url") if isinstance(link, Mapping) else None
                    if link.get("relation") == "next" and isinstance(nxt, str):
                        # only follow pages on the same server: no open redirect for tokens
                        url = nxt if nxt.startswith(base) else None
        return out


def _prefetch_complete(req: CdsRequest) -> bool:
    prefetch = req.prefetch or {}
    return all(
        key in prefetch
        and not (
            isinstance(prefetch[key], Mapping)
            and prefetch[key].get("resourceType") == "OperationOutcome"
        )
        for key in PREFETCH
    )


def _gather(req: CdsRequest, fetcher: _Fetcher) -> list[Entry]:
    prefetch = req.prefetch or {}
    entries: list[Entry] = []
    missing: list[str] = []
    for key in PREFETCH:
        if key not in prefetch:
            missing.append(key)
            continue
        value = prefetch[key]
        if value is None:
            continue  # the client looked and found nothing
        if isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome":
            missing.append(key)
            continue
        entries.extend(bundle_entries(value))
    if missing:
        if not req.fhirServer:
            raise _NoData(f"prefetch lacks {', '.join(missing)} and no fhirServer was given")
        token = (
            req.fhirAuthorization.access_token.get_secret_value() if req.fhirAuthorization else None
        )
        for key in missing:
            entries.extend(
                fetcher.fetch(req.fhirServer, token, _render(PREFETCH[key], req.context))
            )
    return entries


# --------------------------------------------------------------------------------------------
# Cards
# --------------------------------------------------------------------------------------------


def _summary(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX_CHARS else text[: SUMMARY_MAX_CHARS - 1] + "…"


def _source(rec: Any) -> Source:
    s = rec.sources[0] if rec.sources else {}
    label = str(s.get("citation") or "rplcare knowledge base")
    if len(label) > 120:
        label = label[:119] + "…"
    url = s.get("url")
    return Source(
        label=label,
        url=url if isinstance(url, str) and url.startswith("http") else None,
        topic=Coding(system=RECOMMENDATION_SYSTEM, code=rec.id, display=rec.title),
    )


def _links(rec: Any) -> list[Link] | None:
    links = []
    for s in rec.sources[:3]:
        url = s.get("url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            links.append(
                Link(label=_summary(str(s.get("citation", s["id"])))[:80], url=url, type="absolute")
            )
    return links or None


def _detail(rec: Any, lead: str | None = None) -> str:
    lines = [lead] if lead else []
    lines.append(rec.text)
    if rec.because:
        lines.append("")
        lines.append("Because: " + ", ".join(f"`{b}`" for b in rec.because))
    if rec.sources:
        lines.append("")
        lines.append("Sources:")
        for s in rec.sources:
            loc = f" ({s['locator']})" if s.get("locator") else ""
            flag = "" if s.get("verified", True) else " *(wording not verified)*"
            lines.append(f"- {s.get('citation', s['id'])}{loc}{flag}")
    lines.append("")
    lines.append("*Decision support, not diagnosis: review against the full clinical picture.*")
    return "\n".join(lines)


class _CardFactory:
    """Builds cards and remembers which recommendation each card uuid speaks for."""

    def __init__(self, issued: _Issued, hook_instance: str, patient_id: str) -> None:
        self.issued = issued
        self.hook_instance = hook_instance
        self.patient_id = patient_id

    def card(self, key: str, rec: Any | None, **fields: Any) -> Card:
        cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rplcare:{self.hook_instance}:{key}"))
        self.issued.put(cid, {"recommendation": rec.id if rec else key, "patient": self.patient_id})
        fields.setdefault("overrideReasons", OVERRIDE_REASONS)
        return Card(uuid=cid, **fields)


def patient_view_cards(a: Assessment, cards: _CardFactory) -> list[Card]:
    out: list[Card] = []
    for rec in a.recommendations:
        if rec.status == "not_recommended" and rec.prominent:
            critical = rec.id in ("treat.lymphocyte_immunotherapy", "treat.ivig")
            out.append(
                cards.card(
                    rec.id,
                    rec,
                    summary=_summary(f"Not recommended: {rec.title}"),
                    indicator="critical" if critical else "warning",
                    detail=_detail(rec, "The record shows this; guidelines advise against it."),
                    source=_source(rec),
                    links=_links(rec),
                )
            )
    for f in a.findings:
        if not f.id.startswith("cause."):
            continue
        related = next(
            (r for r in a.recommendations if f.id in r.because and r.status != "not_recommended"),
            None,
        )
        src = _source(related) if related else Source(label="rplcare knowledge base")
        detail = f.text + "\n\nEvidence in the record: " + ", ".join(f.evidence or ["-"])
        if related:
            detail += "\n\n" + _detail(related, f"Suggested: {related.title}")
        out.append(
            cards.card(
                f.id,
                None,
                summary=_summary(f"Possible cause: {f.text}"),
                indicator="warning",
                detail=detail,
                source=src,
                links=_links(related) if related else None,
            )
        )
    for rec in a.recommendations:
        sched = rec.extra.get("schedule")
        if not sched:
            continue
        until = f"{sched.get('stop_ga')} ({sched.get('stop_date')})"
        mrs = medication_requests(rec, a, {"reference": f"Patient/{cards.patient_id}"})
        suggestions = None
        if mrs:
            suggestions = [
                Suggestion(
                    label=f"Propose the progesterone order until {until}",
                    uuid=str(
                        uuid.uuid5(uuid.NAMESPACE_URL, f"rplcare:{cards.hook_instance}:sched")
                    ),
                    isRecommended=True,
                    actions=[
                        Action(
                            type="create",
                            description=f"Draft order: {sched['regimen']}",
                            resource=mr,
                        )
                        for mr in mrs[:1]
                    ],
                )
            ]
        out.append(
            cards.card(
                f"{rec.id}:schedule",
                rec,
                summary=_summary(f"Luteal support: {sched['regimen']} until {until}"),
                indicator="info",
                detail=_detail(rec, f"Stop at {until}; policy '{sched.get('policy')}'."),
                source=_source(rec),
                links=_links(rec),
                suggestions=suggestions,
                selectionBehavior="at-most-one" if suggestions else None,
            )
        )
    for rec in a.recommendations:
        if rec.id.startswith("test.") and rec.status == "recommended":
            out.append(
                cards.card(
                    rec.id,
                    rec,
                    summary=_summary(f"Workup gap: {rec.title}"),
                    indicator="info",
                    detail=_detail(rec),
                    source=_source(rec),
                    links=_links(rec),
                )
            )
    return out


def _order_text(res: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    texts: list[str] = []
    codes: list[tuple[str, str]] = []
    for key in ("code", "medicationCodeableConcept"):
        concept = res.get(key)
        if isinstance(concept, Mapping):
            if isinstance(concept.get("text"), str):
                texts.append(concept["text"])
            for c in concept.get("coding") or []:
                if isinstance(c, Mapping):
                    if isinstance(c.get("display"), str):
                        texts.append(c["display"])
                    if isinstance(c.get("system"), str) and isinstance(c.get("code"), str):
                        codes.append((c["system"], c["code"]))
    return " ".join(texts), codes


def _match_order(res: Mapping[str, Any]) -> str | None:
    text, codes = _order_text(res)
    for system, code in codes:
        if system == RECOMMENDATION_SYSTEM:
            return code
        if (system, code) in ORDER_CODES:
            return ORDER_CODES[(system, code)]
    for pattern, rid in ORDER_RULES:
        if pattern.search(text):
            return rid
    return None


def _day(value: Any) -> date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _duration_days(q: Mapping[str, Any]) -> int | None:
    value = q.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    unit = str(q.get("code") or q.get("unit") or "").lower()
    per = {
        "d": 1,
        "day": 1,
        "days": 1,
        "wk": 7,
        "week": 7,
        "weeks": 7,
        "mo": 30,
        "month": 30,
        "months": 30,
    }.get(unit)
    return round(value * per) if per else None


def order_end(res: Mapping[str, Any], today: date) -> date | None:
    """When a MedicationRequest stops: boundsPeriod end, boundsDuration, or validity end."""
    start = _day(res.get("authoredOn")) or today
    for d in res.get("dosageInstruction") or []:
        rep = ((d or {}).get("timing") or {}).get("repeat") or {}
        bp = rep.get("boundsPeriod") or {}
        if _day(bp.get("end")):
            return _day(bp["end"])
        if isinstance(rep.get("boundsDuration"), Mapping):
            days = _duration_days(rep["boundsDuration"])
            if days is not None:
                return (_day(bp.get("start")) or start) + timedelta(days=days)
    validity = (res.get("dispenseRequest") or {}).get("validityPeriod") or {}
    return _day(validity.get("end"))


def _ga_on(a: Assessment, day: date) -> str | None:
    ga = ((a.pregnancy or {}).get("dating") or {}).get("ga_days")
    if not isinstance(ga, int):
        return None
    return format_ga(ga + (day - a.assessed_on).days)


def _corrected(res: Mapping[str, Any], stop: date, today: date) -> dict[str, Any]:
    fixed = copy.deepcopy(dict(res))
    start = (_day(res.get("authoredOn")) or today).isoformat()
    dosages = fixed.get("dosageInstruction") or [{}]
    for d in dosages:
        timing = d.setdefault("timing", {})
        rep = timing.setdefault("repeat", {})
        rep.pop("boundsDuration", None)
        rep.pop("boundsRange", None)
        bp = rep.get("boundsPeriod") or {}
        rep["boundsPeriod"] = {"start": bp.get("start", start), "end": stop.isoformat()}
    fixed["dosageInstruction"] = dosages
    validity = (fixed.get("dispenseRequest") or {}).get("validityPeriod")
    if isinstance(validity, dict):
        validity["end"] = stop.isoformat()
    return fixed


def _as_ordered(a: Assessment, rec_id: str) -> Any | None:
    """The recommendation as the knowledge base states it once the case records the item."""
    fs = FindingSet()
    for f in a.findings:
        fs.add(f.id, f.text, f.evidence, f.details)
    fs.add(
        ORDERED_FINDING[rec_id],
        "Ordered in the draft orders being signed.",
        ["context.draftOrders"],
    )
    return evaluate(get_kb().recommendations[rec_id], fs, get_kb())


def order_sign_cards(a: Assessment, req: CdsRequest, cards: _CardFactory) -> list[Card]:
    out: list[Card] = []
    recs = {r.id: r for r in a.recommendations}
    stop_iso = progesterone_stop_date(a)
    stop = _day(stop_iso)
    for _url, res in bundle_entries(req.context.get("draftOrders")):
        rtype, rid_ = res.get("resourceType"), res.get("id")
        ref = f"{rtype}/{rid_}" if rid_ else None
        rec_id = _match_order(res)
        rec = recs.get(rec_id or "")
        if rec_id in ORDERED_FINDING and (rec is None or not rec.prominent):
            rec = _as_ordered(a, rec_id) or rec
        against = rec is not None and (
            rec.status == "not_recommended" or rec.id == "advice.no_bed_rest"
        )
        if rec is not None and against:
            text, _ = _order_text(res)
            suggestions = None
            if ref:
                suggestions = [
                    Suggestion(
                        label="Remove this order",
                        uuid=str(
                            uuid.uuid5(
                                uuid.NAMESPACE_URL, f"rplcare:{cards.hook_instance}:{ref}:remove"
                            )
                        ),
                        actions=[
                            Action(
                                type="delete",
                                description=f"Remove the draft order {ref}",
                                resourceId=ref,
                            )
                        ],
                    )
                ]
            out.append(
                cards.card(
                    f"order:{ref or text}:{rec.id}",
                    rec,
                    summary=_summary(f"Recommended against for this patient: {rec.title}"),
                    indicator="critical",
                    detail=_detail(rec, f"Draft order: **{text or rtype}**."),
                    source=_source(rec),
                    links=_links(rec),
                    suggestions=suggestions,
                    selectionBehavior="at-most-one" if suggestions else None,
                )
            )
            continue
        if rtype != "MedicationRequest" or stop is None:
            continue
        text, _ = _order_text(res)
        if not _PROGESTERONE.search(text) or _DYDRO.search(text):
            continue
        end = order_end(res, a.assessed_on)
        if end == stop:
            continue
        plan_rec = next((r for r in a.recommendations if r.extra.get("schedule")), None)
        stop_ga = _ga_on(a, stop) or "the planned stop"
        shown = f"{end} ({_ga_on(a, end)})" if end else "no stop date"
        fixed = _corrected(res, stop, a.assessed_on)
        label = f"Set the stop date to {stop} ({stop_ga})"
        out.append(
            cards.card(
                f"progesterone:{ref or text}",
                plan_rec,
                summary=_summary(
                    f"Progesterone order ends {shown}; the plan stops at {stop_ga} ({stop})"
                ),
                indicator="info",
                detail=_detail(
                    plan_rec,
                    f"The draft order ends {shown}; the luteal-support plan "
                    f"stops at {stop_ga} ({stop}).",
                )
                if plan_rec
                else None,
                source=_source(plan_rec) if plan_rec else Source(label="rplcare"),
                suggestions=[
                    Suggestion(
                        label=label,
                        isRecommended=True,
                        uuid=str(
                            uuid.uuid5(
                                uuid.NAMESPACE_URL, f"rplcare:{cards.hook_instance}:{ref}:stop"
                            )
                        ),
                        actions=[Action(type="update", description=label, resource=fixed)],
                    )
                ],
                selectionBehavior="at-most-one",
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Router and app
# --------------------------------------------------------------------------------------------


class _Issued:
    """Bounded memory of issued card uuids, so feedback can name its recommendation."""

    def __init__(self, size: int = 50_000) -> None:
        self._items: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def put(self, key: str, value: dict[str, str]) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get(self, key: str) -> dict[str, str] | None:
        with self._lock:
            return self._items.get(key)


def build_cds_router(
    verifier: CdsJwtVerifier | None = None,
    feedback_store: FeedbackStore | None = None,
    *,
    http_client: httpx.Client | None = None,
    clock: Callable[[], date] = date.today,
    fetch_timeout_s: float = 5.0,
    max_pages: int = 5,
    allow_http_fhir_server: bool = False,
) -> APIRouter:
    """The CDS Hooks endpoints under `/cds-services`.

    With `verifier`, service and feedback calls require a valid client JWT (discovery stays
    public). `http_client` is used to call the EHR's `fhirServer` when prefetch is incomplete
    (inject one with a mock transport in tests). `clock` is the service's today.
    """
    store: FeedbackStore = (
        feedback_store if feedback_store is not None else (InMemoryFeedbackStore())
    )
    fetcher = _Fetcher(http_client, fetch_timeout_s, max_pages, allow_http_fhir_server)
    issued = _Issued()
    deps = [Depends(require_cds_jwt(verifier))] if verifier is not None else []
    router = APIRouter(prefix="/cds-services", tags=["cds-hooks"])
    router.feedback_store = store  # type: ignore[attr-defined]  # for the host app and tests

    @router.get("", response_model=DiscoveryResponse, response_model_exclude_none=True)
    def discovery() -> dict[str, Any]:
        return {"services": [s.to_wire() for s in SERVICES.values()]}

    def run(
        service_id: str,
        body: CdsRequest,
        build: Callable[[Assessment, CdsRequest, _CardFactory], Iterable[Card]],
    ) -> dict[str, Any]:
        """Read the chart, assess, build cards; every chart problem ends in no cards."""
        if body.hook != _HOOKS[service_id]:
            raise HTTPException(
                400,
                f"service {service_id} answers the {_HOOKS[service_id]} hook, not {body.hook!r}",
            )
        patient_id = body.context.get("patientId")
        try:
            if not isinstance(patient_id, str) or not patient_id:
                raise _NoData("context.patientId missing")
            entries = _gather(body, fetcher)
            today = clock()
            mapped = case_from_entries(entries, patient_id=patient_id, assessed_on=today)
            case = load_case(mapped.case, today=today)
            assessment = assess(case, today=today)
            factory = _CardFactory(issued, body.hookInstance, patient_id)
            cards = list(build(assessment, body, factory))
        except _NoData as exc:
            logger.info("%s %s: no cards: %s", service_id, body.hookInstance, exc)
            return {"cards": []}
        except (MappingError, CaseError) as exc:
            paths = [p for p, _ in getattr(exc, "problems", [])][:10]
            logger.warning(
                "%s %s: no cards: chart is not a readable case (%s at %s)",
                service_id,
                body.hookInstance,
                type(exc).__name__,
                paths,
            )
            return {"cards": []}
        except Exception as exc:  # never a 500 to the EHR; the type is safe to log
            logger.error(
                "%s %s: no cards: %s",
                service_id,
                body.hookInstance,
                type(exc).__name__,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            return {"cards": []}
        return {"cards": [c.to_wire() for c in cards]}

    async def answer(
        service_id: str,
        body: CdsRequest,
        build: Callable[[Assessment, CdsRequest, _CardFactory], Iterable[Card]],
    ) -> Response:
        # With complete prefetch the work is ~1 ms of CPU: done inline, as a thread hop costs
        # more than it saves under the GIL. A call that must fetch from the EHR goes to the
        # thread pool so a slow FHIR server never blocks the event loop.
        if _prefetch_complete(body):
            data = run(service_id, body, build)
        else:
            data = await run_in_threadpool(run, service_id, body, build)
        # Cards were validated as they were built; skip FastAPI's second validation pass.
        return Response(
            json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            media_type="application/json",
        )

    @router.post(
        f"/{SERVICE_PATIENT_VIEW}",
        response_model=CdsResponse,
        response_model_exclude_none=True,
        dependencies=deps,
    )
    async def patient_view(body: CdsRequest) -> Response:
        return await answer(SERVICE_PATIENT_VIEW, body, lambda a, _r, f: patient_view_cards(a, f))

    @router.post(
        f"/{SERVICE_ORDER_SIGN}",
        response_model=CdsResponse,
        response_model_exclude_none=True,
        dependencies=deps,
    )
    async def order_sign(body: CdsRequest) -> Response:
        return await answer(SERVICE_ORDER_SIGN, body, order_sign_cards)

    @router.post("/{service_id}/feedback", dependencies=deps)
    def feedback(service_id: str, body: FeedbackRequest) -> dict[str, Any]:
        if service_id not in SERVICES:
            raise HTTPException(404, "unknown service")
        received = datetime.now(UTC).isoformat(timespec="seconds")
        for item in body.feedback:
            row = item.to_wire()
            row["receivedAt"] = received
            known = issued.get(item.card)
            if known:
                row.update(known)
            store.add(service_id, row)
        return {}

    return router


def add_cds_cors(app: FastAPI, origins: Iterable[str] = ("*",)) -> None:
    """CORS for browser CDS clients (sandbox): preflight with Authorization on every endpoint.

    No credentials (cookies) are allowed: the JWT travels in the Authorization header, so a
    wildcard origin does not expose a session.
    """
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_credentials=False,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Load the knowledge base before the first call, then freeze the heap built so far.

    `gc.freeze()` moves start-up objects (models, schemas, knowledge base) out of the
    collector's view: without it a full collection rescans them all and stalls a request for
    tens of milliseconds every few seconds, which dominated p99 in benchmarks/bench_cds.py.
    """
    get_kb()
    gc.collect()
    gc.freeze()
    yield


def create_cds_app(
    verifier: CdsJwtVerifier | None = None,
    feedback_store: FeedbackStore | None = None,
    *,
    allow_unauthenticated: bool | None = None,
    environ: Mapping[str, str] | None = None,
    **router_kwargs: Any,
) -> FastAPI:
    """A standalone CDS Hooks app (also what the benchmark runs).

    Without an explicit `verifier` the JWT policy comes from the environment: clients from
    `RPLCARE_CDS_CLIENTS`, or no authentication at all if `RPLCARE_CDS_ALLOW_UNAUTHENTICATED=1`
    (or `allow_unauthenticated=True`), which is for a local demo only.
    """
    env = os.environ if environ is None else environ
    if allow_unauthenticated is None:
        allow_unauthenticated = env.get(ENV_ALLOW_UNAUTHENTICATED, "").strip().lower() in {
            "1",
            "true",
            "yes",
            "on",
        }
    if verifier is None and not allow_unauthenticated:
        verifier = CdsJwtVerifier.from_env(env)
        if not len(verifier.clients):
            logger.warning(
                "no CDS clients configured (%s): every service call will get 401",
                "RPLCARE_CDS_CLIENTS",
            )
    elif verifier is None:
        logger.warning("CDS Hooks service running WITHOUT client authentication (demo only)")
    app = FastAPI(title="rplcare CDS Hooks service", version="1.0", lifespan=_lifespan)
    app.include_router(build_cds_router(verifier, feedback_store, **router_kwargs))
    origins = [o.strip() for o in env.get(ENV_CORS_ORIGINS, "*").split(",") if o.strip()]
    add_cds_cors(app, origins or ["*"])
    return app
