"""CDS cards: the patient-view cards and the pieces every card is built from."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any

import orjson

from rplcare.interop.cds.discovery import OVERRIDE_REASONS
from rplcare.interop.cds.models import (
    SUMMARY_MAX_CHARS,
    Action,
    Card,
    Coding,
    Link,
    Source,
    Suggestion,
)
from rplcare.interop.fhir.codes import (
    RECOMMENDATION_SYSTEM,
)
from rplcare.interop.fhir.export import medication_requests
from rplcare.knowledge.terminology import terminology
from rplcare.reasoning.actions import URGENCY_TITLES
from rplcare.reasoning.assess import Assessment

# --------------------------------------------------------------------------------------------
# Cards
# --------------------------------------------------------------------------------------------


DISCLAIMER = "*Decision support, not diagnosis: review against the full clinical picture.*"


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
    lines.append(DISCLAIMER)
    return "\n".join(lines)


class _CardFactory:
    """Builds cards and remembers which recommendation each card uuid speaks for."""

    def __init__(
        self,
        issued: _Issued,
        hook_instance: str,
        patient_id: str,
        smart_launch_url: str | None = None,
    ) -> None:
        self.issued = issued
        self.hook_instance = hook_instance
        self.patient_id = patient_id
        self.smart_launch_url = smart_launch_url

    def card(self, key: str, rec: Any | None, **fields: Any) -> Card:
        cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rplcare:{self.hook_instance}:{key}"))
        self.issued.put(cid, {"recommendation": rec.id if rec else key, "patient": self.patient_id})
        fields.setdefault("overrideReasons", OVERRIDE_REASONS)
        if self.smart_launch_url:
            # SMART App Launch (EHR launch): the EHR adds `launch` and `iss` to this URL; the app
            # then runs the authorization-code flow with PKCE against `iss` (docs/fhir-mapping.md)
            smart = Link(
                label="Open the full rplcare plan",
                url=self.smart_launch_url,
                type="smart",
                appContext=orjson.dumps(
                    {"patient": self.patient_id, "recommendation": rec.id if rec else key}
                ).decode(),
            )
            fields["links"] = [*(fields.get("links") or []), smart]
        return Card(uuid=cid, **fields)


#: CDS Hooks indicator of an action by its urgency (issue 9 §2: the card indicator follows the
#: assessment's one ordered action list; routine actions get no action card)
ACTION_INDICATOR = {"immediate": "critical", "same_day": "warning", "within_24h": "warning"}


def _action_source(x: Any, a: Assessment) -> Source:
    kb = a.kb
    src = kb.sources.get(x.sources[0]) if kb is not None and x.sources else None
    label = str(getattr(src, "citation", None) or "rplcare knowledge base")
    if len(label) > 120:
        label = label[:119] + "…"
    url = getattr(src, "url", None)
    return Source(
        label=label,
        url=url if isinstance(url, str) and url.startswith("http") else None,
        topic=Coding(system=RECOMMENDATION_SYSTEM, code=x.id),
    )


def _action_detail(x: Any, a: Assessment) -> str:
    lines = [x.text]
    if x.due:
        lines += ["", f"Due: {x.due.isoformat()}"]
    if x.because:
        lines += ["", "Because: " + ", ".join(f"`{b}`" for b in x.because)]
    kb = a.kb
    if x.sources:
        lines += ["", "Sources:"]
        for sid in x.sources:
            src = kb.sources.get(sid) if kb is not None else None
            lines.append(f"- {getattr(src, 'citation', None) or sid}")
    lines += ["", DISCLAIMER]
    return "\n".join(lines)


def action_cards(a: Assessment, cards: _CardFactory) -> list[Card]:
    """One card per non-routine action, in the assessment's order (most urgent first)."""
    out: list[Card] = []
    for x in a.actions:
        indicator = ACTION_INDICATOR.get(x.urgency)
        if indicator is None:
            continue
        rec = next((r for r in a.recommendations if r.id == x.id), None)
        out.append(
            cards.card(
                f"action:{x.id}",
                rec,
                summary=_summary(f"{URGENCY_TITLES.get(x.urgency, x.urgency)}: {x.text}"),
                indicator=indicator,
                detail=_action_detail(x, a),
                source=_action_source(x, a),
                links=_links(rec) if rec else None,
            )
        )
    return out


def patient_view_cards(a: Assessment, cards: _CardFactory) -> list[Card]:
    # urgent first (issue 9 §2): the ordered actions lead, and a recommendation shown there
    # is not repeated below with a milder indicator
    out: list[Card] = action_cards(a, cards)
    led = {x.id for x in a.actions if x.urgency in ACTION_INDICATOR}
    for rec in a.recommendations:
        if rec.id in led:
            continue
        if rec.status == "not_recommended" and rec.prominent:
            critical = rec.id in terminology().critical
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
        if rec.id in led:
            continue
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


#: topics of rplcare cards that speak for no recommendation (what was read, what was not)
NOTICE_SYSTEM = "https://rplcare.org/notice"


def left_out_card(
    cards: _CardFactory,
    dropped: list[Any],
    truncated: list[str],
    max_pages: int,
    bounds: list[tuple[str, str]] | None = None,
) -> Card:
    """One info card naming what of the chart the cards above did not use, and why; `bounds`
    are (FHIR reference, note) of results given as a bound that a rule could not compare."""
    bounds = bounds or []
    lines: list[str] = []
    if truncated:
        lines.append(
            f"The FHIR server had more than {max_pages} pages for: {', '.join(truncated)}; "
            "later pages were not read."
        )
    for u in dropped[:20]:
        lines.append(f"- {u.line()}")
    if len(dropped) > 20:
        lines.append(f"- … and {len(dropped) - 20} more")
    for ref, note in bounds[:20]:
        lines.append(f"- {ref}: {note}")
    if len(bounds) > 20:
        lines.append(f"- … and {len(bounds) - 20} more bounds")
    n = len(dropped)
    parts = []
    if n:
        parts.append(f"{n} item{'s' if n != 1 else ''} of the chart could not be read")
    if bounds:
        nb = len(bounds)
        parts.append(f"{nb} result{'s' if nb != 1 else ''} given as a bound, not compared")
    if truncated:
        parts.append("the chart was read in part")
    return cards.card(
        "left-out",
        None,
        summary=_summary("Assessed without: " + "; ".join(parts)),
        indicator="info",
        detail="\n".join(lines)
        + "\n\nThe cards above come from the rest of the chart; check what is listed here.",
        source=Source(
            label="rplcare",
            topic=Coding(
                system=NOTICE_SYSTEM, code="chart-read-in-part", display="Chart read in part"
            ),
        ),
    )
