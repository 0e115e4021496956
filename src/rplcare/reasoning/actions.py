"""The ordered action list (contract 1): one list, most urgent first, that every face shows.

Built from the pregnancy alerts (calculator safety alerts) and the decided recommendations; no
face re-derives urgency. Urgencies come from the knowledge base: alerts through the parameter
`actions.alert_urgency` (calculator level -> urgency), recommendations through their rule's
`urgency` (or `when_pregnant.urgency`). Due dates: immediate and same-day actions are due on
the assessment day, within-24h ones the next day, routine ones have none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rplcare.knowledge import KnowledgeBase
from rplcare.knowledge.model import URGENCIES
from rplcare.reasoning.engine import Rec

# events a same-day scan or review supersedes (a later scan window would contradict "now")
SUPERSEDED_BY_SAME_DAY = ("next_scan", "next_hcg")


@dataclass
class Action:
    """One action of the plan: an alert, a test, a treatment or advice."""

    id: str
    kind: str  # alert | test | treatment | advice
    urgency: str
    due: date | None
    text: str
    patient_text: str
    because: list[str] = field(default_factory=list)
    status: str | None = None
    sources: list[str] = field(default_factory=list)
    timing: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "urgency": self.urgency,
            "due": self.due.isoformat() if self.due else None,
            "text": self.text,
            "patient_text": self.patient_text,
            "because": self.because,
        }
        if self.status:
            out["status"] = self.status
        if self.timing:
            out["timing"] = self.timing
        out["sources"] = self.sources
        return out


def due_for(urgency: str, today: date) -> date | None:
    if urgency in ("immediate", "same_day"):
        return today
    if urgency == "within_24h":
        return today + timedelta(days=1)
    return None


def _alert_because(alert_id: str, fids: frozenset[str]) -> list[str]:
    want = ["current.location_unknown", "current.pain", "current.bleeding", "current.ectopic"]
    if alert_id == "alert.ectopic_on_scan":
        want = ["current.ectopic"]
    elif alert_id == "alert.pain_pul":
        want = ["current.location_unknown", "current.pain"]
    elif alert_id in ("alert.hcg_scan_now", "alert.hcg_above_discriminatory_no_sac"):
        want = ["current.location_unknown"]
    return [f for f in want if f in fids]


def build_actions(
    recs: list[Rec],
    alerts: list[Any],
    kb: KnowledgeBase,
    today: date,
    fids: frozenset[str],
) -> list[Action]:
    """Alerts and actionable recommendations, most urgent first.

    Actionable: recommended or conditional recommendations (deferred ones last, with no due
    date) and prominent not-recommended items (something on record to stop or avoid).
    Within an urgency: alerts first in the KB's alert order (ectopic ones lead), then
    recommendations in knowledge-base order.
    """
    level_map = kb.param("actions.alert_urgency")
    order = list(kb.param("hcg.discriminatory_alert_order"))
    patient = kb.param("actions.alert_patient_text")
    out: list[tuple[tuple[int, int, int], Action]] = []
    for n, a in enumerate(alerts):
        urgency = level_map.get(a.level, "routine")
        rank = order.index(a.id) if a.id in order else len(order) + n
        out.append(
            (
                (URGENCIES.index(urgency), 0, rank),
                Action(
                    id=a.id,
                    kind="alert",
                    urgency=urgency,
                    due=due_for(urgency, today),
                    text=a.text,
                    patient_text=patient.get(a.id, a.text),
                    because=_alert_because(a.id, fids),
                    sources=list(a.sources),
                ),
            )
        )
    for n, r in enumerate(recs):
        if r.status == "not_recommended" and not r.prominent:
            continue
        deferred = r.timing == "after_this_pregnancy"
        urgency = r.urgency
        key = (URGENCIES.index(urgency), 1 + (r.status != "recommended") + 2 * deferred, n)
        out.append(
            (
                key,
                Action(
                    id=r.id,
                    kind=r.kind,
                    urgency=urgency,
                    due=None if deferred else due_for(urgency, today),
                    text=r.text,
                    patient_text=r.patient_text,
                    because=list(r.because),
                    status=r.status,
                    sources=[s["id"] for s in r.sources],
                    timing=r.timing,
                ),
            )
        )
    return [a for _, a in sorted(out, key=lambda kv: kv[0])]


def supersede_events(events: list[Any], actions: list[Action], today: date) -> list[Any]:
    """Drop later scan/hCG follow-ups when an immediate or same-day alert asks for care today,
    so no calendar entry says "scan 8-15 December" under "scan now"."""
    urgent_today = any(
        a.kind == "alert" and a.urgency in ("immediate", "same_day") for a in actions
    )
    if not urgent_today:
        return events
    return [e for e in events if not (e.kind in SUPERSEDED_BY_SAME_DAY and e.start > today)]


def fold_not_recommended(
    recs: list[Rec] | list[dict[str, Any]],
    keep: set[str] | frozenset[str] = frozenset(),
    minimum: int = 3,
) -> dict[str, Any]:
    """The routine not-recommended items, folded into one line with a count. Kept apart (never
    folded): prominent ones (on record), and those asked about or ordered (`keep`)."""

    def get(r: Any, k: str) -> Any:
        return r.get(k) if isinstance(r, dict) else getattr(r, k)

    routine = [
        get(r, "id")
        for r in recs
        if get(r, "status") == "not_recommended"
        and not get(r, "prominent")
        and get(r, "id") not in keep
    ]
    if len(routine) < minimum:
        return {"count": 0, "ids": []}
    return {"count": len(routine), "ids": routine}


URGENCY_TITLES = {
    "immediate": "IMMEDIATE",
    "same_day": "Today",
    "within_24h": "Within 24 h",
    "routine": "Routine",
}


def action_events(actions: list[Action]) -> list[Any]:
    """Calendar events for the actions that have a due date, on their due day (the iCalendar
    export and the schedule list show them with the follow-ups). The event kind is the action
    id, so its iCalendar UID stays the same when the list is reordered."""
    from rplcare.pregnancy.schedule import Event

    return [
        Event(
            kind=a.id,
            title=f"{URGENCY_TITLES[a.urgency]}: {a.id}",
            start=a.due,
            end=None,
            description=a.text,
            source=a.sources[0] if a.sources else "rplcare-spec",
        )
        for a in actions
        if a.due is not None
    ]
