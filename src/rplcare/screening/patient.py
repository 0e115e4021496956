"""The one per-patient function both screening engines call: resources in, one row out.

`screen_patient(key, lines, today)` parses one patient's NDJSON lines, applies the candidate
pre-filter, maps the chart as the CDS Hooks service does (`interop.fhir.read.case_from_entries`
with the chart read "as of" `today`, then `readable_case`; plain JSON: the R4B validation of
single-file imports costs milliseconds a resource and is for files a person hands in) and calls
the same `assess()` every face calls. It never raises for a chart: a chart that cannot be
assessed gives a row with `screened: false` and the reason in `error`.

Row (ROW_FIELDS, in this order):
  patient_id, candidate, screened, definition, rpl, losses_counted, care_tier, loss_type,
  pregnant, gaps [{id, urgency}], advised_against [recommendation id], not_read [text],
  not_read_count, error, assessed_on, kb_version

- gaps: recommendations with status `recommended` that are not satisfied by a result on
  record (`workup.done`), each with its urgency from the assessment's ordered action list
  (contract 1; null where the assessment carries none);
- advised_against: recommendations with status `not_recommended` given because of something
  recorded in the chart (`recorded.*` findings: a test or therapy the guidelines advise
  against is on record);
- not_read / not_read_count: what the mapping could not place among the resources it reads
  (unmapped resource parts, with why; the first 20 and the count). Resources of types the
  mapping does not read at all (Claim, Encounter …: `screening.relevance`) are not
  "unreadable" and are counted in neither: the bulk reader drops them before this function
  (counted in `BulkStats.not_relevant`), and this function leaves out any that reach it, so
  the row is the same either way.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import orjson

from rplcare.screening.candidates import is_candidate_resource
from rplcare.screening.relevance import RELEVANT_TYPES

__all__ = ["ROW_FIELDS", "non_candidate_row", "screen_patient", "screen_resources"]

ROW_FIELDS = (
    "patient_id",
    "candidate",
    "screened",
    "definition",
    "rpl",
    "losses_counted",
    "care_tier",
    "loss_type",
    "pregnant",
    "gaps",
    "advised_against",
    "not_read",
    "not_read_count",
    "error",
    "assessed_on",
    "kb_version",
)
OUT_OF_SCOPE = "resource type not read by rplcare"
MAX_NOT_READ = 20


def _row(key: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ROW_FIELDS)
    row.update(
        patient_id=key,
        candidate=False,
        screened=False,
        gaps=[],
        advised_against=[],
        not_read=[],
        not_read_count=0,
    )
    row.update(values)
    return row


def non_candidate_row(key: str, today: date) -> dict[str, Any]:
    """The row of a patient with no candidate code (not assessed)."""
    return _row(key, assessed_on=today.isoformat())


def screen_patient(
    key: str,
    lines: Sequence[bytes | str],
    today: date,
    *,
    marked: bool | None = None,
    kb: Any = None,
    definition: str = "eshre2022",
) -> dict[str, Any]:
    """One patient's row from her NDJSON lines (bad lines were dropped by the reader).

    The cyclic garbage collector is off while one chart is read and assessed: parsing it makes
    thousands of dicts and lists (none in a cycle), and each collection they would trigger
    scans the objects alive. The chart is freed before it is turned back on (a collection
    then would still find it all young), so a cycle made meanwhile waits for the next one."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        resources = [orjson.loads(line) for line in lines]
        row = screen_resources(key, resources, today, marked=marked, kb=kb, definition=definition)
        del resources
        return row
    finally:
        if enabled:
            gc.enable()


def screen_resources(
    key: str,
    resources: Sequence[Mapping[str, Any]],
    today: date,
    *,
    marked: bool | None = None,
    kb: Any = None,
    definition: str = "eshre2022",
) -> dict[str, Any]:
    candidate = marked if marked is not None else any(map(is_candidate_resource, resources))
    if not candidate:
        return non_candidate_row(key, today)
    from rplcare.case.errors import CaseError
    from rplcare.interop.fhir.read import MappingError, readable_case
    from rplcare.knowledge import get_kb
    from rplcare.reasoning.assess import assess
    from rplcare.screening.fastmap import fast_case

    kb = kb or get_kb()
    base = {"candidate": True, "assessed_on": today.isoformat(), "kb_version": kb.version}
    # the mapping reports every resource of a type it does not read as "not read by rplcare";
    # those (Claims, Encounters … most of a chart) are left out here, as the bulk reader's
    # relevance filter does, so a row does not depend on where they were dropped
    # (relevance.is_relevant inline: membership of its type in RELEVANT_TYPES)
    kept = [r for r in resources if r.get("resourceType") in RELEVANT_TYPES]
    try:
        mapped = fast_case(kept, key, today)
    except MappingError as exc:
        return _row(key, **base, error="; ".join(f"{p}: {m}" if p else m for p, m in exc.problems))
    sources = dict(mapped.sources)
    try:
        # as the CDS service does: one list item the case model refuses is left out and
        # reported, never the whole chart
        case, dropped = readable_case(mapped.case, sources, today=today)
        a = assess(case, today=today, kb=kb, definition=definition)
    except CaseError as exc:
        problems = []
        for path, msg in exc.problems[:MAX_NOT_READ]:
            src = _explain(sources, path)
            problems.append(f"{path}: {msg}" + (f" (from {src})" if src else ""))
        base.update(_not_read(mapped.unmapped))
        return _row(key, **base, error="; ".join(problems))
    except ValueError as exc:
        return _row(key, **base, error=str(exc))
    base.update(_not_read([*mapped.unmapped, *dropped]))
    cls = a.classification
    urgency = _urgencies(a)
    done = {d["id"] for d in a.workup_done}
    gaps = [
        {"id": r.id, "urgency": urgency.get(r.id)}
        for r in a.recommendations
        if r.status == "recommended" and r.id not in done
    ]
    against = [
        r.id
        for r in a.recommendations
        if r.status == "not_recommended" and any(b.startswith("recorded.") for b in r.because)
    ]
    return _row(
        key,
        **base,
        screened=True,
        definition=cls.definition,
        rpl=cls.rpl,
        losses_counted=cls.losses_counted,
        care_tier=cls.care_tier,
        loss_type=cls.type,
        pregnant="current.pregnant" in a.findings.ids,
        gaps=gaps,
        advised_against=against,
    )


def _not_read(unmapped: list[Any]) -> dict[str, Any]:
    shown = [u for u in unmapped if u.why != OUT_OF_SCOPE]
    lines = [u.line() for u in shown[:MAX_NOT_READ]]
    if len(shown) > MAX_NOT_READ:
        lines.append(f"… and {len(shown) - MAX_NOT_READ} more")
    return {"not_read": lines, "not_read_count": len(shown)}


def _urgencies(a: Any) -> dict[str, str | None]:
    """Recommendation id -> urgency, from the assessment's ordered actions (contract 1)."""
    out: dict[str, str | None] = {}
    for action in getattr(a, "actions", None) or []:
        aid = action.get("id") if isinstance(action, Mapping) else getattr(action, "id", None)
        urg = (
            action.get("urgency")
            if isinstance(action, Mapping)
            else getattr(action, "urgency", None)
        )
        if aid is not None:
            out.setdefault(aid, urg)
    return out


def _explain(sources: Mapping[str, str], path: str) -> str | None:
    best: tuple[str, str] | None = None
    for prefix, ref in sources.items():
        hit = path == prefix or path.startswith((prefix + ".", prefix + "["))
        if hit and (best is None or len(prefix) > len(best[0])):
            best = (prefix, ref)
    return best[1] if best else None
