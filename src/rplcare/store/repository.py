"""Every read and write of the care record, shared by the JSON API, the pages and the commands.

Functions take an open `Session` (from `Store.write()` / `Store.read()`), so a request's
changes and its audit entry commit together or not at all. Case input is validated by
`rplcare.case.loader` before anything is added: invalid input saves nothing. Assessments come
from `rplcare.reasoning.assess` unchanged; this module only stores and compares them.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import yaml
from sqlalchemy import delete, func, select
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
    WebSession,
    WorklistEntry,
    utcnow,
)
from rplcare.store.patients import erase_identity, get_identity, identity_json
from rplcare.util import jsonio

TOKEN_PREFIX = "rpl_"
TOKEN_TOUCH = timedelta(minutes=1)  # last_used is refreshed at most this often
DEFINITIONS = ("eshre2022", "asrm2012", "rcog2023")
LUTEAL_POLICIES = ("guideline", "article")


class NotFound(LookupError):
    """No such case (or user): 404 in the API."""


class Conflict(ValueError):
    """The id is taken: 409 in the API."""


class AssessmentFailed(RuntimeError):
    """`assess()` raised on a stored case version: the case's pages explain it (500 with the
    reason), the worklist shows an error badge on its row and goes on with the others."""

    def __init__(self, case_id: str, version: int, cause: BaseException) -> None:
        self.case_id = case_id
        self.version = version
        self.reason = f"{type(cause).__name__}: {cause}"[:1000]
        super().__init__(
            f"the assessment of case {case_id!r} (version {version}) failed: {self.reason}"
        )


class StaleVersion(ValueError):
    """An update based on a version that is no longer the latest (412 in the API, the edit
    form shows what changed): saving it would silently drop the other writer's change.

    `changes` are the leaf-level differences (`json_diff`) from the version the writer read
    to the current one; empty when the expected version does not exist.
    """

    def __init__(
        self, case_id: str, expected: int, current: int, changes: list[dict[str, Any]]
    ) -> None:
        self.case_id = case_id
        self.expected = expected
        self.current = current
        self.changes = changes
        super().__init__(
            f"case {case_id!r} is at version {current}, not {expected}: "
            "it changed since it was read; reload and apply the edit again"
        )


# --- accounts ---------------------------------------------------------------------------

SESSION_IDLE = timedelta(minutes=int(os.environ.get("RPLCARE_SESSION_IDLE_MINUTES", "30")))
SESSION_MAX = timedelta(hours=int(os.environ.get("RPLCARE_SESSION_MAX_HOURS", "12")))
SESSION_TOUCH = timedelta(seconds=60)  # last_seen is refreshed at most this often
#: the client address of the request being served (set by the web app; audit rows carry it)
CLIENT: ContextVar[str | None] = ContextVar("rplcare_client", default=None)


class PolicyError(ValueError):
    """A password or name the policy refuses; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(24))


def hash_password(password: str) -> str:
    from rplcare.store.passwords import normalise

    return _hasher().hash(normalise(password))


def verify_password(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    from rplcare.store.passwords import normalise

    try:
        # an account without a password costs the same time as one with (no enumeration)
        ok = _hasher().verify(stored or _dummy_hash(), normalise(password))
    except (VerificationError, InvalidHashError):
        return False
    return bool(stored) and ok


def check_identifier(value: Any, field: str, max_length: int) -> str:
    """An identifier (user name, case id, token name) as every store keeps it: a string of at
    most `max_length` characters without NUL or other control characters (PostgreSQL refuses
    NUL; control characters break headers and logs)."""
    if not isinstance(value, str):
        raise CaseError([(field, f"{type(value).__name__}: must be a string")])
    bad = next((ch for ch in value if unicodedata.category(ch) in ("Cc", "Cf", "Cs")), None)
    if bad is not None:
        raise CaseError([(field, f"contains the control character U+{ord(bad):04X}")])
    if len(value) > max_length:
        raise CaseError([(field, f"{len(value)} characters; at most {max_length}")])
    return value


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValueError("a user needs a name")
    try:
        return check_identifier(name, "name", 100)
    except CaseError as exc:
        raise ValueError("; ".join(exc.lines())) from None


def check_password(password: str, user_name: str = "") -> None:
    from rplcare.store.passwords import problems

    found = problems(password, user_name)
    if found:
        raise PolicyError([f"password: {p}" for p in found])


def create_user(
    s: Session,
    name: str,
    role: str,
    password: str | None = None,
    actor: User | None = None,
) -> User:
    name = _check_name(name)
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if password:
        check_password(password, name)
    if s.scalar(select(User).where(User.name == name)) is not None:
        raise Conflict(f"user {name!r} exists")
    user = User(
        name=name,
        role=role,
        password_hash=hash_password(password) if password else None,
        password_changed=utcnow() if password else None,
    )
    s.add(user)
    s.flush()
    audit(s, actor, "user_created", None, {"user_id": user.id, "role": role})
    return user


def authenticate(s: Session, name: str, password: str) -> User | None:
    """The user for a name and password, else None, in the same time either way."""
    user = s.scalar(select(User).where(User.name == (name or "").strip()[:100]))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        return None
    return user


def set_password(s: Session, user: User, password: str, actor: User | None) -> None:
    """A new password (own change or admin reset): every session of the user ends."""
    check_password(password, user.name)
    user.password_hash = hash_password(password)
    user.password_changed = utcnow()
    end_sessions(s, user.id)
    audit(
        s,
        actor,
        "password_changed",
        None,
        {
            "user_id": user.id,
            "by": "self" if actor is not None and actor.id == user.id else "admin",
        },
    )


def change_password(s: Session, user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise PolicyError(["current password: wrong"])
    set_password(s, user, new, user)


def set_role(s: Session, target: User, role: str, actor: User | None) -> None:
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    before = target.role
    target.role = role
    end_sessions(s, target.id)
    audit(s, actor, "user_changed", None, {"user_id": target.id, "role": [before, role]})


def set_disabled(s: Session, target: User, disabled: bool, actor: User | None) -> None:
    target.disabled = disabled
    if disabled:
        end_sessions(s, target.id)
    audit(s, actor, "user_changed", None, {"user_id": target.id, "disabled": disabled})


def get_user(s: Session, uid: int) -> User:
    user = s.get(User, uid)
    if user is None:
        raise NotFound(f"no user {uid}")
    return user


def _token_hash(token: str) -> str:
    # tokens are 256-bit random strings, so a fast hash is enough (unlike passwords)
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(
    s: Session,
    user: User,
    name: str = "",
    expires_days: int | None = None,
    actor: User | None = None,
) -> str:
    """A new API token for `user`; only its hash is stored, so this is the one time it shows."""
    name = check_identifier((name or "").strip(), "token name", 100)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    row = ApiToken(token_hash=_token_hash(token), user_id=user.id, name=name, expires=expires)
    s.add(row)
    s.flush()
    audit(
        s,
        actor,
        "token_issued",
        None,
        {
            "user_id": user.id,
            "token_id": row.id,
            "expires": expires.isoformat() if expires else None,
        },
    )
    return token


def list_tokens(s: Session, user_id: int | None = None) -> list[ApiToken]:
    q = select(ApiToken).order_by(ApiToken.user_id, ApiToken.id)
    if user_id is not None:
        q = q.where(ApiToken.user_id == user_id)
    return list(s.scalars(q))


def revoke_token(s: Session, token_id: int, actor: User | None) -> None:
    row = s.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked is None:
        row.revoked = utcnow()
        audit(s, actor, "token_revoked", None, {"user_id": row.user_id, "token_id": row.id})


def user_for_token(s: Session, token: str) -> User | None:
    row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked is not None or row.user.disabled:
        return None
    now = utcnow()
    if row.expires is not None and row.expires <= now:
        return None
    last = row.last_used
    if last is None or now - last > TOKEN_TOUCH:
        row.last_used = now
    return row.user


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.name)))


# --- web sessions -------------------------------------------------------------------------


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(s: Session, user: User) -> str:
    """A new server-side session; the returned random id goes in the (signed) cookie."""
    sid = secrets.token_urlsafe(32)
    s.add(WebSession(id=_sid_hash(sid), user_id=user.id, client=(CLIENT.get() or "")[:64]))
    s.flush()
    return sid


def session_state(s: Session, sid: str) -> tuple[WebSession | None, bool]:
    """The live session for a cookie id (None when ended or timed out), and whether its
    `last_seen` is due a refresh (done by the caller in a write transaction)."""
    if not isinstance(sid, str) or not sid:
        return None, False
    row = s.get(WebSession, _sid_hash(sid))
    if row is None:
        return None, False
    now = utcnow()
    if now - row.created > SESSION_MAX or now - row.last_seen > SESSION_IDLE:
        return None, False
    return row, now - row.last_seen > SESSION_TOUCH


def touch_session(s: Session, sid: str) -> None:
    row = s.get(WebSession, _sid_hash(sid))
    if row is not None:
        row.last_seen = utcnow()


def end_session(s: Session, sid: str) -> None:
    s.execute(delete(WebSession).where(WebSession.id == _sid_hash(sid)))


def end_sessions(s: Session, user_id: int) -> None:
    s.execute(delete(WebSession).where(WebSession.user_id == user_id))


# --- audit ------------------------------------------------------------------------------


def audit(
    s: Session,
    user: User | None,
    action: str,
    case_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """One audit row: when, who (and their role then), from where, what, on which record.
    Details hold ids and field paths only, never clinical values (the versions hold those)."""
    s.add(
        AuditEntry(
            user_id=user.id if user else None,
            role=user.role if user else None,
            client=(CLIENT.get() or "")[:64] or None,
            action=action,
            case_id=case_id,
            detail=dict(detail or {}),
        )
    )


def audit_log(
    s: Session, case_id: str | None = None, limit: int = 200, action: str | None = None
) -> list[AuditEntry]:
    """Newest first, as a reader of a record's history expects."""
    q = select(AuditEntry).order_by(AuditEntry.created.desc(), AuditEntry.id.desc()).limit(limit)
    if case_id is not None:
        q = q.where(AuditEntry.case_id == case_id)
    if action is not None:
        q = q.where(AuditEntry.action == action)
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
    _check_text(out)
    if data.get("assessed_on") is None:
        out.pop("assessed_on", None)
    return out


def _check_text(data: Any) -> None:
    """No NUL or other control characters (tab and newline aside) in any stored string:
    PostgreSQL refuses NUL in JSON, so what one store accepts every store must."""
    problems: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
        elif isinstance(node, str):
            bad = next(
                (
                    ch
                    for ch in node
                    if ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cs")
                ),
                None,
            )
            if bad is not None:
                problems.append((path, f"contains the control character U+{ord(bad):04X}"))
    if problems:
        raise CaseError(sorted(problems))


def new_case_id() -> str:
    return "case-" + secrets.token_hex(4)


_ADDRESSABLE = re.compile(r"[^\s/\\?#%][^/\\?#%]*(?<!\s)")


def check_case_id(case_id: str) -> None:
    """A stored case is addressed by URL (`/cases/{id}`), so its id must fit in one segment,
    and in the column (200) without control characters on every store."""
    check_identifier(case_id, "id", 200)
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
    expected_version: int | None = None,
) -> CaseVersion:
    """Add a version (the previous ones stay); an unchanged case adds nothing.

    `expected_version` is the version the writer read (ETag / If-Match, the form's hidden
    `version`): when another version was saved since, StaleVersion is raised and nothing is
    saved. The check runs under the case's row lock (PostgreSQL) or the store's single
    writer (SQLite), so two writers of the same version cannot both succeed.
    """
    get_case(s, case_id, lock=True)  # serialises concurrent edits of one case (PostgreSQL)
    data = canonical_case(source)
    given = data.get("id")
    if given is not None and given != case_id:
        raise CaseError([("id", f"{given!r} does not match the case being edited ({case_id!r})")])
    data["id"] = case_id
    prev = latest_version(s, case_id)
    check_version(s, prev, expected_version)
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
        # field paths only: the values are in the versions, not in the audit log
        {
            "version": version.n,
            "event": event,
            "changes": [c["path"] for c in json_diff(prev.data, data)],
        },
    )
    return version


def check_version(s: Session, latest: CaseVersion, expected: int | None) -> None:
    """Raise StaleVersion when `expected` is given and is not the latest version number."""
    if expected is None or expected == latest.n:
        return
    base = s.scalar(
        select(CaseVersion).where(CaseVersion.case_id == latest.case_id, CaseVersion.n == expected)
    )
    changes = json_diff(base.data, latest.data) if base is not None else []
    raise StaleVersion(latest.case_id, expected, latest.n, changes)


def case_exists(s: Session, case_id: str) -> bool:
    return s.get(CaseRecord, case_id) is not None


def import_case(
    s: Session,
    text: str | bytes | Mapping[str, Any],
    user: User | None,
    expected_version: int | None = None,
) -> CaseVersion:
    """A case file from elsewhere: a new case, or a new version when its id is in the store
    (checked against `expected_version` when given)."""
    data = canonical_case(text)
    case_id = data.get("id")
    if case_id and s.get(CaseRecord, case_id) is not None:
        return update_case(
            s, case_id, data, user, event="imported", expected_version=expected_version
        )
    return create_case(s, data, user, event="imported")


def export_case(version: CaseVersion, fmt: str = "yaml") -> str:
    """The case file of a version, ready to load again (`rplcare assess` reads it as is)."""
    if fmt == "json":
        return jsonio.dumps(version.data) + "\n"
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


def audit_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "action": e.action,
        "user": e.user.name if e.user else None,
        "role": e.role,
        "client": e.client,
        "created": e.created.isoformat(),
        "detail": e.detail,
    }


def full_record(s: Session, case_id: str) -> dict[str, Any]:
    """A patient's whole record: every version, its stored assessments, every decision on a
    recommendation and the record's audit trail (what a subject-access request asks for)."""
    versions = case_versions(s, case_id)
    ids = [v.id for v in versions]
    assessments = list(
        s.scalars(
            select(AssessmentRecord)
            .where(AssessmentRecord.case_version_id.in_(ids))
            .order_by(AssessmentRecord.id)
        )
    )
    by_version = {v.id: v.n for v in versions}
    return {
        "format": "rplcare.record/1",
        "case_id": case_id,
        "exported": utcnow().isoformat(),
        # who the record is about (kept apart from the clinical versions; issue 11 §2)
        "patient": identity_json(get_identity(s, case_id)),
        "versions": [
            {
                "version": v.n,
                "event": v.event,
                "author": v.author.name if v.author else None,
                "created": v.created.isoformat(),
                "case": v.data,
            }
            for v in versions
        ],
        "assessments": [
            {
                "version": by_version.get(a.case_version_id),
                "kb_version": a.kb_version,
                "definition": a.definition,
                "luteal_policy": a.luteal_policy,
                "assessed_on": a.assessed_on.isoformat(),
                "assessment": a.data,
            }
            for a in assessments
        ],
        "overrides": [override_json(o) for o in reversed(override_history(s, case_id))],
        "audit": [audit_json(e) for e in reversed(audit_log(s, case_id, limit=100_000))],
    }


def record_bundle(record: Mapping[str, Any], identity: bool = True) -> dict[str, Any]:
    """The record as a FHIR R4 collection Bundle: the latest case as FHIR resources, and every
    version and the decisions as attached JSON (DocumentReference), so nothing is lost.

    `identity`: the Patient resource carries the name, hospital number (identifier type MR),
    contact and date of birth of the `patients` table; False leaves them out (the clinical
    record's own birth date aside)."""
    import base64

    from rplcare.case.loader import load_case
    from rplcare.interop.fhir.write import case_to_bundle
    from rplcare.store.patients import fhir_identity

    latest = record["versions"][-1]["case"]
    entries = list(case_to_bundle(load_case(latest)).get("entry", []))
    person = fhir_identity(record.get("patient")) if identity else {}
    for entry in entries:
        res = entry.get("resource") or {}
        if res.get("resourceType") == "Patient" and person:
            res["identifier"] = [*(res.get("identifier") or []), *person.pop("identifier", [])]
            res.update(person)

    def attached(title: str, data: Any, when: str) -> dict[str, Any]:
        raw = jsonio.dumps_bytes(data, compact=True, default=str)
        return {
            "resource": {
                "resourceType": "DocumentReference",
                "status": "current",
                "description": title,
                "date": when,
                "content": [
                    {
                        "attachment": {
                            "contentType": "application/json",
                            "title": title,
                            "data": base64.b64encode(raw).decode(),
                        }
                    }
                ],
            }
        }

    for v in record["versions"]:
        entries.append(attached(f"case version {v['version']} ({v['event']})", v, v["created"]))
    entries.append(
        attached("decisions on recommendations", record["overrides"], record["exported"])
    )
    entries.append(attached("audit trail", record["audit"], record["exported"]))
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def erase_case(s: Session, case_id: str, user: User, reason: str) -> dict[str, Any]:
    """Erase a patient's record from every table (versions, assessments, decisions, CDS
    feedback naming the case) by an admin with a reason. The audit keeps a tombstone (who,
    when, why, how many rows) and the record's audit rows lose their details."""
    reason = check_identifier((reason or "").strip(), "reason", 500)
    if len(reason) < 10:
        raise CaseError([("reason", "give the reason for the erasure (10 characters or more)")])
    get_case(s, case_id, lock=True)
    ids = [v for v in s.scalars(select(CaseVersion.id).where(CaseVersion.case_id == case_id))]
    counts = {
        "versions": len(ids),
        "assessments": s.execute(
            delete(AssessmentRecord).where(AssessmentRecord.case_version_id.in_(ids))
        ).rowcount,
        "overrides": s.execute(delete(Override).where(Override.case_id == case_id)).rowcount,
        "cds_feedback": s.execute(
            delete(CdsFeedback).where(CdsFeedback.patient_id == case_id)
        ).rowcount,
        "patient": erase_identity(s, case_id),
        "worklist": s.execute(
            delete(WorklistEntry).where(WorklistEntry.case_id == case_id)
        ).rowcount,
    }
    s.execute(delete(CaseVersion).where(CaseVersion.case_id == case_id))
    s.execute(delete(CaseRecord).where(CaseRecord.id == case_id))
    from sqlalchemy import update

    s.execute(
        update(AuditEntry).where(AuditEntry.case_id == case_id).values(detail={"erased": True})
    )
    audit(s, user, "erased", case_id, {"reason": reason, "rows": counts})
    return {"erased": case_id, "rows": counts}


# --- assessments ------------------------------------------------------------------------


def assessment_for(
    s: Session,
    version: CaseVersion,
    definition: str = "eshre2022",
    luteal_policy: str = "guideline",
    today: date | None = None,
) -> dict[str, Any]:
    """The assessment of a version (as `assess()` returns it), stored once per options/date."""
    return assessment_record(s, version, definition, luteal_policy, today).data


def assessment_record(
    s: Session,
    version: CaseVersion,
    definition: str = "eshre2022",
    luteal_policy: str = "guideline",
    today: date | None = None,
) -> AssessmentRecord:
    """The stored assessment made by the loaded knowledge base and this engine.

    Cached rows are keyed by the knowledge base's content hash and the engine version as well
    as the version, options and date: a row made by other knowledge or another engine is stale;
    it is recomputed here, the new row points at it (`replaces_id`) and the audit log records
    `recomputed` with both stamps.
    """
    from rplcare import __version__ as engine
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
    kb = get_kb()
    key = (
        AssessmentRecord.case_version_id == version.id,
        AssessmentRecord.definition == definition,
        AssessmentRecord.luteal_policy == luteal_policy,
        AssessmentRecord.assessed_on == as_of,
    )
    stamp = (AssessmentRecord.kb_hash == kb.content_hash, AssessmentRecord.engine == engine)
    found = s.scalar(select(AssessmentRecord).where(*key, *stamp))
    if found is not None:
        return found
    stale = s.scalar(
        select(AssessmentRecord).where(*key).order_by(AssessmentRecord.id.desc()).limit(1)
    )
    try:
        result = assess(
            version.data, today=as_of, definition=definition, luteal_policy=luteal_policy, kb=kb
        )
        data = result.to_dict()
    except Exception as exc:  # a stored case must never take a shared page down
        raise AssessmentFailed(version.case_id, version.n, exc) from exc
    row = AssessmentRecord(
        case_version_id=version.id,
        kb_version=result.kb_version,
        kb_hash=kb.content_hash,
        engine=engine,
        replaces_id=stale.id if stale is not None else None,
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
        again = s.scalar(select(AssessmentRecord).where(*key, *stamp))
        return again if again is not None else row
    if stale is not None:
        audit(
            s,
            None,
            "recomputed",
            version.case_id,
            {
                "version": version.n,
                "reason": "knowledge base or engine changed",
                "before": {
                    "kb_version": stale.kb_version,
                    "kb_hash": stale.kb_hash or None,
                    "engine": stale.engine or None,
                },
                "after": {"kb_version": kb.version, "kb_hash": kb.content_hash, "engine": engine},
                "plan_changes": diff_assessments(stale.data, data),
            },
        )
    return row


def case_status(assessment: Mapping[str, Any]) -> dict[str, bool]:
    """The list badges, read off the assessment (no rule of their own)."""
    ids = {f["id"] for f in assessment.get("findings", [])}
    preg = assessment.get("pregnancy") or {}
    pairs = (preg.get("hcg") or {}).get("pairs") or []
    alerts = (preg.get("hcg") or {}).get("alerts") or []
    # an action due within 24 h or sooner in the assessment's ordered list (issue 9 §2): the
    # badge says what the plan's banner says
    actions = assessment.get("actions") or []
    return {
        "workup_incomplete": "state.workup_incomplete" in ids,
        "pregnant": "current.pregnant" in ids,
        "needs_review_24h": any(p.get("nice") == "review_within_24h" for p in pairs)
        or any(a.get("level") == "urgent" for a in alerts)
        or any(x.get("urgency") not in (None, "routine") for x in actions),
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
    # set when the stored assessment was recomputed because the knowledge (or engine) changed:
    # the stamps before/after and what that changed in the plan of this same version
    knowledge_change: dict[str, Any] | None = None


def history(
    s: Session, case_id: str, definition: str = "eshre2022", luteal_policy: str = "guideline"
) -> list[HistoryItem]:
    """Each version with its assessment and what changed from the previous one, newest first."""
    items: list[HistoryItem] = []
    prev: dict[str, Any] | None = None
    for v in case_versions(s, case_id):
        row = assessment_record(s, v, definition, luteal_policy)
        a = row.data
        change = None
        if row.replaces_id is not None:
            old = s.get(AssessmentRecord, row.replaces_id)
            if old is not None:
                change = {
                    "before": {"kb_version": old.kb_version, "kb_hash": old.kb_hash or None},
                    "after": {"kb_version": row.kb_version, "kb_hash": row.kb_hash},
                    "engine": {"before": old.engine or None, "after": row.engine},
                    "plan": diff_assessments(old.data, a),
                }
        items.append(HistoryItem(v, a, diff_assessments(prev, a), change))
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
            "override_id": row.id,  # the comment (free text) stays in the override row
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
    s: Session,
    case_id: str,
    on: date,
    user: User | None,
    ga: str | None = None,
    expected_version: int | None = None,
) -> CaseVersion:
    """Move `current_pregnancy` into `pregnancies[]` as a miscarriage on `on`.

    The GA at loss is the one given, else the assessment's dating carried forward to `on`.
    """
    version = record_outcome(
        s, case_id, "miscarriage", on, user, ga=ga, expected_version=expected_version
    )
    assert isinstance(version, CaseVersion)
    return version


#: what the outcome form records; the first seven end the pregnancy (PastPregnancy.outcome)
RECORDED_OUTCOMES = (
    "live_birth",
    "miscarriage",
    "ectopic",
    "molar",
    "termination",
    "stillbirth",
    "biochemical",
    "ongoing_12",
    "ongoing_24",
)
#: outcomes after which the handout is the after-loss one (`is_lost`). Not a termination: an
#: induced ending is not a pregnancy loss (ESHRE: a loss is the spontaneous demise of a
#: pregnancy before viability; spec recommendations.md §1: "termination [is] not [an] RPL
#: loss"), so the handout after one is the plan of a woman who is not pregnant
LOSS_OUTCOMES = ("miscarriage", "ectopic", "molar", "stillbirth", "biochemical")
#: the model requires the GA of these (PastPregnancy): given, or carried from the dating
GA_NEEDED = ("miscarriage", "stillbirth", "live_birth")


def _ga_by_dating(s: Session, version: CaseVersion, day: date) -> tuple[int | None, dict[str, Any]]:
    """The GA (days) on `day` by the pregnancy's own dating, carried forward from the
    assessment date (None: not dated), and the dating itself."""
    raw = version.data.get("assessed_on")
    as_of = date.fromisoformat(raw) if raw else day
    assessment = assessment_for(s, version, today=max(as_of, day))
    dating = (assessment.get("pregnancy") or {}).get("dating") or {}
    if dating.get("ga_days") is None:
        return None, dating
    return int(dating["ga_days"]) + (day - as_of).days, dating


def ga_by_dating(s: Session, case_id: str, day: date) -> str | None:
    """The current pregnancy's GA on `day` by its dating (W+D), shown beside the GA typed on
    the outcome form's confirmation step; None when it is not dated or not yet begun."""
    from rplcare.pregnancy.gestation import format_ga

    version = latest_version(s, case_id)
    if not version.data.get("current_pregnancy"):
        return None
    days, _ = _ga_by_dating(s, version, day)
    return format_ga(days) if days is not None and days >= 0 else None


def record_outcome(
    s: Session,
    case_id: str,
    outcome: str,
    on: date | str,
    user: User | None,
    ga: str | None = None,
    birth_weight_g: str | int | None = None,
    expected_version: int | None = None,
    dry_run: bool = False,
) -> CaseVersion | dict[str, Any]:
    """Record how the current pregnancy went (issue 11 §4).

    An ending (live birth, loss, termination) moves `current_pregnancy` into `pregnancies[]`
    with the date, the GA (given, else the assessment's dating carried forward to `on`), the
    conception, whether a heartbeat was seen, the furthest milestone recorded (`reached_weeks`)
    and the birth weight; "ongoing past 12 / 24
    weeks" adds a milestone to the current pregnancy. Every problem is raised at once as a
    CaseError and nothing is saved. `dry_run`: check and return the case as it would be
    stored, without saving (the confirmation step).
    """
    from rplcare.pregnancy.gestation import format_ga

    problems: list[tuple[str, str]] = []
    if outcome not in RECORDED_OUTCOMES:
        problems.append(("outcome", f"{outcome!r}: choose one of {', '.join(RECORDED_OUTCOMES)}"))
    day: date | None = on if isinstance(on, date) else None
    if day is None:
        try:
            day = date.fromisoformat(str(on).strip())
        except ValueError:
            problems.append(("date", f"{str(on)[:40]!r} is not a date (YYYY-MM-DD)"))
    weight: int | None = None
    if birth_weight_g not in (None, ""):
        text = str(birth_weight_g).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 5):
            problems.append(("birth_weight_g", f"{text[:20]!r} is not a weight in grams"))
        elif outcome not in ("live_birth", "stillbirth"):
            problems.append(("birth_weight_g", "only for a live birth or a stillbirth"))
        else:
            weight = int(text)
    get_case(s, case_id, lock=not dry_run)
    prev = latest_version(s, case_id)
    check_version(s, prev, expected_version)
    data = orjson.loads(jsonio.dumps_bytes(prev.data, compact=True))  # a deep copy
    current = data.pop("current_pregnancy", None)
    if current is None:
        problems.append(("current_pregnancy", "no current pregnancy to record an outcome for"))
    if problems or day is None or current is None:
        raise CaseError(problems)
    raw = data.get("assessed_on")
    as_of = date.fromisoformat(raw) if raw else day
    event = "outcome_recorded"
    ga_then, dating = _ga_by_dating(s, prev, day)
    if ga_then is not None and ga_then < 0:
        began = dating.get("lmp_equivalent") or "its dating"
        raise CaseError([("date", f"{day} is before this pregnancy began ({began})")])
    if outcome in ("ongoing_12", "ongoing_24"):
        weeks = 12 if outcome == "ongoing_12" else 24
        if ga_then is not None and ga_then < weeks * 7:  # days per week
            raise CaseError(
                [
                    (
                        "date",
                        f"on {day} the pregnancy is {format_ga(ga_then)} by its dating: "
                        f"not yet past {weeks} weeks",
                    )
                ]
            )
        milestones = [m for m in current.get("milestones", []) if m.get("weeks") != weeks]
        current["milestones"] = [*milestones, {"weeks": weeks, "date": day.isoformat()}]
        data["current_pregnancy"] = current
    else:
        if ga is None:
            if ga_then is not None:
                ga = format_ga(ga_then)
            elif outcome in GA_NEEDED:
                raise CaseError([("ga", "the pregnancy has no dating: give the GA")])
        elif outcome == "live_birth" and ga_then is not None:
            _check_birth_ga(ga, ga_then, day)
        past: dict[str, Any] = {"outcome": outcome, "date": day.isoformat()}
        if ga is not None:
            past["ga"] = ga
        if current.get("conception"):
            past["conception"] = current["conception"]
        if current.get("lmp"):  # kept so the record checks can compare the GA with the dates
            past["lmp"] = current["lmp"]
        if any(sc.get("heartbeat") for sc in current.get("scans", [])):
            past["heartbeat_seen"] = True
        reached = [m["weeks"] for m in current.get("milestones", []) if m.get("weeks")]
        if reached:  # the milestones end with the pregnancy: the furthest one is kept
            past["reached_weeks"] = max(reached)
        if weight is not None:
            past["birth_weight_g"] = weight
        data.setdefault("pregnancies", []).append(past)
        if outcome in LOSS_OUTCOMES:
            event = "loss_recorded"
    if raw is not None and day > as_of:
        data["assessed_on"] = day.isoformat()
    n = len(data.get("pregnancies", [])) - 1
    try:
        if dry_run:
            return canonical_case(data)
        return update_case(s, case_id, data, user, event=event, expected_version=prev.n)
    except CaseError as exc:  # the new pregnancy's fields, named as on the outcome form
        here = f"pregnancies[{n}]."
        raise CaseError([(p.replace(here, ""), m) for p, m in exc.problems]) from None


def _check_birth_ga(ga: str, ga_then: int, day: date) -> None:
    """A live birth's GA as entered against the pregnancy's dating (LMP, transfer or CRL) on
    the birth date: further apart than the knowledge base's tolerance is an input error."""
    from rplcare.knowledge import get_kb
    from rplcare.pregnancy.gestation import format_ga, parse_ga

    try:
        given = parse_ga(ga)
    except ValueError:
        return  # the model names the malformed GA
    tolerance = get_kb().param("record.birth_ga_dating_tolerance_days")
    if abs(given - ga_then) > tolerance:
        raise CaseError(
            [
                (
                    "ga",
                    f"{format_ga(given)} contradicts the dating: on {day} this pregnancy is "
                    f"{format_ga(ga_then)} (more than {tolerance} days apart); correct the GA "
                    "or the date",
                )
            ]
        )


def is_lost(versions: list[CaseVersion]) -> bool:
    """True when the latest pregnancy news is a recorded loss (drives the after-loss handout).

    A version stored as `loss_recorded` for a termination (before terminations stopped being
    recorded as losses) is not one: the pregnancy it moved into the history decides."""
    for v in reversed(versions):
        if v.data.get("current_pregnancy"):
            return False
        if v.event == "loss_recorded":
            ended = (v.data.get("pregnancies") or [{}])[-1].get("outcome")
            return ended in LOSS_OUTCOMES
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
