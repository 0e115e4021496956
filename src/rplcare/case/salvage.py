"""Every problem of a case at once, when some field fails (issue 9 §3).

Pydantic stops at the first failing level: a case whose BMI is out of range never reaches the
whole-record checks (`record_checks`), and an object with one bad field never reaches its own
cross-field checks (a `model_validator`). Here, after the full validation failed, each part of
the case is validated on its own:

- `patient`, `partner` and the current pregnancy's own fields: a field that fails is left
  out and the part validated again (at most `ROUNDS` times), so the part's cross-field checks
  run on the fields that are valid;
- every list item (`pregnancies[i]`, `results[i]`, `current_pregnancy.scans[i]`,
  `current_pregnancy.milestones[i]`) alone, the same way for its own messages; an item enters
  the whole-record checks only when it validated as given (an item with a bad field is not an
  input, as the FHIR reader drops it whole).

The whole-record checks then run on what validated (`record_checks.Record`), each skipped
where its input failed. A message found only after a field was left out is kept unless it is
about that field (its path, or its text naming it: e.g. "needed with the other of
transfer_date/embryo_age_days" once transfer_date is left out), so leaving a field out never
invents a problem. The result is the union with the first validation's problems, without
duplicates, sorted by path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from rplcare.case.errors import from_validation_error
from rplcare.case.model import (
    CurrentPregnancy,
    Milestone,
    Partner,
    PastPregnancy,
    Patient,
    Result,
    Scan,
)
from rplcare.case.record_checks import Record, check_record

ROUNDS = 6
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PART = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")

Problem = tuple[str, str]


def all_problems(
    data: Mapping[str, Any], context: dict[str, Any], first: list[Problem]
) -> list[Problem]:
    """The problems of the full validation (`first`) with those found part by part and by the
    whole-record checks on the parts that validated; unique, sorted by path."""
    found: list[Problem] = list(first)
    rec = Record(assessed_on=context.get("assessed_on"))
    rec.patient = _section(Patient, data.get("patient"), "patient", context, found)
    rec.partner = _section(Partner, data.get("partner"), "partner", context, found)
    rec.pregnancies = _items(PastPregnancy, data.get("pregnancies"), "pregnancies", context, found)
    rec.results = _items(Result, data.get("results"), "results", context, found)
    raw_cp = data.get("current_pregnancy")
    if isinstance(raw_cp, Mapping):
        at = "current_pregnancy"
        own = {k: v for k, v in raw_cp.items() if k not in ("scans", "milestones")}
        rec.current_pregnancy = _section(CurrentPregnancy, own, at, context, found)
        rec.scans = _items(Scan, raw_cp.get("scans"), f"{at}.scans", context, found)
        _items(Milestone, raw_cp.get("milestones"), f"{at}.milestones", context, found)
    problems, _warnings = check_record(rec)  # warnings are shown with a readable case only
    found.extend(problems)
    return sorted(dict.fromkeys(found), key=lambda p: _path_key(p[0]))


def _quiet(context: dict[str, Any]) -> dict[str, Any]:
    return {**context, "warnings": []}


def _validate(
    model: type[BaseModel], raw: Any, at: str, context: dict[str, Any], found: list[Problem]
) -> tuple[Any, bool]:
    """(the object or None, whether it validated as given); its messages go to `found`."""
    if not isinstance(raw, Mapping):
        return None, False  # not an object: the full validation said so
    data = dict(raw)
    left_out: set[str] = set()
    for _ in range(ROUNDS):
        try:
            return model.model_validate(data, context=_quiet(context)), not left_out
        except ValidationError as exc:
            problems = from_validation_error(exc, model).problems
        keys: set[str] = set()
        for path, message in problems:
            key = _first_key(path)
            if not _about(path, message, left_out):
                found.append((f"{at}.{path}" if path else at, message))
            if key is not None and key in data:
                keys.add(key)
        if not keys:
            return None, False
        for key in keys:
            data.pop(key)
        left_out |= keys
    return None, False


def _section(
    model: type[BaseModel], raw: Any, at: str, context: dict[str, Any], found: list[Problem]
) -> Any:
    return _validate(model, raw, at, context, found)[0]


def _items(
    model: type[BaseModel], raw: Any, at: str, context: dict[str, Any], found: list[Problem]
) -> list[tuple[int, Any]]:
    if not isinstance(raw, list):
        return []
    out: list[tuple[int, Any]] = []
    for i, item in enumerate(raw):
        obj, whole = _validate(model, item, f"{at}[{i}]", context, found)
        if whole:
            out.append((i, obj))
    return out


def _first_key(path: str) -> str | None:
    m = _KEY.match(path)
    return m.group(0) if m else None


def _about(path: str, message: str, left_out: set[str]) -> bool:
    """Whether a message is about a field left out (so only a consequence of leaving it out)."""
    if _first_key(path) in left_out:
        return True
    return any(re.search(rf"(?<![A-Za-z0-9_]){k}(?![A-Za-z0-9_])", message) for k in left_out)


def _path_key(path: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key of a field path: names by name, list indices by number (results[2] before
    results[10])."""
    key: list[tuple[int, int, str]] = []
    for m in _PART.finditer(path):
        index, name = m.groups()
        key.append((0, int(index), "") if index is not None else (1, 0, name))
    return tuple(key)
