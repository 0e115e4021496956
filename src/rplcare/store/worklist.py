"""The worklist (issue 11 §3): the case list sorted, filtered and paged in SQL.

Each case has one `worklist` row read off the stored assessment of its latest version (default
definition and luteal policy): the first action of the assessment's ordered action list (its
urgency and due date), and the badges. A row is current while the latest version, the knowledge
base, the engine and (for a case without `assessed_on`) the day are the ones it was made with;
a list request rebuilds only the rows that are not, from the stored assessments (computed and
stored once when missing). An assessment that fails is kept as an error row (retried on the
next list) and never breaks the list.

Nothing here decides anything clinical: urgencies and due dates are the action list's own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from rplcare.case.errors import CaseError
from rplcare.store.models import (
    CaseRecord,
    CaseVersion,
    PatientIdentity,
    User,
    WorklistEntry,
)
from rplcare.store.patients import fold, parse_day

log = logging.getLogger("rplcare.worklist")

SORTS = ("urgency", "name", "updated", "clinician")
#: the status filters (several at once: all must hold); an error row passes every one of them,
#: since a failed assessment may hide any of these
STATUS_FILTERS = {
    "today": "needs review today",
    "urgent": "urgent (within 24 h or sooner)",
    "pregnant": "pregnant",
    "workup": "workup incomplete",
}
PER_PAGE = 25
MAX_PER_PAGE = 200
RANK_ERROR = -1
RANK_NONE = 4  # no action at all


@dataclass(frozen=True)
class Query:
    """What the list shows; every field is a query-string parameter, so a view is a URL."""

    q: str = ""
    sort: str = "urgency"
    order: str = ""  # asc | desc; "" = the sort's natural order
    status: tuple[str, ...] = ()
    clinician: str = ""
    updated_from: date | None = None
    updated_to: date | None = None
    archived: bool = False
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def descending(self) -> bool:
        if self.order in ("asc", "desc"):
            return self.order == "desc"
        return self.sort == "updated"  # newest change first; the others ascend

    def items(self, **change: Any) -> list[tuple[str, Any]]:
        """The query-string parameters of this view (defaults left out), with `change`."""
        view = replace(self, **change) if change else self
        out: list[tuple[str, Any]] = []
        if view.q:
            out.append(("q", view.q))
        if view.sort != "urgency":
            out.append(("sort", view.sort))
        if view.order:
            out.append(("order", view.order))
        out += [("status", st) for st in view.status]
        if view.clinician:
            out.append(("clinician", view.clinician))
        if view.updated_from:
            out.append(("from", view.updated_from.isoformat()))
        if view.updated_to:
            out.append(("to", view.updated_to.isoformat()))
        if view.archived:
            out.append(("archived", "1"))
        if view.page != 1:
            out.append(("page", view.page))
        if view.per_page != PER_PAGE:
            out.append(("per_page", view.per_page))
        return out

    def url(self, base: str = "/cases", **change: Any) -> str:
        items = self.items(**change)
        return base + ("?" + urlencode(items) if items else "")


def parse_query(params: Any) -> Query:
    """A Query from request parameters (a Starlette QueryParams or a mapping of lists);
    CaseError (422) names every bad parameter."""

    def getlist(key: str) -> list[str]:
        if hasattr(params, "getlist"):
            return [str(v) for v in params.getlist(key)]
        raw = params.get(key) if isinstance(params, Mapping) else None
        if raw is None:
            return []
        return [str(v) for v in raw] if isinstance(raw, list | tuple) else [str(raw)]

    def one(key: str) -> str:
        values = getlist(key)
        return values[-1].strip() if values else ""

    problems: list[tuple[str, str]] = []
    sort = one("sort") or "urgency"
    if sort not in SORTS:
        problems.append(("sort", f"{sort[:40]!r} is not one of {', '.join(SORTS)}"))
    order = one("order")
    if order not in ("", "asc", "desc"):
        problems.append(("order", f"{order[:40]!r} is not asc or desc"))
    status: list[str] = []
    for raw in getlist("status"):
        for st in (x.strip() for x in raw.split(",")):
            if not st:
                continue
            if st not in STATUS_FILTERS:
                problems.append(
                    ("status", f"{st[:40]!r} is not one of {', '.join(STATUS_FILTERS)}")
                )
            elif st not in status:
                status.append(st)

    def day(key: str) -> date | None:
        text = one(key)
        if not text:
            return None
        found = parse_day(text)
        if found is None:
            problems.append((key, f"{text[:40]!r} is not a date (YYYY-MM-DD)"))
        return found

    start, end = day("from"), day("to")
    if start and end and start > end:
        problems.append(("to", f"{end} is before {start}"))

    def number(key: str, default: int, top: int) -> int:
        text = one(key)
        if not text:
            return default
        if not (text.isascii() and text.isdigit() and len(text) <= 6) or not 1 <= int(text) <= top:
            problems.append((key, f"{text[:20]!r} is not a number from 1 to {top}"))
            return default
        return int(text)

    page = number("page", 1, 100_000)
    per_page = number("per_page", PER_PAGE, MAX_PER_PAGE)
    archived = one("archived").lower() in ("1", "true", "yes", "on")
    q = one("q")[:200]
    clinician = one("clinician")[:100]
    if problems:
        raise CaseError(problems)
    return Query(
        q=q,
        sort=sort,
        order=order,
        status=tuple(status),
        clinician=clinician,
        updated_from=start,
        updated_to=end,
        archived=archived,
        page=page,
        per_page=per_page,
    )


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    query: Query
    refreshed: int = 0  # rows rebuilt by this request
    clinicians: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


# --- building the rows -----------------------------------------------------------------------


def _stamps() -> tuple[str, str]:
    from rplcare import __version__ as engine
    from rplcare.knowledge import get_kb

    return get_kb().content_hash, engine


def summary(assessment: Mapping[str, Any]) -> dict[str, Any]:
    """The worklist columns of an assessment: its first action and the badges (read off the
    ordered action list and the findings; no rule of their own)."""
    from rplcare.knowledge.model import URGENCIES
    from rplcare.store.repository import case_status

    actions = [a for a in assessment.get("actions") or [] if isinstance(a, Mapping)]
    first = actions[0] if actions else None
    urgency = first.get("urgency") if first else None
    rank = URGENCIES.index(urgency) if urgency in URGENCIES else RANK_NONE
    status = case_status(assessment)
    dues = [date.fromisoformat(a["due"]) for a in actions if isinstance(a.get("due"), str)]
    return {
        "rank": rank,
        "urgency": urgency,
        # the earliest due date of the list (the first action's, as the list is ordered)
        "next_due": min(dues) if dues else None,
        "next_action": (first.get("text") or first.get("id")) if first else None,
        "needs_review": status["needs_review_24h"],
        "pregnant": status["pregnant"],
        "workup_incomplete": status["workup_incomplete"],
    }


def _stale(today: date, kb_hash: str, engine: str) -> Any:
    """SQL: the worklist row is missing or no longer matches the latest version."""
    return or_(
        WorklistEntry.case_id.is_(None),
        WorklistEntry.version_id != CaseVersion.id,
        WorklistEntry.kb_hash != kb_hash,
        WorklistEntry.engine != engine,
        WorklistEntry.error.is_not(None),
        and_(WorklistEntry.dated == false(), WorklistEntry.as_of != today),
    )


def _latest() -> Any:
    return (
        select(CaseVersion.case_id, func.max(CaseVersion.n).label("n"))
        .group_by(CaseVersion.case_id)
        .subquery()
    )


def refresh(s: Session, today: date | None = None, archived: bool | None = False) -> int:
    """Rebuild the worklist rows that are missing or out of date; the number rebuilt.

    One query finds them (none on a warm list); each is rebuilt from the stored assessment
    (`assessment_record`, which computes and stores it once when missing). A failing
    assessment gives an error row instead of an exception."""
    from rplcare.store.repository import AssessmentFailed, assessment_record, is_lost

    today = today or date.today()
    kb_hash, engine = _stamps()
    latest = _latest()
    q = (
        select(CaseVersion, WorklistEntry)
        .join(latest, (latest.c.case_id == CaseVersion.case_id) & (latest.c.n == CaseVersion.n))
        .join(CaseRecord, CaseRecord.id == CaseVersion.case_id)
        .outerjoin(WorklistEntry, WorklistEntry.case_id == CaseVersion.case_id)
        .where(_stale(today, kb_hash, engine))
        .order_by(CaseVersion.case_id)  # one lock order for concurrent lists (PostgreSQL)
    )
    if archived is not None:
        q = q.where(CaseRecord.archived == (true() if archived else false()))
    todo = list(s.execute(q))
    if not todo:
        return 0
    first = aliased(CaseVersion)
    ids = [v.case_id for v, _ in todo]
    openers = dict(
        s.execute(
            select(first.case_id, User.name)
            .join(User, User.id == first.author_id)
            .where(first.case_id.in_(ids), first.n == 1)
        ).all()
    )
    rows: list[dict[str, Any]] = []
    for version, row in todo:
        raw = version.data.get("assessed_on")
        as_of = date.fromisoformat(raw) if raw else today
        values: dict[str, Any] = {
            "version_id": version.id,
            "version": version.n,
            "updated": version.created,
            "event": version.event,
            "author": version.author.name if version.author else None,
            "clinician": openers.get(version.case_id),
            "kb_hash": kb_hash,
            "engine": engine,
            "as_of": as_of,
            "dated": bool(raw),
            "lost": is_lost([version]),
            "error": None,
        }
        try:  # assess() runs before anything is added: a failure leaves the session clean
            record = assessment_record(s, version, today=today)
            values.update(summary(record.data))
        except AssessmentFailed as exc:
            values.update(
                rank=RANK_ERROR,
                urgency=None,
                next_due=None,
                next_action=None,
                needs_review=False,
                pregnant=False,
                workup_incomplete=False,
                error=exc.reason[:500],
            )
        rows.append({"case_id": version.case_id, **values})
        if row is not None:
            s.expire(row)  # rewritten below, read again by the page query
    _upsert(s, rows)
    return len(todo)


def _upsert(s: Session, rows: list[dict[str, Any]]) -> None:
    """Write the rebuilt rows in one statement; a row another list wrote meanwhile is
    overwritten (INSERT ... ON CONFLICT DO UPDATE on SQLite and PostgreSQL)."""
    s.flush()
    name = s.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(WorklistEntry)
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(WorklistEntry)
    else:  # another backend: one merge per row
        for values in rows:
            s.merge(WorklistEntry(**values))
        s.flush()
        return
    columns = [c.name for c in WorklistEntry.__table__.columns if c.name != "case_id"]
    stmt = stmt.on_conflict_do_update(
        index_elements=["case_id"], set_={c: stmt.excluded[c] for c in columns}
    )
    s.execute(stmt, rows)


# --- the query -------------------------------------------------------------------------------


def _search(text: str) -> Any:
    """Case id, name (folded), hospital number or date of birth contains / equals `text`."""
    folded = fold(text)
    conds = [
        func.lower(CaseRecord.id).contains(text.lower(), autoescape=True),
        PatientIdentity.name_folded.contains(folded, autoescape=True),
        func.lower(PatientIdentity.mrn).contains(text.lower(), autoescape=True),
    ]
    day = parse_day(text)
    if day is not None:
        conds.append(PatientIdentity.birth_date == day)
    return or_(*conds)


def _filtered(query: Query, today: date) -> Any:
    q = (
        select(WorklistEntry, CaseRecord, PatientIdentity)
        .join(CaseRecord, CaseRecord.id == WorklistEntry.case_id)
        .outerjoin(PatientIdentity, PatientIdentity.case_id == WorklistEntry.case_id)
        .where(CaseRecord.archived == (true() if query.archived else false()))
    )
    if query.q:
        q = q.where(_search(query.q))
    error = WorklistEntry.error.is_not(None)
    column = {
        # an action due today or overdue (immediate and same-day ones are due on the day)
        "today": WorklistEntry.next_due <= today,
        "urgent": WorklistEntry.needs_review == true(),
        "pregnant": WorklistEntry.pregnant == true(),
        "workup": WorklistEntry.workup_incomplete == true(),
    }
    for st in query.status:
        q = q.where(or_(column[st], error))
    if query.clinician:
        q = q.where(WorklistEntry.clinician == query.clinician)
    # days of the server's own time zone (the clinic's), as the list shows the times
    if query.updated_from:
        start = datetime.combine(query.updated_from, time()).astimezone(UTC)
        q = q.where(WorklistEntry.updated >= start)
    if query.updated_to:
        end = datetime.combine(query.updated_to + timedelta(days=1), time()).astimezone(UTC)
        q = q.where(WorklistEntry.updated < end)
    return q


def _ordered(q: Any, query: Query) -> Any:
    desc = query.descending

    def way(col: Any) -> Any:
        return col.desc() if desc else col.asc()

    def nulls_last(col: Any) -> Any:
        return col.is_(None)  # False (0) sorts before True (1) in both backends

    if query.sort == "name":
        keys = [
            nulls_last(PatientIdentity.name_folded),
            way(PatientIdentity.name_folded),
            way(CaseRecord.id),
        ]
    elif query.sort == "updated":
        keys = [way(WorklistEntry.updated), CaseRecord.id]
    elif query.sort == "clinician":
        keys = [
            nulls_last(WorklistEntry.clinician),
            way(WorklistEntry.clinician),
            WorklistEntry.rank,
            WorklistEntry.updated.desc(),
        ]
    else:  # urgency: errors first (their urgency is unknown), then by the first action
        keys = [
            way(WorklistEntry.rank),
            nulls_last(WorklistEntry.next_due),
            way(WorklistEntry.next_due),
            WorklistEntry.updated.desc(),
            CaseRecord.id,
        ]
    return q.order_by(*keys)


def row_json(
    entry: WorklistEntry, case: CaseRecord, person: PatientIdentity | None, today: date
) -> dict[str, Any]:
    """One list row (the page and the JSON API show the same)."""
    return {
        "id": case.id,
        "version": entry.version,
        "updated": entry.updated.isoformat(),
        "updated_local": entry.updated.astimezone().strftime("%Y-%m-%d %H:%M"),
        "author": entry.author,
        "clinician": entry.clinician,
        "archived": case.archived,
        "patient": None
        if person is None
        else {
            "name": person.name,
            "birth_date": person.birth_date.isoformat() if person.birth_date else None,
            "mrn": person.mrn,
        },
        "next_action": None
        if entry.error is not None or entry.urgency is None
        else {
            "urgency": entry.urgency,
            "due": entry.next_due.isoformat() if entry.next_due else None,
            "text": entry.next_action,
        },
        "status": {
            "needs_review_24h": entry.needs_review,
            "due_today": entry.next_due is not None and entry.next_due <= today,
            "pregnant": entry.pregnant,
            "workup_incomplete": entry.workup_incomplete,
            "lost": entry.lost,
        },
        "error": entry.error,
    }


def worklist(s: Session, query: Query, today: date | None = None) -> Page:
    """One page of the list: rows brought up to date, then filtered, sorted, counted and
    paged by the database."""
    today = today or date.today()
    refreshed = refresh(s, today, archived=query.archived)
    base = _filtered(query, today)
    total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // query.per_page))
    if query.page > pages:
        query = replace(query, page=pages)
    rows = s.execute(
        _ordered(base, query).limit(query.per_page).offset((query.page - 1) * query.per_page)
    )
    out = [row_json(e, c, p, today) for e, c, p in rows]
    return Page(out, total, query, refreshed)


def clinicians(s: Session) -> list[str]:
    """The clinicians who opened a case (the filter's choices)."""
    rows = s.scalars(
        select(WorklistEntry.clinician)
        .where(WorklistEntry.clinician.is_not(None))
        .distinct()
        .order_by(WorklistEntry.clinician)
    )
    return [r for r in rows if r]


def set_archived(s: Session, case_id: str, archived: bool, user: User | None) -> bool:
    """Archive (or bring back) a case; its record stays whole. True when it changed."""
    from rplcare.store.repository import audit, get_case

    case = get_case(s, case_id, lock=True)
    if case.archived == archived:
        return False
    case.archived = archived
    audit(s, user, "archived" if archived else "unarchived", case_id, {})
    return True
