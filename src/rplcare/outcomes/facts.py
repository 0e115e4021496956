"""Outcome facts: what the registry counts, derived from a case's versions.

The episode starts at the clinical date of the first version (`assessed_on`, else the day the
version was written). A pregnancy is *subsequent* when it ended after that date (so one under
care at the first assessment counts as the next pregnancy) or is the current pregnancy of the
latest version (pending). Everything is read from the case content (`pregnancies`,
`current_pregnancy`), so records loaded from elsewhere give their past figures.

The rows are rewritten whenever a case version or an override is stored (SQLAlchemy session
events, `install()`), and `sync()` brings any case whose latest version has no rows up to date
(stores that predate the registry, or rows written by other means).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, or_, select
from sqlalchemy.orm import Session

from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.gestation import parse_ga
from rplcare.store.models import (
    CaseRecord,
    CaseVersion,
    OutcomePatient,
    OutcomePregnancy,
    OutcomeTag,
    Override,
    User,
)

LIVE_BIRTH_MIN_GA = 24 * 7  # live birth counted from 24+0 (issue 13; SART/HFEA registries)
ONGOING_12 = 12 * 7
ONGOING_24 = 24 * 7
TERM_DAYS = 280  # expected due date = LMP + 280 days (Naegele; pregnancy/dating.py)
LOSSES = ("miscarriage", "biochemical")  # pregnancy losses before 24+0 counted as prior losses
OUTCOMES = (
    "live_birth",
    "live_birth_pre24",
    "miscarriage",
    "biochemical",
    "ectopic",
    "molar",
    "termination",
    "stillbirth",
    "pending",
)
# cause findings of the assessment → the groups the registry reports (several per patient)
CAUSE_GROUPS = {
    "cause.antiphospholipid_syndrome": "APS",
    "cause.overt_hypothyroidism": "thyroid",
    "cause.subclinical_hypothyroidism": "thyroid",
    "cause.septate_uterus": "uterine",
    "cause.submucosal_fibroid": "uterine",
    "cause.endometrial_polyp": "uterine",
    "cause.intrauterine_adhesions": "uterine",
    "cause.other_uterine_anomaly": "uterine",
    "cause.cervical_insufficiency_history": "cervical",
    "cause.parental_structural_rearrangement": "parental karyotype",
    "cause.diabetes_suboptimal": "other endocrine",
    "cause.hyperprolactinaemia": "other endocrine",
    "cause.lifestyle_alcohol": "lifestyle",
    "cause.lifestyle_bmi_high": "lifestyle",
    "cause.lifestyle_bmi_low": "lifestyle",
    "cause.lifestyle_caffeine": "lifestyle",
    "cause.lifestyle_smoking": "lifestyle",
    "cause.unexplained": "unexplained",
}
NO_CAUSE = "no cause found yet (work-up incomplete)"
NOT_ASSESSED = "not assessed (the engine could not assess the case)"
NO_TREATMENT = "none recorded"


@dataclass
class Facts:
    patient: dict[str, Any]
    pregnancies: list[dict[str, Any]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)


def _day(value: Any) -> date | None:
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _age(first: Mapping[str, Any], latest: Mapping[str, Any], index: date) -> int | None:
    born = _day((latest.get("patient") or {}).get("birth_date")) or _day(
        (first.get("patient") or {}).get("birth_date")
    )
    if born is not None:
        return index.year - born.year - ((index.month, index.day) < (born.month, born.day))
    if (first.get("patient") or {}).get("age_years") is not None:
        return int(first["patient"]["age_years"])
    years = (latest.get("patient") or {}).get("age_years")
    if years is None:
        return None
    later = _day(latest.get("assessed_on")) or index
    return int(years) - max(0, (later - index).days // 365)


def _past(p: Mapping[str, Any], index: date) -> tuple[bool, date | None, str, int | None]:
    """(subsequent?, end date, outcome category, GA days) of a past pregnancy."""
    ga = parse_ga(p["ga"]) if p.get("ga") is not None else None
    outcome = p["outcome"]
    if outcome == "live_birth" and (ga is None or ga < LIVE_BIRTH_MIN_GA):
        outcome = "live_birth_pre24"
    end = _day(p.get("date"))
    if end is not None:
        return end > index, end, outcome, ga
    if p.get("year") is not None:  # a year only: subsequent when after the index year
        return int(p["year"]) > index.year, date(int(p["year"]), 7, 1), outcome, ga
    return False, None, outcome, ga


def _start(current: Mapping[str, Any]) -> date | None:
    lmp = _day(current.get("lmp"))
    if lmp is not None:
        return lmp
    transfer = _day(current.get("transfer_date"))
    if transfer is not None and current.get("embryo_age_days") is not None:
        return transfer - timedelta(days=int(current["embryo_age_days"]) + 14)
    return None


def derive(
    first: Mapping[str, Any],
    latest: Mapping[str, Any],
    *,
    first_written: date,
    latest_written: date,
    version_id: int,
    versions: int = 1,
    clinician: str | None,
    causes: Iterable[str],
    treatments: Iterable[str],
    expected: Any = None,
) -> Facts:
    """The registry rows of one case from its first and latest version (plain case JSON).

    `causes` are the finding ids of the latest assessment, `treatments` labels such as
    "medication: progesterone_vaginal" or "accepted: treat.aspirin_heparin". `expected(age,
    prior_miscarriages)` gives the Brigham probability (None outside the model).
    """
    index = _day(first.get("assessed_on")) or first_written
    last_record = max(_day(latest.get("assessed_on")) or latest_written, index)
    age = _age(first, latest, index)
    prior_losses = prior_misc = 0
    subsequent: list[tuple[date, str, int | None, int]] = []
    for p in latest.get("pregnancies") or []:
        after, end, outcome, ga = _past(p, index)
        if after:
            assert end is not None
            subsequent.append((end, outcome, ga, int(p.get("reached_weeks") or 0)))
        else:
            prior_losses += p["outcome"] in LOSSES
            prior_misc += p["outcome"] == "miscarriage"
    subsequent.sort(key=lambda t: t[0])
    rows: list[dict[str, Any]] = []
    for end, outcome, ga, reached in subsequent:
        rows.append(
            {
                "outcome": outcome,
                "ga_days": ga,
                "end_date": end,
                "due_date": None,
                # a milestone carried over from the current pregnancy counts without a GA
                "reached_12": int((ga is not None and ga >= ONGOING_12) or reached >= 12),
                "reached_24": int((ga is not None and ga >= ONGOING_24) or reached >= 24),
            }
        )
    current = latest.get("current_pregnancy")
    if current is not None:
        start = _start(current)
        ga = (last_record - start).days if start is not None else None
        # milestones: the pregnancy seen ongoing past 12 or 24 weeks (the web app records them)
        seen = {int(m.get("weeks", 0)) for m in current.get("milestones") or []}
        rows.append(
            {
                "outcome": "pending",
                "ga_days": ga,
                "end_date": None,
                # with no dating, the pregnancy began by the last record: due by then + 280 d
                "due_date": (start or last_record) + timedelta(days=TERM_DAYS),
                "reached_12": int((ga is not None and ga >= ONGOING_12) or bool(seen & {12, 24})),
                "reached_24": int((ga is not None and ga >= ONGOING_24) or 24 in seen),
            }
        )
    for i, row in enumerate(rows, start=1):
        row["seq"] = i
    p_exp = expected(age, prior_misc) if expected is not None else None
    patient = {
        "version_id": version_id,
        "versions": versions,
        "index_date": index,
        "index_year": index.year,
        "age": age,
        "prior_losses": prior_losses,
        "clinician": (clinician or "not recorded")[:100],
        "expected": p_exp,
        "pregnancies": len(rows),
        "resolved": sum(r["outcome"] != "pending" for r in rows),
        "live_births": sum(r["outcome"] == "live_birth" for r in rows),
        "last_record": last_record,
        "next_outcome": rows[0]["outcome"] if rows else None,
        "next_due": rows[0]["due_date"] if rows else None,
        "next_reached_12": rows[0]["reached_12"] if rows else 0,
        "next_reached_24": rows[0]["reached_24"] if rows else 0,
    }
    causes = list(causes)
    groups = sorted({CAUSE_GROUPS[c] for c in causes if c in CAUSE_GROUPS})
    groups = [NOT_ASSESSED] if NOT_ASSESSED in causes else groups or [NO_CAUSE]
    treats = sorted({t[:120] for t in treatments}) or [NO_TREATMENT]
    tags = [("cause", g) for g in groups] + [("treatment", t) for t in treats]
    return Facts(patient, rows, tags)


def brigham_expected(
    age: int | None, prior_miscarriages: int, kb: KnowledgeBase | None = None
) -> float | None:
    """Brigham 1999 probability of success of the next pregnancy (None outside the model);
    the table comes from the knowledge base (the loaded one unless `kb` is given)."""
    from rplcare.knowledge import get_kb
    from rplcare.prognosis.brigham import brigham1999

    prog, _why = brigham1999(age, prior_miscarriages, kb=kb or get_kb())
    return None if prog is None else prog.next_pregnancy_success_pct / 100


# --- writing the rows ---------------------------------------------------------------------


def _treatments(versions: list[CaseVersion], overrides: list[Override]) -> set[str]:
    out: set[str] = set()
    for v in versions:
        for med in (v.data.get("current_pregnancy") or {}).get("treatments") or []:
            out.add(f"medication: {med}")
    latest: dict[str, str] = {}
    for o in sorted(overrides, key=lambda o: o.id):
        latest[o.recommendation_id] = o.decision
    for rec, decision in latest.items():
        out.add(f"{'accepted' if decision == 'accepted' else 'overridden'}: {rec}")
    return out


def _causes(data: Mapping[str, Any], written: date) -> list[str]:
    """Cause finding ids of the assessment; [NOT_ASSESSED] when the engine raises, so a case
    the engine cannot assess is still stored and counted, in a group of its own."""
    from rplcare.reasoning.assess import assess

    as_of = _day(data.get("assessed_on")) or written
    try:
        found = assess(dict(data), today=as_of).to_dict().get("findings", [])
    except Exception:  # the page shows why; the registry must not block the write
        return [NOT_ASSESSED]
    return [f["id"] for f in found if f["id"].startswith("cause.")]


def refresh_case(s: Session, case_id: str) -> None:
    """Rewrite the registry rows of one case from its stored versions and overrides."""
    for table in (OutcomeTag, OutcomePregnancy, OutcomePatient):
        s.execute(delete(table).where(table.case_id == case_id))
    versions = list(
        s.scalars(select(CaseVersion).where(CaseVersion.case_id == case_id).order_by(CaseVersion.n))
    )
    if not versions:
        return
    first, latest = versions[0], versions[-1]
    author = s.get(User, first.author_id) if first.author_id is not None else None
    overrides = list(s.scalars(select(Override).where(Override.case_id == case_id)))
    facts = derive(
        first.data,
        latest.data,
        first_written=first.created.date(),
        latest_written=latest.created.date(),
        version_id=latest.id,
        versions=len(versions),
        clinician=author.name if author else None,
        causes=_causes(latest.data, latest.created.date()),
        treatments=_treatments(versions, overrides),
        expected=brigham_expected,
    )
    write_facts(s, [(case_id, facts)])


def write_facts(s: Session, items: list[tuple[str, Facts]]) -> None:
    """Insert the rows of several cases at once (executemany)."""
    patients = [{"case_id": cid, **f.patient} for cid, f in items]
    pregnancies = [{"case_id": cid, **r} for cid, f in items for r in f.pregnancies]
    tags = [{"case_id": cid, "dimension": d, "value": v} for cid, f in items for d, v in f.tags]
    if patients:
        s.execute(insert(OutcomePatient), patients)
    if pregnancies:
        s.execute(insert(OutcomePregnancy), pregnancies)
    if tags:
        s.execute(insert(OutcomeTag), tags)


def up_to_date(s: Session) -> bool:
    """Cheap check that every case has rows from its latest version: versions are only ever
    added (a deleted case takes its rows with it), so the rows are current exactly when they
    cover every case and account for every version."""
    cases = s.scalar(select(func.count()).select_from(CaseRecord)) or 0
    rows, covered = s.execute(
        select(func.count(), func.coalesce(func.sum(OutcomePatient.versions), 0))
    ).one()
    versions = s.scalar(select(func.count()).select_from(CaseVersion)) or 0
    return cases == int(rows) and versions == int(covered)


def stale_cases(s: Session, limit: int | None = None) -> list[str]:
    """Cases whose latest version has no registry rows (or older ones)."""
    latest = (
        select(CaseVersion.case_id, func.max(CaseVersion.id).label("vid"))
        .group_by(CaseVersion.case_id)
        .subquery()
    )
    q = (
        select(latest.c.case_id)
        .outerjoin(OutcomePatient, OutcomePatient.case_id == latest.c.case_id)
        .where(or_(OutcomePatient.case_id.is_(None), OutcomePatient.version_id != latest.c.vid))
        .order_by(latest.c.case_id)
    )
    if limit is not None:
        q = q.limit(limit)
    return list(s.scalars(q))


def sync(store: Any) -> int:
    """Bring every stale case up to date; the number refreshed."""
    with store.read() as s:
        todo = stale_cases(s)
    for start in range(0, len(todo), 200):
        with store.write() as s:
            for cid in todo[start : start + 200]:
                if s.get(CaseRecord, cid) is not None:
                    refresh_case(s, cid)
    return len(todo)


def rebuild(store: Any) -> int:
    """Rewrite the rows of every case (e.g. after the knowledge base changed causes)."""
    with store.read() as s:
        ids = list(s.scalars(select(CaseRecord.id).order_by(CaseRecord.id)))
    for start in range(0, len(ids), 200):
        with store.write() as s:
            for cid in ids[start : start + 200]:
                refresh_case(s, cid)
    return len(ids)


# --- keeping the rows current on every write -------------------------------------------------

_KEY = "rplcare.outcomes.dirty"
_installed = False


def _after_flush(session: Session, _ctx: Any) -> None:
    for obj in session.new:
        if isinstance(obj, CaseVersion | Override):
            session.info.setdefault(_KEY, set()).add(obj.case_id)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the outer commit refreshes
        return
    session.flush()
    dirty = session.info.pop(_KEY, None)
    if dirty:
        for cid in sorted(dirty):
            refresh_case(session, cid)


def _discard(session: Session, *_args: Any) -> None:
    session.info.pop(_KEY, None)


def install() -> None:
    """Keep the registry rows current in the same transaction as every case write."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_rollback", _discard)
    _installed = True
