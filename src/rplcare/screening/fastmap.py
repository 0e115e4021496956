"""The FHIR→case mapping for screening, fast: the same `Mapped` as `read.case_from_entries`.

Screening maps whole-life charts (a Synthea woman has ~1,200 Observations, 80 % of them vital
signs and panels rplcare never reads). `interop.fhir.read.case_from_entries` (the mapping of
the CDS service and `import-fhir`, unchanged) takes a checkpoint of its reader before every
resource so that one malformed resource can be undone, and runs every handler's chain of code
tests. This module gives the same result faster:

- `fast_case(resources, patient_id, today)` runs the same driver (patient choice, subject and
  date checks, the same handlers of `read.py`, the same assembly) with two shortcuts:
  * a resource whose codes send it straight to "not read" (`skip_reason`: an Observation with
    no code rplcare reads, a Procedure that names no pregnancy outcome) gets the `Unmapped`
    row the handler would write, without running the handler;
  * no checkpoint: when a handler raises (a malformed resource, which the reference undoes
    and reports), the whole chart is mapped again by `case_from_entries` itself.
- `slim(resource)` is what the bulk reader keeps of such a "not read" resource (the keys the
  mapping looks at: type, id, identifier, status, code, subject, dates), so less is spilled,
  sent to the workers and parsed again; the mapping of a slimmed chart is the same.

Equivalence is a test, not a promise: tests/screening/test_fastmap.py maps every Synthea
bundle and every HL7 R4 example both ways (and slimmed) and compares the case JSON, the
unmapped rows, the sources and the notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import orjson

from rplcare.case.vocabulary import vocabulary
from rplcare.interop.fhir import read as _read
from rplcare.interop.fhir.codes import (
    _COUNT_CODES,
    BMI,
    CERVICAL_LENGTH,
    CRL,
    CS_OBSERVATION,
    CS_TEST,
    FHR,
    FHR_US,
    GA_CODES,
    LMP,
    LOINC,
    MSD,
    PREGNANCY_STATUS,
    PREGNANCY_TEST_CODES,
    SMOKING,
    TERM,
    YOLK_SAC_DIAMETER,
)
from rplcare.interop.fhir.jsonutil import _canon, _code_in, all_codings, code_label

__all__ = ["fast_case", "skip_reason", "slim", "slim_line"]

OBS_NOT_READ = "code not in rplcare's vocabulary"
PROC_NOT_READ = "procedure not read by rplcare"
#: statuses the handlers report before looking at the code (read._read_observation, _procedure)
_OBS_STATUS = ("entered-in-error", "cancelled", "registered")
_PROC_STATUS = ("entered-in-error", "not-done", "preparation")
#: the keys of a resource the driver and the "not read" decision look at (read.py: subject
#: check, resource_day, the index by id and identifier, status, code, the Unmapped row)
_SLIM_KEYS = frozenset(
    {"resourceType", "id", "identifier", "status", "code", "subject", "patient"}
    | set(_read._DATE_KEYS)
    | set(_read._PERIOD_KEYS)
)

_loinc_read: frozenset[str] | None = None
_by_loinc: Mapping[str, str] = {}
_proc_cache: dict[tuple[tuple[str, str], ...], bool] = {}


def _observation_loinc() -> frozenset[str]:
    """Every LOINC code any branch of read._read_observation acts on (tests, GA, pregnancy
    tests and status, history counts, BMI, smoking, scan values, LMP)."""
    global _loinc_read, _by_loinc
    if _loinc_read is None:
        voc = vocabulary()
        _by_loinc = voc.by_loinc
        _loinc_read = frozenset(
            {
                *voc.by_loinc,
                *GA_CODES,
                *PREGNANCY_TEST_CODES,
                *_COUNT_CODES,
                PREGNANCY_STATUS.code,
                BMI.code,
                SMOKING.code,
                CRL.code,
                MSD.code,
                FHR.code,
                FHR_US.code,
                YOLK_SAC_DIAMETER.code,
                CERVICAL_LENGTH.code,
                LMP.code,
            }
        )
    return _loinc_read


def _obs_not_read(res: Mapping[str, Any]) -> bool:
    """True when read._read_observation can only end in "code not in rplcare's vocabulary"."""
    loinc_read = _observation_loinc()
    if res.get("status") in _OBS_STATUS:
        return False
    code = res.get("code")
    if code.__class__ is not dict:
        return False  # no code, a malformed one or not plain JSON: the handler decides
    coding = code.get("coding")
    if coding is not None and coding.__class__ is not list:
        return False
    for c in coding or ():
        if c.__class__ is not dict:
            return False
        system = _canon(c.get("system"))
        if system in (CS_TEST, CS_OBSERVATION):
            return False
        if system == LOINC and c.get("code") in loinc_read:
            return False
    comps = res.get("component")
    if comps is not None and comps.__class__ is not list:
        return False
    for comp in comps or ():
        if comp.__class__ is not dict:
            return False
        if (_code_in(comp.get("code"), LOINC) or "") in _by_loinc:
            return False  # a panel with a component rplcare reads
    return True


def _proc_not_read(res: Mapping[str, Any]) -> bool:
    """True when read._read_procedure can only end in "procedure not read by rplcare"."""
    if res.get("status") in _PROC_STATUS:
        return False
    code = res.get("code")
    if code is not None and not isinstance(code, Mapping):
        return False
    if isinstance(code, Mapping):
        coding = code.get("coding")
        if coding is not None and not isinstance(coding, list):
            return False
    key = tuple(all_codings(code))
    got = _proc_cache.get(key)
    if got is None:
        got = TERM.outcome_of(key) is None
        if len(_proc_cache) < 50_000:
            _proc_cache[key] = got
    return got


def skip_reason(res: Mapping[str, Any]) -> str | None:
    """Why the mapping will not read this resource whatever the rest of the chart, when that
    follows from its own codes alone; None when a handler has to look at it."""
    rtype = res.get("resourceType")
    try:
        if rtype == "Observation":
            return OBS_NOT_READ if _obs_not_read(res) else None
        if rtype == "Procedure":
            return PROC_NOT_READ if _proc_not_read(res) else None
    except (TypeError, ValueError, AttributeError):
        return None
    return None


def slim(res: dict[str, Any]) -> dict[str, Any] | None:
    """The part of a "not read" resource the mapping still looks at, or None to keep it whole."""
    if skip_reason(res) is None:
        return None
    return {k: v for k, v in res.items() if k in _SLIM_KEYS}


def slim_line(res: dict[str, Any]) -> bytes | None:
    """`slim` as an NDJSON line (for the bulk reader), or None to keep the line read."""
    part = slim(res)
    return None if part is None else orjson.dumps(part) + b"\n"


class _Fallback(Exception):
    pass


def fast_case(resources: Sequence[Mapping[str, Any]], patient_id: str, today: date) -> _read.Mapped:
    """`read.case_from_entries(((None, r) for r in resources), patient_id=patient_id,
    today=today, assessed_on=today)`, the same result, faster on long charts (raises the
    same MappingError)."""
    try:
        return _fast(resources, patient_id, today)
    except _Fallback:
        return _read.case_from_entries(
            ((None, r) for r in resources), patient_id=patient_id, today=today, assessed_on=today
        )


def _fast(resources: Sequence[Mapping[str, Any]], patient_id: str, today: date) -> _read.Mapped:
    as_list = _read._as_list
    chosen: Mapping[str, Any] | None = None
    for r in resources:
        if r.get("resourceType") != "Patient":
            continue
        ids = [r.get("id")] + [
            i.get("value") for i in as_list(r.get("identifier")) if isinstance(i, Mapping)
        ]
        if patient_id in [i for i in ids if isinstance(i, str)]:
            chosen = r
            break
    if chosen is None:
        raise _Fallback  # the reference raises its MappingError
    pres = chosen
    pid = pres.get("id")
    refs = {f"Patient/{pid}"} if isinstance(pid, str) and pid else set()
    patient_idents = {
        f"{i.get('system')}|{i.get('value')}"
        for i in as_list(pres.get("identifier"))
        if isinstance(i, Mapping)
    }
    cutoff = today
    rd = _read._Reader(cutoff)
    index = rd.index
    for r in resources:
        rid, rtype = r.get("id"), r.get("resourceType")
        if isinstance(rid, str) and isinstance(rtype, str):
            index[f"{rtype}/{rid}"] = r
        idents = r.get("identifier")
        if idents:
            for ident in as_list(idents):
                if isinstance(ident, Mapping):
                    index[f"identifier|{ident.get('system')}|{ident.get('value')}"] = r
    try:
        _read._read_patient(rd, pres)
    except _read._MALFORMED:
        raise _Fallback from None
    rd.sources["patient"] = _read._ref(pres)
    later: dict[str, int] = {}
    handlers = _read._HANDLERS
    is_her = _read._is_her
    resource_day = _read.resource_day
    own = f"Patient/{pid}" if refs else None  # her usual reference: no need to compare
    for res in resources:
        if res is pres:
            continue
        rtype = res.get("resourceType")
        if rtype == "Patient":
            rd.skip(res, "another patient")
            continue
        subj = res.get("subject") or res.get("patient")
        if isinstance(subj, Mapping):
            sref = subj.get("reference", "")
            if not isinstance(sref, str):
                rd.skip(res, "malformed subject reference (not a string); left out")
                continue
            if sref != own and not is_her(subj, refs, patient_idents):
                other = subj.get("reference") or "by identifier"
                rd.skip(res, f"belongs to another patient ({other})", res.get("code"))
                continue
        try:
            day = resource_day(res)
        except _read._MALFORMED:
            day = None
        if day is not None and day > cutoff:
            later[str(rtype)] = later.get(str(rtype), 0) + 1
            continue
        handler = handlers.get(rtype) if isinstance(rtype, str) else None
        if handler is None:
            rd.skip(res, "resource type not read by rplcare")
            continue
        why = skip_reason(res)
        if why is not None:
            rd.unmapped.append(
                _read.Unmapped(str(rtype), res.get("id"), code_label(res.get("code")), why)
            )
            continue
        try:
            handler(rd, res)
        except _read._MALFORMED:
            raise _Fallback from None
    if later:
        n = sum(later.values())
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(later.items()))
        rd.notes.append(
            f"left out {n} resource{'s' if n != 1 else ''} dated after {cutoff} "
            f"(the date of the assessment): {kinds}"
        )
    try:
        case = _read._assemble(rd, today, today)
    except _read._MALFORMED:
        raise _Fallback from None
    return _read.Mapped(case, rd.unmapped, rd.sources, rd.notes)
