"""order-sign: draft orders against the plan (recommended against, progesterone stop)."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from rplcare.interop.cds.cards import _CardFactory, _detail, _links, _source, _summary
from rplcare.interop.cds.models import (
    Action,
    Card,
    CdsRequest,
    Source,
    Suggestion,
)
from rplcare.interop.fhir.codes import (
    CS_MEDICATION,
    CS_TEST,
    RECOMMENDATION_SYSTEM,
)
from rplcare.interop.fhir.export import progesterone_stop_date
from rplcare.interop.fhir.read import bundle_entries
from rplcare.knowledge import get_kb
from rplcare.pregnancy.gestation import format_ga
from rplcare.reasoning.assess import Assessment
from rplcare.reasoning.engine import evaluate
from rplcare.reasoning.findings import FindingSet

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
