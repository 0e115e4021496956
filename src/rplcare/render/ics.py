"""iCalendar export of the follow-up events (RFC 5545, all-day events).

UIDs depend only on the case and the event kind, so re-importing an updated calendar moves an
event (e.g. after redating) instead of duplicating it; the case id is hashed, not exposed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from icalendar import Calendar
from icalendar import Event as IcsEvent

from rplcare.pregnancy.schedule import Event


def event_uid(case_id: str, kind: str, n: int = 0) -> str:
    digest = hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:16]
    suffix = f"-{n}" if n else ""
    return f"{digest}-{kind}{suffix}@rplcare"


def events_to_ics(events: Iterable[Event], case_id: str, stamp: datetime | None = None) -> bytes:
    """Serialise events as an iCalendar file; `stamp` (UTC) fixes DTSTAMP for reproducible
    output, defaulting to midnight UTC of the earliest event so no clock is read."""
    items = list(events)
    cal = Calendar()
    cal.add("prodid", "-//rplcare//early pregnancy follow-up//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if stamp is None:
        first = min((e.start for e in items), default=datetime(1970, 1, 1).date())
        stamp = datetime.combine(first, time(0), tzinfo=UTC)
    seen: Counter[str] = Counter()
    for e in items:
        n = seen[e.kind]
        seen[e.kind] += 1
        ev = IcsEvent()
        ev.add("uid", event_uid(case_id, e.kind, n))
        ev.add("dtstamp", stamp)
        ev.add("summary", e.title)
        ev.add("dtstart", e.start)
        ev.add("dtend", (e.end or e.start) + timedelta(days=1))  # DTEND is exclusive
        ev.add("description", f"{e.description}\nSource: {e.source}")
        ev.add("categories", [e.kind])
        ev.add("transp", "TRANSPARENT")
        cal.add_component(ev)
    return cal.to_ical()


def calendar_events(
    assessment: Mapping[str, Any], overrides: Iterable[Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The assessment's follow-up events, minus those a clinician's decision made moot: the
    luteal-support stop once the medicine's recommendations are overridden (see
    `luteal_support_moot`). Other events (next hCG, scan, surveillance windows) follow from
    results, not from a recommendation, and stay."""
    from rplcare.render.report import luteal_support_moot

    raw = list((assessment.get("pregnancy") or {}).get("events") or [])
    if luteal_support_moot(assessment, overrides):
        raw = [e for e in raw if e.get("kind") != "luteal_stop"]
    return raw
