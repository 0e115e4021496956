"""Small accessors for plain-JSON FHIR resources (no model validation: the CDS hot path)."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

from rplcare.interop.fhir.codes import TERM, UCUM, UCUM_CODES
from rplcare.pregnancy.gestation import parse_ga

#: `isinstance(x, MAPPING)` is `isinstance(x, Mapping)`, with the common case (a dict parsed
#: from JSON) answered by the C type check before the ABC's slower one (hot in CDS mapping).
MAPPING = (dict, Mapping)

_ALIASES = TERM.system_aliases


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, MAPPING):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, MAPPING)]


def _canon(system: Any) -> Any:
    """LOINC written as its OID (or with a trailing slash) is LOINC; likewise SNOMED, RxNorm."""
    return _ALIASES.get(system, system) if isinstance(system, str) else system


def _code_in(concept: Any, system: str) -> str | None:
    for c in _codings(concept):
        if _canon(c.get("system")) == system and isinstance(c.get("code"), str):
            return c["code"]
    return None


def all_codings(concept: Any) -> list[tuple[str, str]]:
    """(system, code) of every coding, systems in canonical form."""
    return [
        (_canon(c.get("system")), c["code"])
        for c in _codings(concept)
        if isinstance(c.get("system"), str) and isinstance(c.get("code"), str)
    ]


def _text_of(concept: Any) -> str:
    """Concept text plus coding displays: what a human reads, for keyword matching."""
    if not isinstance(concept, MAPPING):
        return ""
    parts = [concept.get("text")] + [c.get("display") for c in _codings(concept)]
    return " ".join(p for p in parts if isinstance(p, str))


def code_label(concept: Any) -> str:
    """`system|code` of the first coding, else the text: how an unmapped row names a code."""
    for c in _codings(concept):
        if c.get("code"):
            return f"{c.get('system', '')}|{c['code']}"
    return _text_of(concept) or ""


def _ext(resource: Any, url: str) -> dict[str, Any] | None:
    if not isinstance(resource, MAPPING):
        return None
    for e in resource.get("extension") or []:
        if isinstance(e, MAPPING) and e.get("url") == url:
            return e
    return None


def _ext_value(resource: Any, url: str, key: str) -> Any:
    e = _ext(resource, url)
    return e.get(key) if e else None


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _quantity(value: float, unit: str | None, ucum: str | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value}
    if unit is not None:
        q["unit"] = unit
        code = ucum or UCUM_CODES.get(unit)
        if code:
            q["system"] = UCUM
            q["code"] = code
    return q


def _days(q: Any) -> int | None:
    """A duration Quantity (d, wk, or a 'W+D' string) in whole days."""
    if isinstance(q, str):
        try:
            return parse_ga(q)
        except ValueError:
            return None
    if not isinstance(q, MAPPING) or not _is_num(q.get("value")):
        return None
    unit = (q.get("code") or q.get("unit") or "d").lower()
    if unit in ("d", "day", "days"):
        return round(q["value"])
    if unit in ("wk", "week", "weeks", "w"):
        return round(q["value"] * 7)
    return None


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "https://rplcare.org/" + "/".join(parts)))


_FHIR_ID = re.compile(r"[^A-Za-z0-9\-.]")


def fhir_id(text: str) -> str:
    """A FHIR-legal id ([A-Za-z0-9-.]{1,64}) for any string, stable and collision-resistant."""
    clean = _FHIR_ID.sub("-", text)[:64]
    if clean == text:
        return clean
    return clean[:55].rstrip("-") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
