"""Patients as people (issue 11 §2): name, date of birth, hospital number (MRN), contact.

Identity lives in its own table (`patients`), never in a case version: the clinical record that
`assess()` reads holds no name, so identity cannot change an assessment, and every export can
leave it out. The audit log names the fields changed, never their values.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rplcare.case.errors import CaseError
from rplcare.store.models import PatientIdentity, User, utcnow

#: the fields of a patient's identity, in the order the form and the headers show them
FIELDS = ("name", "birth_date", "mrn", "contact")
LABELS = {
    "name": "Name",
    "birth_date": "Date of birth",
    "mrn": "Hospital number",
    "contact": "Contact",
}
MAX_LENGTH = {"name": 200, "mrn": 64, "contact": 500}


def fold(text: str) -> str:
    """The search key of a text: NFKC, case-folded, spaces collapsed (SQL `lower()` folds
    ASCII only on SQLite, so names are folded here once, when stored)."""
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def parse_day(text: str) -> date | None:
    """A date typed in a search or a form: YYYY-MM-DD, or DD/MM/YYYY and DD.MM.YYYY."""
    text = (text or "").strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    for sep in ("/", ".", "-"):
        parts = text.split(sep)
        if len(parts) == 3 and all(p.isascii() and p.isdigit() for p in parts):
            d, m, y = (int(p) for p in parts)
            if len(parts[2]) == 4:
                try:
                    return date(y, m, d)
                except ValueError:
                    return None
    return None


def _text(
    problems: list[tuple[str, str]], values: Mapping[str, Any], field: str, required: bool = False
) -> str:
    raw = values.get(field)
    text = "" if raw is None else str(raw)
    text = " ".join(text.split()) if field != "contact" else text.strip()
    bad = next(
        (
            ch
            for ch in text
            if ch not in "\n\r\t" and unicodedata.category(ch) in ("Cc", "Cf", "Cs")
        ),
        None,
    )
    if bad is not None:
        problems.append((field, f"contains the control character U+{ord(bad):04X}"))
    if len(text) > MAX_LENGTH[field]:
        problems.append((field, f"{len(text)} characters; at most {MAX_LENGTH[field]}"))
    if required and not text:
        problems.append((field, "required"))
    return text


def check_identity(values: Mapping[str, Any], today: date | None = None) -> dict[str, Any]:
    """The identity as stored, or CaseError naming every problem (nothing is saved then).

    The name is required; the date of birth, when given, is a real date not after today."""
    problems: list[tuple[str, str]] = []
    unknown = sorted(set(values) - set(FIELDS))
    for key in unknown:
        problems.append((str(key), f"not a patient field (allowed: {', '.join(FIELDS)})"))
    name = _text(problems, values, "name", required=True)
    mrn = _text(problems, values, "mrn")
    contact = _text(problems, values, "contact")
    raw_day = values.get("birth_date")
    day: date | None = None
    if isinstance(raw_day, date):
        day = raw_day
    elif raw_day not in (None, ""):
        day = parse_day(str(raw_day))
        if day is None:
            problems.append(("birth_date", f"{str(raw_day)[:40]!r} is not a date (YYYY-MM-DD)"))
    if day is not None and day > (today or date.today()):
        problems.append(("birth_date", f"{day} is after today"))
    if problems:
        raise CaseError(problems)
    return {"name": name, "birth_date": day, "mrn": mrn or None, "contact": contact}


def get_identity(s: Session, case_id: str) -> PatientIdentity | None:
    return s.get(PatientIdentity, case_id)


def identity_json(row: PatientIdentity | None) -> dict[str, Any] | None:
    """The identity as exports and the API carry it (None: not recorded)."""
    if row is None:
        return None
    return {
        "name": row.name,
        "birth_date": row.birth_date.isoformat() if row.birth_date else None,
        "mrn": row.mrn,
        "contact": row.contact or None,
    }


def set_identity(
    s: Session,
    case_id: str,
    values: Mapping[str, Any],
    user: User | None,
    today: date | None = None,
    how: str = "form",
) -> PatientIdentity:
    """Record or change a patient's identity; the audit row lists the fields changed (their
    values stay in this table only)."""
    from rplcare.store.repository import audit, get_case

    get_case(s, case_id, lock=True)
    clean = check_identity(values, today)
    row = s.get(PatientIdentity, case_id)
    before = identity_json(row) or {}
    if row is None:
        row = PatientIdentity(case_id=case_id)
        s.add(row)
    row.name = clean["name"]
    row.name_folded = fold(clean["name"])[:200]
    row.birth_date = clean["birth_date"]
    row.mrn = clean["mrn"]
    row.contact = clean["contact"]
    after = identity_json(row) or {}
    changed = [f for f in FIELDS if before.get(f) != after.get(f)]
    if changed:
        row.updated = utcnow()
        s.flush()
        audit(s, user, "patient_changed", case_id, {"fields": changed, "how": how})
    return row


def erase_identity(s: Session, case_id: str) -> int:
    """Delete the identity row of a case (erasure); the number of rows deleted."""
    result = s.execute(delete(PatientIdentity).where(PatientIdentity.case_id == case_id))
    return int(getattr(result, "rowcount", 0) or 0)  # a CursorResult for a DELETE


def identities(s: Session, case_ids: list[str]) -> dict[str, PatientIdentity]:
    if not case_ids:
        return {}
    rows = s.scalars(select(PatientIdentity).where(PatientIdentity.case_id.in_(case_ids)))
    return {r.case_id: r for r in rows}


def identity_from_fhir(patient: Mapping[str, Any]) -> dict[str, Any] | None:
    """Name, date of birth, hospital number and contact from a FHIR R4 Patient resource (what
    the FHIR import offers to keep); None when it carries no name."""
    names = [n for n in patient.get("name") or [] if isinstance(n, Mapping)]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    text = ""
    if name is not None:
        text = str(name.get("text") or "").strip()
        if not text:
            given = " ".join(str(g) for g in name.get("given") or [] if isinstance(g, str))
            text = " ".join(p for p in (given, str(name.get("family") or "")) if p).strip()
    if not text:
        return None
    mrn = None
    for ident in patient.get("identifier") or []:
        if not isinstance(ident, Mapping):
            continue
        codes = [
            c.get("code")
            for c in ((ident.get("type") or {}).get("coding") or [])
            if isinstance(c, Mapping)
        ]
        if "MR" in codes and ident.get("value"):
            mrn = str(ident["value"])
            break
    contact = ", ".join(
        str(t.get("value"))
        for t in patient.get("telecom") or []
        if isinstance(t, Mapping) and t.get("value")
    )
    out: dict[str, Any] = {"name": text[:200], "mrn": mrn, "contact": contact[:500]}
    if isinstance(patient.get("birthDate"), str):
        out["birth_date"] = patient["birthDate"]
    return out


def fhir_identity(identity: Mapping[str, Any] | None) -> dict[str, Any]:
    """The identity as FHIR Patient elements (name, identifier MR, telecom, birthDate), for an
    export that includes it."""
    if not identity:
        return {}
    out: dict[str, Any] = {}
    if identity.get("name"):
        out["name"] = [{"use": "official", "text": identity["name"]}]
    if identity.get("mrn"):
        out["identifier"] = [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "MR",
                        }
                    ]
                },
                "value": identity["mrn"],
            }
        ]
    if identity.get("contact"):
        out["telecom"] = [{"system": "other", "value": identity["contact"]}]
    if identity.get("birth_date"):
        out["birthDate"] = identity["birth_date"]
    return out
