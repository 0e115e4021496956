"""order-sign: draft orders against the plan (recommended against, progesterone stop)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from rplcare.case.model import Case, ProposedOrders
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
from rplcare.knowledge.terminology import terminology
from rplcare.pregnancy.gestation import format_ga
from rplcare.reasoning.assess import Assessment, assess

TERM = terminology()


def _order_item_recs() -> dict[str, str]:
    """Vocabulary item (drug or test) -> the recommendation an order of it meets."""
    out: dict[str, str] = {}
    for o in TERM.orders.values():
        out[o.get("drug") or o["test"]] = o["recommendation"]
    return out


ITEM_RECOMMENDATION = _order_item_recs()
# recommendation -> the item whose order meets it (an order coded by recommendation id). A
# draft order goes into the case as a proposed item, so the knowledge base's "recorded" rule
# applies even when the patient's assessment did not list it (e.g. LIT for a woman without RPL).
ORDER_ITEM: dict[str, str] = {rec: item for item, rec in ITEM_RECOMMENDATION.items()}


@dataclass(frozen=True)
class OrderMatch:
    """What a draft order is. `by` "code" (RxNorm/ATC/rplcare/recommendation coding) is the
    only match that may carry a critical card with a delete suggestion."""

    rec_id: str | None
    by: str  # code | text | none
    item: str | None = None
    why: str = ""  # a look-alike: why it is not the item it resembles
    words: str = ""


def _order_text(res: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    texts: list[str] = []
    codes: list[tuple[str, str]] = []
    concepts = [res.get("code"), res.get("medicationCodeableConcept")]
    ref = res.get("medicationReference")
    target = ref.get("reference") if isinstance(ref, Mapping) else None
    if isinstance(target, str) and target.startswith("#"):
        for c in res.get("contained") or []:
            if isinstance(c, Mapping) and c.get("id") == target[1:]:
                concepts.append(c.get("code"))
    for concept in concepts:
        if isinstance(concept, Mapping):
            if isinstance(concept.get("text"), str):
                texts.append(concept["text"])
            for c in concept.get("coding") or []:
                if isinstance(c, Mapping):
                    if isinstance(c.get("display"), str):
                        texts.append(c["display"])
                    if isinstance(c.get("system"), str) and isinstance(c.get("code"), str):
                        codes.append((TERM.system(c["system"]) or "", c["code"]))
    for d in res.get("dosageInstruction") or []:
        if isinstance(d, Mapping) and isinstance(d.get("text"), str):
            texts.append(d["text"])
    return " ".join(texts), codes


def _match_order(res: Mapping[str, Any]) -> OrderMatch:
    """By code first (a recommendation coding, an rplcare code, RxNorm/ATC), then by whole-word
    synonyms from the terminology file; a look-alike never matches what it resembles."""
    text, codes = _order_text(res)
    for system, code in codes:
        if system == RECOMMENDATION_SYSTEM:
            return OrderMatch(code, "code")
        if system in (CS_MEDICATION, CS_TEST) and code in ITEM_RECOMMENDATION:
            return OrderMatch(ITEM_RECOMMENDATION[code], "code", code)
    drug = TERM.match(codes, text, "drug")
    test = TERM.match(codes, text, "test")
    found = [m for m in (drug, test) if m.concept is not None]
    if not found:
        return OrderMatch(None, "none")
    m = next((x for x in found if x.by == "code"), None) or max(found, key=lambda x: len(x.matched))
    if m.look_alike:
        return OrderMatch(None, m.by, m.id, m.concept.why if m.concept else "", m.matched)
    return OrderMatch(ITEM_RECOMMENDATION.get(m.id or ""), m.by, m.id, words=m.matched)


def _is_progesterone(res: Mapping[str, Any]) -> bool:
    text, codes = _order_text(res)
    m = TERM.match(codes, text, "drug")
    if m.concept is None or m.look_alike:
        return False
    return m.id == "progesterone" or m.concept.extra.get("ingredient") == "progesterone"


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


def _with_orders(a: Assessment, case: Case, matches: list[OrderMatch]) -> dict[str, Any]:
    """The same `assess()` on the case with the draft orders added as proposed items.

    Returns the recommendations of that assessment by id. Only orders of items the terminology
    lists under `orders` are added (the items whose order the knowledge base answers).
    """
    meds: list[str] = []
    tests: list[str] = []
    for m in matches:
        item = m.item or ORDER_ITEM.get(m.rec_id or "")
        if item is None or ITEM_RECOMMENDATION.get(item) != m.rec_id:
            continue
        target = meds if item in TERM.drugs else tests
        if item not in target:
            target.append(item)
    if not meds and not tests:
        return {r.id: r for r in a.recommendations}
    proposed = ProposedOrders.model_validate({"medications": meds, "tests": tests})
    drafted = case.model_copy(update={"proposed": proposed})
    b = assess(
        drafted,
        today=a.assessed_on,
        definition=a.definition,
        luteal_policy=a.luteal_policy,
        kb=a.kb,
    )
    return {r.id: r for r in b.recommendations}


def order_sign_cards(a: Assessment, req: CdsRequest, cards: _CardFactory, case: Case) -> list[Card]:
    """Cards for the draft orders: each matched order is answered by the assessment of the case
    with the draft orders added (`_with_orders`), the plan's progesterone stop by `a`."""
    out: list[Card] = []
    stop_iso = progesterone_stop_date(a)
    stop = _day(stop_iso)
    orders = [
        (res, _match_order(res)) for _url, res in bundle_entries(req.context.get("draftOrders"))
    ]
    recs = _with_orders(a, case, [m for _, m in orders])
    for res, match in orders:
        rtype, rid_ = res.get("resourceType"), res.get("id")
        ref = f"{rtype}/{rid_}" if rid_ else None
        rec_id = match.rec_id
        rec = recs.get(rec_id or "")
        against = rec is not None and (
            rec.status == "not_recommended" or rec.id == "advice.no_bed_rest"
        )
        if rec is not None and against:
            text, _ = _order_text(res)
            by_code = match.by == "code"
            suggestions = None
            if ref and by_code:
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
                    summary=_summary(
                        f"Recommended against for this patient: {rec.title}"
                        if by_code
                        else f"Check this order: it reads like {rec.title}"
                    ),
                    indicator="critical" if by_code else "warning",
                    detail=_detail(
                        rec,
                        f"Draft order: **{text or rtype}**."
                        + (
                            ""
                            if by_code
                            else f" Matched by the words '{match.words}' only (no code rplcare "
                            "knows): check what is ordered before changing it."
                        ),
                    ),
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
        if not _is_progesterone(res):
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
