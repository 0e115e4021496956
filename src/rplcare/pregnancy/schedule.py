"""Dated follow-up events of the current pregnancy, for the report and the iCalendar export.

Each event comes from a block already computed (luteal support, hCG pairs, viability, cervix
windows), so the calendar can never disagree with the assessment.
"""

from datetime import date, datetime, timedelta

from pydantic import BaseModel

from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.hcg import HcgPair
from rplcare.pregnancy.luteal import LutealSupport, Window
from rplcare.pregnancy.viability import Viability


class Event(BaseModel):
    # luteal_stop | next_hcg | urine_pregnancy_test | next_scan | cervical_length | cerclage
    kind: str
    title: str
    start: date
    end: date | None  # inclusive last day of a window; None for a single day
    description: str
    source: str


def _day(iso: str) -> date:
    return datetime.fromisoformat(iso).date() if "T" in iso else date.fromisoformat(iso)


def events(
    today: date,
    luteal: LutealSupport | None = None,
    hcg_pairs: list[HcgPair] | None = None,
    viability: Viability | None = None,
    cervical: Window | None = None,
    cerclage: Window | None = None,
    *,
    kb: KnowledgeBase,
) -> list[Event]:
    """Follow-up events in date order; only those that follow from the blocks given."""
    out: list[Event] = []
    if luteal is not None and luteal.indicated and luteal.stop_date is not None:
        out.append(
            Event(
                kind="luteal_stop",
                title=kb.say("event.luteal_stop.title", stop=luteal.stop_ga),
                start=luteal.stop_date,
                end=None,
                description=kb.say(
                    "event.luteal_stop",
                    regimen=luteal.regimen,
                    stop=luteal.stop_ga,
                    label=luteal.label,
                    why=luteal.why,
                ),
                source=luteal.sources[0] if luteal.sources else "nice-ng126",
            )
        )
    last = hcg_pairs[-1] if hcg_pairs else None
    scan_event = False
    if viability is not None and viability.rescan_from is not None:
        scan_event = True
        out.append(
            Event(
                kind="next_scan",
                title=kb.say("event.rescan.title"),
                start=max(viability.rescan_from, today),
                end=max(viability.rescan_by, today) if viability.rescan_by else None,
                description=kb.say(
                    "event.rescan", next_step=viability.next_step, rule=viability.rule
                ),
                source=viability.sources[0] if viability.sources else "sru2013",
            )
        )
    second = _day(last.to) if last is not None else None
    # a scan on or after the last hCG supersedes what the hCG trend asks for
    scanned_since = (
        viability is not None
        and viability.scan_date is not None
        and second is not None
        and viability.scan_date >= second
        and viability.status not in ("location_unknown", "not_assessable")
    )
    if last is not None and second is not None and not scanned_since:
        needs_review = last.nice == "review_within_24h" or last.interval_warning is not None
        if needs_review:
            nxt = second + timedelta(hours=int(kb.param("hcg.nice_interval_h")))
            out.append(
                Event(
                    kind="next_hcg",
                    title=kb.say("event.next_hcg.title"),
                    start=max(nxt, today),
                    end=None,
                    description=kb.say(
                        "event.next_hcg",
                        first=last.from_,
                        second=last.to,
                        why=last.why,
                        warning=f"; {last.interval_warning}" if last.interval_warning else "",
                    ),
                    source="nice-ng126",
                )
            )
        elif last.nice == "unlikely_to_continue":
            out.append(
                Event(
                    kind="urine_pregnancy_test",
                    title=kb.say("event.upt.title"),
                    start=max(second + timedelta(days=int(kb.param("hcg.nice_upt_days"))), today),
                    end=None,
                    description=kb.say("event.upt"),
                    source="nice-ng126",
                )
            )
        elif last.nice == "likely_intrauterine" and not scan_event:
            out.append(
                Event(
                    kind="next_scan",
                    title=kb.say("event.tvus.title"),
                    start=max(
                        second + timedelta(days=int(kb.param("hcg.nice_tvus_min_days"))), today
                    ),
                    end=max(
                        second + timedelta(days=int(kb.param("hcg.nice_tvus_max_days"))), today
                    ),
                    description=kb.say("event.tvus"),
                    source="nice-ng126",
                )
            )
    for w in (cervical, cerclage):
        if w is None or w.start is None:
            continue
        out.append(
            Event(
                kind=w.kind,
                title=kb.say(f"event.window.{w.kind}.title"),
                start=w.start,
                end=w.end,
                description=kb.say(
                    "event.window", text=w.text, note=f" ({w.note})" if w.note else ""
                ),
                source=w.sources[-1],
            )
        )
    return sorted(out, key=lambda e: (e.start, e.kind))
