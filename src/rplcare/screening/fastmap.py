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
    CONDITION_CLINICAL,
    CRL,
    CS_OBSERVATION,
    CS_OUTCOME,
    CS_TEST,
    DERIVED_CONDITIONS,
    EPISODE_CODES,
    EXT_PREGNANCY_TREATMENT,
    FHR,
    FHR_US,
    GA_CODES,
    HISTORY_CONDITIONS,
    ICD10,
    ICD10CM,
    LMP,
    LOINC,
    MSD,
    PREGNANCY_STATUS,
    PREGNANCY_TEST_CODES,
    SMOKING,
    SNOMED,
    TERM,
    YOLK_SAC_DIAMETER,
)
from rplcare.interop.fhir.jsonutil import (
    _ALIASES,
    _code_in,
    _ext_value,
    all_codings,
    code_label,
)

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
    loinc_read = _loinc_read if _loinc_read is not None else _observation_loinc()
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
        system = c.get("system")
        if isinstance(system, str):  # jsonutil._canon
            system = _ALIASES.get(system, system)
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
    key = _codings_key(code)
    got = _proc_cache.get(key)
    if got is None:
        got = TERM.outcome_of(key) is None
        if len(_proc_cache) < 50_000:
            _proc_cache[key] = got
    return got


def _codings_key(concept: Any) -> tuple[tuple[str, str], ...]:
    """tuple(jsonutil.all_codings(concept)), the plain-JSON case without its two lists."""
    if concept.__class__ is dict:
        coding = concept.get("coding")
        if coding.__class__ is list:
            out = []
            for c in coding:
                if c.__class__ is not dict:
                    break
                system, value = c.get("system"), c.get("code")
                if isinstance(system, str) and isinstance(value, str):
                    out.append((_ALIASES.get(system, system), value))
            else:
                return tuple(out)
    return tuple(all_codings(concept))


def _label(concept: Any) -> str:
    """jsonutil.code_label(concept): the plain-JSON case first (`system|code` of the first
    coding with a code), anything else by code_label itself."""
    if concept.__class__ is dict:
        coding = concept.get("coding")
        if coding.__class__ is list:
            for c in coding:
                if c.__class__ is not dict:
                    break
                value = c.get("code")
                if value:
                    return f"{c.get('system', '')}|{value}"
    return code_label(concept)


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
        # `x.__class__ is str or isinstance(x, str)`: the reference's isinstance test, with
        # the plain-JSON case first
        if (rid.__class__ is str or isinstance(rid, str)) and (
            rtype.__class__ is str or isinstance(rtype, str)
        ):
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
    handlers = _HANDLERS
    is_her = _read._is_her
    unmapped = rd.unmapped
    Unmapped = _read.Unmapped
    own = f"Patient/{pid}" if refs else None  # her usual reference: no need to compare
    for res in resources:
        if res is pres:
            continue
        rtype = res.get("resourceType")
        if rtype == "Patient":
            rd.skip(res, "another patient")
            continue
        subj = res.get("subject") or res.get("patient")
        if subj.__class__ is dict or isinstance(subj, Mapping):
            sref = subj.get("reference", "")
            if sref.__class__ is not str and not isinstance(sref, str):
                rd.skip(res, "malformed subject reference (not a string); left out")
                continue
            if sref != own and not is_her(subj, refs, patient_idents):
                other = subj.get("reference") or "by identifier"
                rd.skip(res, f"belongs to another patient ({other})", res.get("code"))
                continue
        try:
            day = _resource_day(res)
        except _read._MALFORMED:
            day = None
        if day is not None and day > cutoff:
            later[str(rtype)] = later.get(str(rtype), 0) + 1
            continue
        handler = handlers.get(rtype) if isinstance(rtype, str) else None
        if handler is None:
            rd.skip(res, "resource type not read by rplcare")
            continue
        # skip_reason(res), its two cases called directly
        try:
            if rtype == "Observation":
                why = OBS_NOT_READ if _obs_not_read(res) else None
            elif rtype == "Procedure":
                why = PROC_NOT_READ if _proc_not_read(res) else None
            else:
                why = None
        except (TypeError, ValueError, AttributeError):
            why = None
        if why is not None:
            unmapped.append(Unmapped(str(rtype), res.get("id"), _label(res.get("code")), why))
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


_DAY_KEYS = _read._DATE_KEYS
_DAY_PERIODS = _read._PERIOD_KEYS
_day_of = _read._day_of


def _resource_day(res: Mapping[str, Any]) -> date | None:
    """read.resource_day, without the calls for the keys a resource does not have
    (`_day_of(None)` is None)."""
    get = res.get
    for key in _DAY_KEYS:
        v = get(key)
        if v is not None:
            day = _day_of(v)
            if day is not None:
                return day
    for key in _DAY_PERIODS:
        per = get(key)
        if per is not None and isinstance(per, Mapping):
            day = _day_of(per.get("start"))
            if day is not None:
                return day
    return None


# ---------------------------------------------------------------- handlers, memoized
#
# Two handlers of read.py spend most of their time on decisions that depend on a concept's
# codes alone (the condition vocabulary's loop of code tests; the medication matcher's scan of
# every synonym pattern). Here they are the same code with those decisions kept per code key;
# tests/screening/test_fastmap.py compares the result with the unchanged read.py.

_MEMO_MAX = 50_000
_cond_memo: dict[tuple[tuple[str, str], ...], tuple[str, Any]] = {}
_med_memo: dict[tuple[str, str], tuple[str | None, str]] = {}
_VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _condition_decision(code: Any, codings: list[tuple[str, str]]) -> tuple[str, Any]:
    """What read._read_condition does with a concept, as a function of all_codings(code)
    (every `_code_in(code, S)` it makes is the first code of system S in that list)."""
    key = tuple(codings)
    got = _cond_memo.get(key)
    if got is not None:
        return got
    local_outcome = _code_in(code, CS_OUTCOME)
    if local_outcome:
        got = ("local", local_outcome)
    elif (o := TERM.outcome_of(codings)) is not None:
        got = ("outcome", o)
    elif any(c in EPISODE_CODES for c in codings):
        got = ("episode", None)
    elif (name := _read._condition_of(code)) is not None:
        got = ("name", name)
    else:
        sn = _code_in(code, SNOMED) or ""
        icd = _code_in(code, ICD10) or _code_in(code, ICD10CM) or ""
        if sn in DERIVED_CONDITIONS or icd in DERIVED_CONDITIONS:
            got = ("skip", DERIVED_CONDITIONS.get(sn) or DERIVED_CONDITIONS[icd])
        else:
            got = ("skip", "condition not in rplcare's vocabulary")
    if len(_cond_memo) < _MEMO_MAX:
        _cond_memo[key] = got
    return got


def _read_condition(rd: _read._Reader, res: Mapping[str, Any]) -> None:
    """read._read_condition, its code decisions memoized."""
    code = res.get("code")
    ver = _code_in(res.get("verificationStatus"), _VER_STATUS)
    if ver in ("refuted", "entered-in-error"):
        rd.skip(res, f"verificationStatus {ver}", code)
        return
    kind, value = _condition_decision(code, all_codings(code))
    if kind == "local":
        _read._read_pregnancy_outcome(rd, res, value, None)
    elif kind == "outcome":
        if value.outcome is None:
            rd.skip(res, value.why, code)
        else:
            _read._read_pregnancy_outcome(rd, res, value.outcome, value.trimester)
    elif kind == "episode":
        _read._read_episode(rd, res)
    elif kind == "skip":
        rd.skip(res, value, code)
    else:
        clinical = _code_in(res.get("clinicalStatus"), CONDITION_CLINICAL)
        if clinical in ("inactive", "resolved", "remission") and value not in HISTORY_CONDITIONS:
            rd.skip(res, f"clinicalStatus {clinical}: not a current condition", code)
            return
        rd.conditions.append((value, _read._ref(res)))


def _medication_name(concept: Any, dosages: Any) -> tuple[str | None, str]:
    """read.medication_name as read._read_medication calls it, memoized on the concept and the
    dosages (the dosage text and route codes are functions of the dosages), written out by
    repr (exact for parsed JSON: strings, numbers, booleans and null all print apart)."""
    if concept.__class__ is dict and (dosages is None or dosages.__class__ is list):
        key = (repr(concept), repr(dosages))
        got = _med_memo.get(key)
        if got is not None:
            return got
    else:
        key = None
    got = _read.medication_name(
        concept,
        _read._dosage_text(dosages),
        dosages=dosages,
        route_codes=_read._route_codes(dosages),
    )
    if key is not None and len(_med_memo) < _MEMO_MAX:
        _med_memo[key] = got
    return got


def _read_medication(rd: _read._Reader, res: Mapping[str, Any]) -> None:
    """read._read_medication, the medication name memoized."""
    rtype = res.get("resourceType")
    status = res.get("status")
    ok = ("active", "intended", "on-hold") if rtype == "MedicationStatement" else ("active",)
    concept = _read._medication_concept(rd, res)
    if status not in ok:
        rd.skip(res, f"status {status}: not a current medication", concept)
        return
    if concept is None:
        rd.skip(
            res,
            "medicationReference names no Medication in the Bundle or contained",
            res.get("medicationReference"),
        )
        return
    dosages = res.get("dosage") if rtype == "MedicationStatement" else res.get("dosageInstruction")
    name, why = _medication_name(concept, dosages)
    if name is None:
        rd.skip(res, why, concept)
        return
    flag = _ext_value(res, EXT_PREGNANCY_TREATMENT, "valueBoolean")
    rd.meds.append((name, _read._ref(res), flag if isinstance(flag, bool) else None))


_HANDLERS = {
    **_read._HANDLERS,
    "Condition": _read_condition,
    "MedicationStatement": _read_medication,
    "MedicationRequest": _read_medication,
}
