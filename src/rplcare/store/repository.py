"""Every read and write of the care record, shared by the JSON API, the pages and the commands.

Functions take an open `Session` (from `Store.write()` / `Store.read()`), so a request's
changes and its audit entry commit together or not at all. Case input is validated by
`rplcare.case.loader` before anything is added: invalid input saves nothing. Assessments come
from `rplcare.reasoning.assess` unchanged; this module only stores and compares them.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case, read_mapping
from rplcare.store.models import (
    DECISIONS,
    REASONS,
    ROLES,
    ApiToken,
    AssessmentRecord,
    AuditEntry,
    CaseRecord,
    CaseVersion,
    CdsFeedback,
    Override,
    User,
    utcnow,
)

TOKEN_PREFIX = "rpl_"
TOKEN_TOUCH = timedelta(minutes=1)  # last_used is refreshed at most this often
DEFINITIONS = ("eshre2022", "asrm2012", "rcog2023")
LUTEAL_POLICIES = ("guideline", "article")


class NotFound(LookupError):
    """No such case (or user): 404 in the API."""


class Conflict(ValueError):
    """The id is taken: 409 in the API."""


# --- accounts ---------------------------------------------------------------------------


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    if not stored:
        return False
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(s: Session, name: str, role: str, password: str | None = None) -> User:
    name = name.strip()
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not name:
        raise ValueError("a user needs a name")
    if s.scalar(select(User).where(User.name == name)) is not None:
        raise Conflict(f"user {name!r} exists")
    user = User(name=name, role=role, password_hash=hash_password(password) if password else None)
    s.add(user)
    s.flush()
    return user


def authenticate(s: Session, name: str, password: str) -> User | None:
    user = s.scalar(select(User).where(User.name == name.strip()))
    if user is None:
        hash_password(password)  # spend the same time as a real check: no user enumeration
        return None
    return user if verify_password(user.password_hash, password) else None


def _token_hash(token: str) -> str:
    # tokens are 256-bit random strings, so a fast hash is enough (unlike passwords)
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(s: Session, user: User) -> str:
    """A new API token for `user`; only its hash is stored, so this is the one time it shows."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    s.add(ApiToken(token_hash=_token_hash(token), user_id=user.id))
    s.flush()
    return token


def user_for_token(s: Session, token: str) -> User | None:
    row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None:
        return None
    now = utcnow()
    last = row.last_used
    if last is None or now - last > TOKEN_TOUCH:
        row.last_used = now
    return row.user


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.name)))


# --- audit ------------------------------------------------------------------------------


def audit(
    s: Session,
    user: User | None,
    action: str,
    case_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    s.add(
        AuditEntry(
            user_id=user.id if user else None,
            action=action,
            case_id=case_id,
            detail=dict(detail or {}),
        )
    )


def audit_log(s: Session, case_id: str | None = None, limit: int = 200) -> list[AuditEntry]:
    """Newest first, as a reader of a record's history expects."""
    q = select(AuditEntry).order_by(AuditEntry.created.desc(), AuditEntry.id.desc()).limit(limit)
    if case_id is not None:
        q = q.where(AuditEntry.case_id == case_id)
    return list(s.scalars(q))


def json_diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Leaf-level changes between two JSON values, with case-file paths (`results[2].value`)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in list(before) + [k for k in after if k not in before]:
            sub = f"{path}.{key}" if path else str(key)
            out += json_diff(before.get(key), after.get(key), sub)
        return out
    if isinstance(before, list) and isinstance(after, list):
        out = []
        for i in range(max(len(before), len(after))):
            out += json_diff(
                before[i] if i < len(before) else None,
                after[i] if i < len(after) else None,
                f"{path}[{i}]",
            )
        return out
    return [] if before == after else [{"path": path, "before": before, "after": after}]


# --- cases ------------------------------------------------------------------------------


def _prune(value: Any) -> Any:
    """Drop empty lists and mappings (model defaults) so exported files stay short."""
    if isinstance(value, dict):
        items = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def canonical_case(
    source: str | bytes | Mapping[str, Any], today: date | None = None
) -> dict[str, Any]:
    """Validate a case file and return it as stored: the model's JSON dump, same structure.

    Raises CaseError with every problem. An omitted `assessed_on` stays omitted, so the case
    is assessed as of the day it is looked at.
    """
    data = source if isinstance(source, Mapping) else read_mapping(source)
    if not isinstance(data, Mapping):
        raise CaseError([("", f"a case must be a mapping of fields, not {type(data).__name__}")])
    case = load_case(data, today=today)
    out = _prune(case.model_dump(mode="json", exclude_none=True))
    if data.get("assessed_on") is None:
        out.pop("assessed_on", None)
    return out


def new_case_id() -> str:
    return "case-" + secrets.token_hex(4)


_ADDRESSABLE = re.compile(r"[^\s/\\?#%][^/\\?#%]*(?<!\s)")


def check_case_id(case_id: str) -> None:
    """A stored case is addressed by URL (`/cases/{id}`), so its id must fit in one segment."""
    if not _ADDRESSABLE.fullmatch(case_id):
        raise CaseError(
            [
                (
                    "id",
                    f"{case_id!r}: a stored case id cannot contain / \\ ? # % "
                    "or start or end with a space",
                )
            ]
        )


def get_case(s: Session, case_id: str, *, lock: bool = False) -> CaseRecord:
    row = s.get(CaseRecord, case_id, with_for_update=lock or None)
    if row is None:
        raise NotFound(f"no case {case_id!r}")
    return row


def latest_version(s: Session, case_id: str) -> CaseVersion:
    v = s.scalar(
        select(CaseVersion)
        .where(CaseVersion.case_id == case_id)
        .order_by(CaseVersion.n.desc())
        .limit(1)
    )
    if v is None:
        raise NotFound(f"no case {case_id!r}")
    return v


def case_versions(s: Session, case_id: str) -> list[CaseVersion]:
    get_case(s, case_id)
    return list(
        s.scalars(select(CaseVersion).where(CaseVersion.case_id == case_id).order_by(CaseVersion.n))
    )


def create_case(
    s: Session, source: str | bytes | Mapping[str, Any], user: User | None, event: str = "created"
) -> CaseVersion:
    data = canonical_case(source)
    case_id = data.get("id") or new_case_id()
    check_case_id(case_id)
    data["id"] = case_id
    if s.get(CaseRecord, case_id) is not None:
        raise Conflict(f"case {case_id!r} exists")
    try:
        with s.begin_nested():
            s.add(CaseRecord(id=case_id))
            version = CaseVersion(
                case_id=case_id, n=1, data=data, event=event, author_id=user.id if user else None
            )
            s.add(version)
    except IntegrityError:
        raise Conflict(f"case {case_id!r} exists") from None
    audit(s, user, "created", case_id, {"version": 1, "event": event})
    return version


def update_case(
    s: Session,
    case_id: str,
    source: str | bytes | Mapping[str, Any],
    user: User | None,
    event: str = "edited",
) -> CaseVersion:
    """Add a version (the previous ones stay); an unchanged case adds nothing."""
    get_case(s, case_id, lock=True)  # serialises concurrent edits of one case (PostgreSQL)
    data = canonical_case(source)
    given = data.get("id")
    if given is not None and given != case_id:
        raise CaseError([("id", f"{given!r} does not match the case being edited ({case_id!r})")])
    data["id"] = case_id
    prev = latest_version(s, case_id)
    if prev.data == data:
        return prev
    version = CaseVersion(
        case_id=case_id, n=prev.n + 1, data=data, event=event, author_id=user.id if user else None
    )
    s.add(version)
    s.flush()
    audit(
        s,
        user,
        "changed",
        case_id,
        {"version": version.n, "event": event, "changes": json_diff(prev.data, data)},
    )
    return version


def import_case(s: Session, text: str | bytes, user: User | None) -> CaseVersion:
    """A case file from elsewhere: a new case, or a new version when its id is in the store."""
    data = canonical_case(text)
    case_id = data.get("id")
    if case_id and s.get(CaseRecord, case_id) is not None:
        return update_case(s, case_id, data, user, event="imported")
    return create_case(s, data, user, event="imported")


def export_case(version: CaseVersion, fmt: str = "yaml") -> str:
    """The case file of a version, ready to load again (`rplcare assess` reads it as is)."""
    if fmt == "json":
        return json.dumps(version.data, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(version.data, sort_keys=False, allow_unicode=True)


def list_cases(
    s: Session, query: str | None = None, limit: int = 500
) -> list[tuple[CaseRecord, CaseVersion]]:
    """Cases with their latest version, newest change first; `query` matches the id."""
    latest = (
        select(CaseVersion.case_id, func.max(CaseVersion.n).label("n"))
        .group_by(CaseVersion.case_id)
        .subquery()
    )
    q = (
        select(CaseRecord, CaseVersion)
        .join(latest, latest.c.case_id == CaseRecord.id)
        .join(
            CaseVersion, (CaseVersion.case_id == latest.c.case_id) & (CaseVersion.n == latest.c.n)
        )
        .order_by(CaseVersion.created.desc(), CaseRecord.id)
        .limit(limit)
    )
    if query:
        q = q.where(func.lower(CaseRecord.id).contains(query.strip().lower(), autoescape=True))
    return [(c, v) for c, v in s.execute(q)]


def count_cases(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(CaseRecord)) or 0


# --- assessments ------------------------------------------------------------------------


def assessment_for(
    s: Session,
    version: CaseVersion,
    definition: str = "eshre2022",
    luteal_policy: str = "guideline",
    today: date | None = None,
) -> dict[str, Any]:
    """The assessment of a version (as `assess()` returns it), stored once per options/date."""
    from rplcare.knowledge import get_kb
    from rplcare.reasoning.assess import assess

    if definition not in DEFINITIONS:
        raise CaseError([("definition", f"{definition!r} is not one of {', '.join(DEFINITIONS)}")])
    if luteal_policy not in LUTEAL_POLICIES:
        raise CaseError(
            [("luteal_policy", f"{luteal_policy!r} is not one of {', '.join(LUTEAL_POLICIES)}")]
        )
    today = today or date.today()
    raw = version.data.get("assessed_on")
    as_of = date.fromisoformat(raw) if raw else today
    kb_version = get_kb().version
    key = (
        AssessmentRecord.case_version_id == version.id,
        AssessmentRecord.kb_version == kb_version,
        AssessmentRecord.definition == definition,
        AssessmentRecord.luteal_policy == luteal_policy,
        AssessmentRecord.assessed_on == as_of,
    )
    found = s.scalar(select(AssessmentRecord).where(*key))
    if found is not None:
        return found.data
    result = assess(version.data, today=as_of, definition=definition, luteal_policy=luteal_policy)
    data = result.to_dict()
    row = AssessmentRecord(
        case_version_id=version.id,
        kb_version=result.kb_version,
        input_hash=result.input_hash or "",
        definition=definition,
        luteal_policy=luteal_policy,
        assessed_on=as_of,
        data=data,
    )
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:  # another request stored the same assessment first
        pass
    return data


def case_status(assessment: Mapping[str, Any]) -> dict[str, bool]:
    """The list badges, read off the assessment (no rule of their own)."""
    ids = {f["id"] for f in assessment.get("findings", [])}
    preg = assessment.get("pregnancy") or {}
    pairs = (preg.get("hcg") or {}).get("pairs") or []
    alerts = (preg.get("hcg") or {}).get("alerts") or []
    return {
        "workup_incomplete": "state.workup_incomplete" in ids,
        "pregnant": "current.pregnant" in ids,
        "needs_review_24h": any(p.get("nice") == "review_within_24h" for p in pairs)
        or any(a.get("level") == "urgent" for a in alerts),
    }


def diff_assessments(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """What changed between two assessments: recommendation statuses and findings."""
    old_recs = {r["id"]: r["status"] for r in (old or {}).get("recommendations", [])}
    new_recs = {r["id"]: r["status"] for r in new.get("recommendations", [])}
    old_f = {f["id"] for f in (old or {}).get("findings", [])}
    new_f = {f["id"] for f in new.get("findings", [])}
    return {
        "recommendations_added": [
            {"id": i, "status": new_recs[i]} for i in new_recs if i not in old_recs
        ],
        "recommendations_removed": [
            {"id": i, "status": old_recs[i]} for i in old_recs if i not in new_recs
        ],
        "status_changed": [
            {"id": i, "before": old_recs[i], "after": new_recs[i]}
            for i in new_recs
            if i in old_recs and old_recs[i] != new_recs[i]
        ],
        "findings_added": sorted(new_f - old_f),
        "findings_removed": sorted(old_f - new_f),
    }


@dataclass
class HistoryItem:
    version: CaseVersion
    assessment: dict[str, Any]
    changes: dict[str, Any]


def history(
    s: Session, case_id: str, definition: str = "eshre2022", luteal_policy: str = "guideline"
) -> list[HistoryItem]:
    """Each version with its assessment and what changed from the previous one, newest first."""
    items: list[HistoryItem] = []
    prev: dict[str, Any] | None = None
    for v in case_versions(s, case_id):
        a = assessment_for(s, v, definition, luteal_policy)
        items.append(HistoryItem(v, a, diff_assessments(prev, a)))
        prev = a
    return items[::-1]


# --- overrides --------------------------------------------------------------------------


def record_override(
    s: Session,
    case_id: str,
    recommendation_id: str,
    decision: str,
    reason: str | None,
    comment: str,
    user: User | None,
    known_ids: set[str] | None = None,
) -> Override:
    """Store a decision on a recommendation; the latest per recommendation id is current."""
    get_case(s, case_id)
    problems: list[tuple[str, str]] = []
    if known_ids is not None and recommendation_id not in known_ids:
        problems.append(
            ("recommendation_id", f"{recommendation_id!r} is not a recommendation of this case")
        )
    if decision not in DECISIONS:
        problems.append(("decision", f"{decision!r} is not one of {', '.join(DECISIONS)}"))
    reason = reason or None
    if reason is not None and reason not in REASONS:
        problems.append(("reason", f"{reason!r} is not one of {', '.join(REASONS)}"))
    if decision == "overridden" and reason is None:
        problems.append(("reason", f"required when overriding (one of {', '.join(REASONS)})"))
    comment = (comment or "").strip()
    if decision == "overridden" and reason == "other" and not comment:
        problems.append(("comment", "required when the reason is 'other'"))
    if problems:
        raise CaseError(problems)
    row = Override(
        case_id=case_id,
        recommendation_id=recommendation_id,
        decision=decision,
        reason=reason,
        comment=comment,
        user_id=user.id if user else None,
    )
    s.add(row)
    s.flush()
    audit(
        s,
        user,
        "overrode",
        case_id,
        {
            "recommendation_id": recommendation_id,
            "decision": decision,
            "reason": reason,
            "comment": comment,
        },
    )
    return row


def override_history(s: Session, case_id: str) -> list[Override]:
    return list(
        s.scalars(
            select(Override)
            .where(Override.case_id == case_id)
            .order_by(Override.created.desc(), Override.id.desc())
        )
    )


def current_overrides(s: Session, case_id: str) -> dict[str, Override]:
    """Latest decision per recommendation id; they survive re-assessment because ids are stable."""
    out: dict[str, Override] = {}
    for row in override_history(s, case_id):
        out.setdefault(row.recommendation_id, row)
    return out


def override_json(row: Override) -> dict[str, Any]:
    return {
        "id": row.id,
        "recommendation_id": row.recommendation_id,
        "decision": row.decision,
        "reason": row.reason,
        "comment": row.comment,
        "user": row.user.name if row.user else None,
        "created": row.created.isoformat(),
    }


def overrides_for_report(s: Session, case_id: str) -> list[dict[str, Any]]:
    """The current decision per recommendation, as the report renderer takes them."""
    return [
        {**override_json(row), "when": row.created.strftime("%Y-%m-%d %H:%M UTC")}
        for row in current_overrides(s, case_id).values()
    ]


# --- pregnancy outcome (data entry) -----------------------------------------------------


def record_loss(
    s: Session, case_id: str, on: date, user: User | None, ga: str | None = None
) -> CaseVersion:
    """Move `current_pregnancy` into `pregnancies[]` as a miscarriage on `on`.

    The GA at loss is the one given, else the assessment's dating carried forward to `on`.
    """
    from rplcare.pregnancy.gestation import format_ga

    get_case(s, case_id, lock=True)
    prev = latest_version(s, case_id)
    data = json.loads(json.dumps(prev.data))
    current = data.pop("current_pregnancy", None)
    if current is None:
        raise CaseError([("current_pregnancy", "no current pregnancy to record as lost")])
    raw = data.get("assessed_on")
    as_of = date.fromisoformat(raw) if raw else on
    if ga is None:
        dating = (assessment_for(s, prev, today=max(as_of, on)).get("pregnancy") or {}).get(
            "dating"
        ) or {}
        if dating.get("ga_days") is None:
            raise CaseError([("ga", "the pregnancy has no dating: give the GA at loss")])
        ga = format_ga(int(dating["ga_days"]) + (on - as_of).days)
    past = {"outcome": "miscarriage", "ga": ga, "date": on.isoformat()}
    if current.get("conception"):
        past["conception"] = current["conception"]
    if any(sc.get("heartbeat") for sc in current.get("scans", [])):
        past["heartbeat_seen"] = True
    data.setdefault("pregnancies", []).append(past)
    if raw is not None and on > as_of:
        data["assessed_on"] = on.isoformat()
    return update_case(s, case_id, data, user, event="loss_recorded")


def is_lost(versions: list[CaseVersion]) -> bool:
    """True when the latest pregnancy news is a recorded loss (drives the after-loss handout)."""
    for v in reversed(versions):
        if v.data.get("current_pregnancy"):
            return False
        if v.event == "loss_recorded":
            return True
    return False


def load_directory(s: Session, folder: Path, user: User | None = None) -> list[str]:
    """Import every *.yaml / *.json case file of a folder; the ids loaded."""
    ids = []
    for path in sorted(folder.glob("*.y*ml")) + sorted(folder.glob("*.json")):
        ids.append(import_case(s, path.read_text(encoding="utf-8"), user).case_id)
    return ids


# --------------------------------------------------------------------------------------------
# CDS Hooks feedback (the `FeedbackStore` protocol of rplcare.interop.cds.feedback)
# --------------------------------------------------------------------------------------------


def add_cds_feedback(s: Session, service_id: str, feedback: Mapping[str, Any]) -> bool:
    """Store one card outcome; the spec lets a client report the same outcome twice, so a
    repeat is ignored (False). An override is also written to the audit log."""
    reason = (feedback.get("overrideReason") or {}).get("reason") or {}
    key = {
        "service_id": service_id,
        "card": str(feedback.get("card", "")),
        "outcome": str(feedback.get("outcome", "")),
        "outcome_timestamp": str(feedback.get("outcomeTimestamp") or ""),
        "reason_code": str(reason.get("code") or ""),
    }
    if s.scalar(select(CdsFeedback.id).filter_by(**key)) is not None:
        return False
    s.add(
        CdsFeedback(
            **key,
            recommendation_id=feedback.get("recommendation"),
            patient_id=feedback.get("patient"),
            payload=dict(feedback),
        )
    )
    if key["outcome"] == "overridden":
        audit(
            s,
            None,
            "overrode",
            None,
            {
                "source": "cds-hooks",
                "service": service_id,
                "card": key["card"],
                "reason": key["reason_code"],
                "recommendation": feedback.get("recommendation"),
            },
        )
    return True


def list_cds_feedback(s: Session, service_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(CdsFeedback)
        .filter_by(service_id=service_id)
        .order_by(CdsFeedback.created, CdsFeedback.id)
    )
    return [dict(r.payload) for r in rows]


class SqlFeedbackStore:
    """CDS Hooks feedback kept in the care record (survives restarts, shared by workers)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def add(self, service_id: str, feedback: dict[str, Any]) -> None:
        try:
            with self.store.write() as s:
                add_cds_feedback(s, service_id, feedback)
        except IntegrityError:  # the same outcome raced in from another worker
            pass

    def list(self, service_id: str) -> list[dict[str, Any]]:
        with self.store.read() as s:
            return list_cds_feedback(s, service_id)
