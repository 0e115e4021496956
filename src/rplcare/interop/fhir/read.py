"""FHIR R4 resources -> case mapping (partial by nature: the rest is reported as Unmapped)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rplcare.case.vocabulary import QUALITATIVE, vocabulary
from rplcare.interop.fhir.codes import (
    _COUNT_CODES,
    _QUAL_BY_CODE,
    BMI,
    CASE_ID_SYSTEM,
    CERVICAL_LENGTH,
    CONDITION_CLINICAL,
    CONDITION_CODES,
    COUNT_GRAVIDA,
    COUNTS,
    CRL,
    CS_CONDITION,
    CS_IMAGING_METHOD,
    CS_MEDICATION,
    CS_MENSTRUAL,
    CS_OBSERVATION,
    CS_OUTCOME,
    CS_RESULT_VALUE,
    CS_TEST,
    CS_UTERINE_FINDING,
    DERIVED_CONDITIONS,
    EPISODE_CODES,
    EXT_AGE_YEARS,
    EXT_ASSESSED_ON,
    EXT_CASE_FORMAT,
    EXT_CONCEPTION,
    EXT_FETAL_ANOMALY,
    EXT_GA,
    EXT_GA_UNKNOWN,
    EXT_GESTATIONAL_CARRIER,
    EXT_HEARTBEAT_SEEN,
    EXT_LOCAL_TIME,
    EXT_OUTCOME_YEAR,
    EXT_PAINLESS_DILATION,
    EXT_POC_KARYOTYPE,
    EXT_PREGNANCY_TREATMENT,
    EXT_PRETERM_CAUSE,
    EXT_RESULT_UNIT,
    EXT_SEQUENCE,
    EXT_TRIMESTER,
    FHR,
    FHR_US,
    GA_CODES,
    HISTORY_CONDITIONS,
    ICD10,
    ICD10CM,
    LMP,
    LOINC,
    MSD,
    NOT_PREGNANT,
    PREGNANCY_STATUS,
    PREGNANCY_TEST_CODES,
    PREGNANT,
    SMOKING,
    SMOKING_VALUES,
    SNOMED,
    TERM,
    UCUM_CODES,
    YOLK_SAC_DIAMETER,
    Code,
)
from rplcare.interop.fhir.jsonutil import (
    MAPPING,
    _code_in,
    _codings,
    _days,
    _ext,
    _ext_value,
    _is_num,
    _text_of,
    all_codings,
    code_label,
)
from rplcare.interop.fhir.write import _PREG_COMPONENTS, _SCAN_COMPONENTS, _VALUE_SYSTEMS
from rplcare.knowledge import get_kb
from rplcare.knowledge.terminology import normalise
from rplcare.pregnancy.gestation import format_ga


@dataclass
class Unmapped:
    resource: str
    id: str | None
    code: str
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "id": self.id, "code": self.code, "why": self.why}

    def line(self) -> str:
        ref = f"{self.resource}/{self.id}" if self.id else self.resource
        return f"{ref} {self.code}: {self.why}" if self.code else f"{ref}: {self.why}"


class MappingError(ValueError):
    """The resources cannot make one case at all (no patient, or several and none chosen)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in problems))


@dataclass
class Mapped:
    case: dict[str, Any]
    unmapped: list[Unmapped] = field(default_factory=list)
    #: case path prefix -> "Type/id" it came from, so case errors can name their resource
    sources: dict[str, str] = field(default_factory=dict)
    #: what the reader did that the user should know (left out later data, merged codes of one
    #: event, losses added from obstetric-history counts)
    notes: list[str] = field(default_factory=list)


Entry = tuple[str | None, Mapping[str, Any]]


def bundle_entries(value: Any) -> Iterator[Entry]:
    """(fullUrl, resource) pairs of a Bundle, a single resource, or a list of either."""
    if isinstance(value, list):
        for item in value:
            yield from bundle_entries(item)
        return
    if not isinstance(value, MAPPING):
        return
    if value.get("resourceType") == "Bundle":
        entries = value.get("entry")
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, MAPPING) and isinstance(e.get("resource"), MAPPING):
                # a fullUrl is a string or absent (Entry); any other JSON value is no fullUrl,
                # so a mutated bundle cannot reach the index with an unhashable key
                url = e.get("fullUrl")
                yield (url if isinstance(url, str) else None), e["resource"]
    elif isinstance(value.get("resourceType"), str):
        yield None, value


@dataclass
class _Event:
    """A past-pregnancy outcome as read from one Condition or Procedure."""

    p: dict[str, Any]
    seq: int | None
    ref: str
    trimester: str | None
    res: Mapping[str, Any]

    @property
    def day(self) -> date | None:
        return _day_of(self.p.get("date"))


class _Reader:
    """One pass over the resources; collects case parts and unmapped rows in input order."""

    def __init__(self, cutoff: date | None = None) -> None:
        self.voc = vocabulary()
        self.cutoff = cutoff
        self.unmapped: list[Unmapped] = []
        self.notes: list[str] = []
        self.patient: dict[str, Any] = {}
        self.top: dict[str, Any] = {}
        self.partner: dict[str, Any] = {}
        self.conditions: list[tuple[str, str]] = []
        self.meds: list[tuple[str, str, bool | None]] = []
        self.pregnancies: list[_Event] = []
        self.episodes: list[tuple[date, date | None, Mapping[str, Any]]] = []
        self.ga_obs: list[tuple[date, int, Mapping[str, Any]]] = []
        self.counts: list[tuple[str, int, Mapping[str, Any]]] = []
        self.results: list[tuple[dict[str, Any], str]] = []
        self.status: list[tuple[str, bool, Mapping[str, Any]]] = []
        self.scans: list[tuple[dict[str, Any], str]] = []
        self.loose_scans: dict[str, tuple[dict[str, Any], list[Mapping[str, Any]]]] = {}
        self.loose_lmp: list[tuple[str, Mapping[str, Any]]] = []
        self.sources: dict[str, str] = {}
        self.index: dict[str, Mapping[str, Any]] = {}
        # the case model's plausibility limit (knowledge base: case.max_ga_days)
        self.voc_max_ga_days = int(get_kb().param("case.max_ga_days"))
        self.preliminary: set[int] = set()

    def skip(self, res: Mapping[str, Any], why: str, concept: Any = None) -> None:
        self.unmapped.append(
            Unmapped(str(res.get("resourceType")), res.get("id"), code_label(concept), why)
        )

    def resolve(self, ref: Any, container: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The resource a Reference names: contained (#id), in the input, or by identifier."""
        if not isinstance(ref, MAPPING):
            return None
        target = ref.get("reference")
        if isinstance(target, str) and target.startswith("#"):
            for c in container.get("contained") or []:
                if isinstance(c, MAPPING) and c.get("id") == target[1:]:
                    return c
            return None
        if isinstance(target, str):
            return self.index.get(norm_ref(target))
        ident = ref.get("identifier")
        if isinstance(ident, MAPPING):
            return self.index.get(f"identifier|{ident.get('system')}|{ident.get('value')}")
        return None


def norm_ref(ref: str) -> str:
    """A reference in comparable form: versioned and absolute URLs become `Type/id`."""
    if ref.startswith(("urn:uuid:", "urn:oid:")):
        return ref
    ref = ref.split("/_history/", 1)[0]
    parts = [p for p in ref.split("/") if p]
    return "/".join(parts[-2:]) if len(parts) >= 2 else ref


_DATE_KEYS = (
    "effectiveDateTime",
    "effectiveInstant",
    "issued",
    "onsetDateTime",
    "performedDateTime",
    "authoredOn",
    "recordedDate",
    "dateAsserted",
    "occurrenceDateTime",
    "created",
)
_PERIOD_KEYS = ("effectivePeriod", "onsetPeriod", "performedPeriod", "period", "billablePeriod")


def resource_day(res: Mapping[str, Any]) -> date | None:
    """The clinical date of a resource (when it happened), for leaving out later data."""
    for key in _DATE_KEYS:
        day = _day_of(res.get(key))
        if day is not None:
            return day
    for key in _PERIOD_KEYS:
        per = res.get(key)
        if isinstance(per, MAPPING):
            day = _day_of(per.get("start"))
            if day is not None:
                return day
    return None


def _ref(res: Mapping[str, Any]) -> str:
    return (
        f"{res.get('resourceType')}/{res.get('id')}"
        if res.get("id")
        else str(res.get("resourceType"))
    )


_MALFORMED = (TypeError, AttributeError, ValueError, KeyError, IndexError, RecursionError)


def _as_list(value: Any) -> list[Any]:
    """A FHIR array as read from outside: anything that is not a list reads as empty."""
    return value if isinstance(value, list) else []


def _checkpoint(rd: _Reader) -> dict[str, Any]:
    """What a handler may change, to undo a resource that fails half-way (no half-read data)."""
    names = rd.__dict__.get("_undo_names")
    if names is None:  # the reader's list/dict fields, found once per reader (one per chart)
        names = tuple(
            k
            for k, v in vars(rd).items()
            if isinstance(v, list | dict) and k not in ("unmapped", "index")
        )
        rd.__dict__["_undo_names"] = names
    fields = rd.__dict__
    return {k: (len(v) if type(v) is list else dict(v)) for k in names for v in (fields[k],)}


def _restore(rd: _Reader, cp: dict[str, Any]) -> None:
    for k, v in cp.items():
        current = getattr(rd, k)
        if isinstance(v, int):
            del current[v:]
        else:
            current.clear()
            current.update(v)


def case_from_entries(
    entries: Iterable[Entry],
    patient_id: str | None = None,
    today: date | None = None,
    assessed_on: date | None = None,
) -> Mapped:
    """Map resources of one patient into a case mapping (not yet validated by load_case).

    `assessed_on` overrides the case date (the CDS service: the chart is "now"); otherwise the
    Patient's rplcare extension, else `today`, else nothing (load_case then uses its today).
    """
    items = list(entries)
    patients = [(u, r) for u, r in items if r.get("resourceType") == "Patient"]
    chosen: tuple[str | None, Mapping[str, Any]] | None = None
    if patient_id is not None:
        for u, r in patients:
            ids = [r.get("id")] + [
                i.get("value") for i in _as_list(r.get("identifier")) if isinstance(i, MAPPING)
            ]
            if patient_id in [i for i in ids if isinstance(i, str)]:
                chosen = (u, r)
                break
        if chosen is None:
            raise MappingError([("", f"no Patient with id {patient_id!r} in the input")])
    elif len(patients) == 1:
        chosen = patients[0]
    elif not patients:
        raise MappingError([("", "no Patient resource in the input")])
    else:
        ids = ", ".join(str(r.get("id")) for _, r in patients)
        raise MappingError([("", f"{len(patients)} Patients in the input ({ids}); choose one")])

    url, pres = chosen
    pid = pres.get("id")
    refs = {f"Patient/{pid}"} if isinstance(pid, str) and pid else set()
    if isinstance(url, str) and url:
        refs.add(url)
    patient_idents = {
        f"{i.get('system')}|{i.get('value')}"
        for i in _as_list(pres.get("identifier"))
        if isinstance(i, MAPPING)
    }
    cutoff = assessed_on or today
    rd = _Reader(cutoff)
    for u, r in items:
        if isinstance(u, str) and u:  # entries from any caller: only a string is a fullUrl
            rd.index[u] = r
        if isinstance(r.get("id"), str) and isinstance(r.get("resourceType"), str):
            rd.index[f"{r['resourceType']}/{r['id']}"] = r
        for ident in _as_list(r.get("identifier")):
            if isinstance(ident, MAPPING):
                rd.index[f"identifier|{ident.get('system')}|{ident.get('value')}"] = r
    try:
        _read_patient(rd, pres)
    except _MALFORMED as exc:
        raise MappingError(
            [("", f"the Patient resource is malformed ({type(exc).__name__})")]
        ) from None
    rd.sources["patient"] = _ref(pres)
    later: dict[str, int] = {}
    for _u, res in items:
        if res is pres:
            continue
        rtype = res.get("resourceType")
        if rtype == "Patient":
            rd.skip(res, "another patient")
            continue
        subj = res.get("subject") or res.get("patient")
        if isinstance(subj, MAPPING) and not isinstance(subj.get("reference", ""), str):
            rd.skip(res, "malformed subject reference (not a string); left out")
            continue
        if isinstance(subj, MAPPING) and not _is_her(subj, refs, patient_idents):
            other = subj.get("reference") or "by identifier"
            rd.skip(res, f"belongs to another patient ({other})", res.get("code"))
            continue
        try:
            day = resource_day(res)
        except _MALFORMED:
            day = None
        if cutoff is not None and day is not None and day > cutoff:
            later[str(rtype)] = later.get(str(rtype), 0) + 1
            continue
        handler = _HANDLERS.get(rtype) if isinstance(rtype, str) else None
        if handler is None:
            rd.skip(res, "resource type not read by rplcare")
            continue
        # one malformed resource (a value of the wrong JSON type) is left out and reported;
        # the rest of the chart is still read, so its cards are not lost
        cp = _checkpoint(rd)
        try:
            handler(rd, res)
        except _MALFORMED as exc:
            _restore(rd, cp)
            rd.skip(res, f"malformed, left out ({type(exc).__name__}: a value of the wrong type)")
    if later:
        n = sum(later.values())
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(later.items()))
        rd.notes.append(
            f"left out {n} resource{'s' if n != 1 else ''} dated after {cutoff} "
            f"(the date of the assessment): {kinds}"
        )
    case = _assemble(rd, today, assessed_on)
    return Mapped(case, rd.unmapped, rd.sources, rd.notes)


def _is_her(subj: Mapping[str, Any], refs: set[str], idents: set[str]) -> bool:
    sref = subj.get("reference")
    if isinstance(sref, str):
        if sref in refs:
            return True
        n = norm_ref(sref)
        return any(n == norm_ref(r) for r in refs if not r.startswith("urn:") or r == n)
    ident = subj.get("identifier")
    if isinstance(ident, MAPPING):
        return f"{ident.get('system')}|{ident.get('value')}" in idents
    return True


def _read_patient(rd: _Reader, res: Mapping[str, Any]) -> None:
    for ident in _as_list(res.get("identifier")):
        if isinstance(ident, MAPPING) and ident.get("system") == CASE_ID_SYSTEM:
            rd.top["id"] = ident.get("value")
    if "id" not in rd.top and res.get("id"):
        rd.top["id"] = res["id"]
    if (fmt := _ext_value(res, EXT_CASE_FORMAT, "valueString")) is not None:
        rd.top["format"] = fmt
    if (day := _ext_value(res, EXT_ASSESSED_ON, "valueDate")) is not None:
        rd.top["assessed_on"] = day
    if _ext_value(res, EXT_GESTATIONAL_CARRIER, "valueBoolean"):
        rd.top["gestational_carrier"] = True
    if isinstance(res.get("birthDate"), str):
        rd.patient["birth_date"] = res["birthDate"]
    if (age := _ext_value(res, EXT_AGE_YEARS, "valueInteger")) is not None:
        rd.patient["age_years"] = age


# ---------------------------------------------------------------- Observation


def _effective_of(res: Mapping[str, Any]) -> str | None:
    when = res.get("effectiveDateTime") or res.get("effectiveInstant")
    if not when and isinstance(res.get("effectivePeriod"), MAPPING):
        when = res["effectivePeriod"].get("start")
    if not when:
        when = res.get("issued")  # a lab result with no effective time: when it was issued
    if not isinstance(when, str):
        return None
    clock = _ext_value(res, EXT_LOCAL_TIME, "valueTime")
    if clock and len(when) == 10:
        return f"{when}T{clock}"
    return when


def _read_observation(rd: _Reader, res: Mapping[str, Any]) -> None:
    code = res.get("code")
    if res.get("status") in ("entered-in-error", "cancelled", "registered"):
        rd.skip(res, f"status {res.get('status')}", code)
        return
    test = _code_in(code, CS_TEST)
    loinc = _code_in(code, LOINC)
    known = [c for _s, c in all_codings(code) if _s == LOINC and c in rd.voc.by_loinc]
    if not test and known and loinc not in rd.voc.by_loinc:
        loinc = known[0]  # a later coding of the concept is one rplcare reads
    obs_code = _code_in(code, CS_OBSERVATION)
    if test or (loinc and loinc in rd.voc.by_loinc):
        _read_result(rd, res, test, loinc)
    elif loinc in GA_CODES:
        _read_ga(rd, res)
    elif loinc in PREGNANCY_TEST_CODES:
        rd.skip(
            res,
            "qualitative pregnancy test (urine or serum): rplcare reads quantitative serum hCG "
            "(21198-7, 19080-1); a positive test alone does not date or count a pregnancy",
            code,
        )
    elif _panel_components(rd, res):
        pass
    elif loinc == PREGNANCY_STATUS.code:
        _read_pregnancy_status(rd, res)
    elif loinc in _COUNT_CODES:
        v = res.get("valueInteger")
        if v is None and isinstance(res.get("valueQuantity"), MAPPING):
            v = res["valueQuantity"].get("value")
        if not _is_num(v):
            rd.skip(res, "history count without a number", code)
        else:
            rd.counts.append((str(loinc), int(v), res))
    elif loinc == BMI.code:
        _read_patient_quantity(rd, res, "bmi", ("kg/m2", "kg/m^2", "kg/m²"))
    elif loinc == SMOKING.code:
        val = _code_in(res.get("valueCodeableConcept"), SNOMED)
        if val in SMOKING_VALUES:
            rd.patient["smoking"] = SMOKING_VALUES[val]
            rd.sources["patient.smoking"] = _ref(res)
        else:
            rd.skip(res, "smoking status value not recognised", res.get("valueCodeableConcept"))
    elif obs_code == "alcohol-units-per-week":
        _read_patient_quantity(rd, res, "alcohol_units_per_week", ("units/week", "{unit}/wk"))
    elif obs_code == "caffeine-mg-per-day":
        _read_patient_quantity(rd, res, "caffeine_mg_per_day", ("mg/day", "mg/d"))
    elif obs_code == "menstrual-cycle":
        val = _code_in(res.get("valueCodeableConcept"), CS_MENSTRUAL)
        if val:
            rd.patient["menstrual_cycle"] = val
            rd.sources["patient.menstrual_cycle"] = _ref(res)
        else:
            rd.skip(res, "menstrual cycle value not recognised", code)
    elif obs_code == "partner-karyotype":
        if isinstance(res.get("valueString"), str):
            rd.partner["karyotype"] = res["valueString"]
            rd.sources["partner"] = _ref(res)
        else:
            rd.skip(res, "partner karyotype without a valueString", code)
    elif obs_code == "early-pregnancy-scan":
        _read_scan(rd, res)
    elif loinc in (
        CRL.code,
        MSD.code,
        FHR.code,
        FHR_US.code,
        YOLK_SAC_DIAMETER.code,
        CERVICAL_LENGTH.code,
    ):
        _read_loose_scan_value(rd, res, str(loinc))
    elif loinc == LMP.code:
        when = res.get("valueDateTime")
        if isinstance(when, str) and len(when) >= 10:
            rd.loose_lmp.append((when[:10], res))
        else:
            rd.skip(res, "LMP without a valueDateTime", code)
    else:
        rd.skip(res, "code not in rplcare's vocabulary", code)


def _panel_components(rd: _Reader, res: Mapping[str, Any]) -> bool:
    """Components of a panel whose codes are tests rplcare reads, each read as its own result."""
    comps = [c for c in res.get("component") or [] if isinstance(c, MAPPING)]
    known = [c for c in comps if (_code_in(c.get("code"), LOINC) or "") in rd.voc.by_loinc]
    if not known:
        return False
    for comp in known:
        part = {
            k: v
            for k, v in res.items()
            if k not in ("component", "code") and not k.startswith("value")
        }
        part.update({k: v for k, v in comp.items() if k != "extension"})
        _read_result(rd, part, None, _code_in(comp.get("code"), LOINC))
    return True


def _read_ga(rd: _Reader, res: Mapping[str, Any]) -> None:
    when = _day_of(_effective_of(res))
    q = res.get("valueQuantity")
    ga = _days(q if isinstance(q, MAPPING) else res.get("valueString"))
    if when is None or ga is None:
        rd.skip(res, "gestational age without a date or a value in wk, d or W+D", res.get("code"))
        return
    rd.ga_obs.append((when, ga, res))


def _read_diagnostic_report(rd: _Reader, res: Mapping[str, Any]) -> None:
    """A report's results: contained Observations are read here (with the report's date when
    they have none); Observations elsewhere in the input are read on their own."""
    read_any = False
    for ref in res.get("result") or []:
        target = ref.get("reference") if isinstance(ref, MAPPING) else None
        if not (isinstance(target, str) and target.startswith("#")):
            read_any = read_any or rd.resolve(ref, res) is not None
            continue
        obs = rd.resolve(ref, res)
        if obs is None:
            rd.skip(res, f"result {target} is not contained in the report", res.get("code"))
            continue
        obs = dict(obs)
        for key in ("effectiveDateTime", "effectivePeriod", "issued", "subject"):
            if key not in obs and key in res:
                obs[key] = res[key]
        if "id" in obs:
            obs["id"] = f"{res.get('id')}#{obs['id']}"
        _read_observation(rd, obs)
        read_any = True
    if not read_any:
        rd.skip(res, "report without results rplcare can read", res.get("code"))


def _read_patient_quantity(
    rd: _Reader, res: Mapping[str, Any], key: str, units: tuple[str, ...]
) -> None:
    q = res.get("valueQuantity")
    if not isinstance(q, MAPPING) or not _is_num(q.get("value")):
        rd.skip(res, f"{key} without a numeric valueQuantity", res.get("code"))
        return
    unit = q.get("code") or q.get("unit")
    if unit is not None and unit not in units:
        rd.skip(res, f"{key} in unit {unit!r}, expected {units[0]}", res.get("code"))
        return
    rd.patient[key] = q["value"]
    rd.sources[f"patient.{key}"] = _ref(res)


def _unit_for(test: str | None, q: Mapping[str, Any], voc: Any) -> str | None:
    unit, code = q.get("unit"), q.get("code")
    t = voc.tests.get(test) if test else None
    if t is None or t.kind == "recorded":
        return unit or code
    if unit in t.units or unit in t.rejected_units:
        return unit
    for name in t.units:
        if code is not None and UCUM_CODES.get(name) == code:
            return name
    return unit or code


#: a result written as text, as labs send it: "<0.1", "> 1000 mIU/mL", "≤5", "5.2 mIU/L"
_NUMBER_TEXT = re.compile(
    r"^\s*(?P<cmp><=|>=|=<|=>|<|>|≤|≥|⩽|⩾)?\s*"
    r"(?P<num>[+-]?(?:\d{1,12}(?:\.\d{0,12})?|\.\d{1,12})(?:[eE][+-]?\d{1,3})?)"
    r"\s*(?P<unit>[A-Za-z%µμ\[{][^\s]{0,30})?\s*$"
)
_COMPARATORS = {"=<": "<=", "=>": ">=", "≤": "<=", "≥": ">=", "⩽": "<=", "⩾": ">="}
_NUMERIC_KINDS = ("quantity", "qualitative_or_quantity")


def _value_string(text: str, code_name: str | None, voc: Any) -> dict[str, Any]:
    """A valueString read as the same value a Quantity gives: a number with an optional
    comparator (a bound, as `valueQuantity.comparator`) and unit, for a test read as a number;
    any other text (a qualitative word, free text) is the value as written, which the case model
    reads as a result word or refuses with its reason (the rest of the chart is still read)."""
    t = voc.tests.get(code_name or "")
    m = _NUMBER_TEXT.match(text) if len(text) <= 64 else None
    if t is None or t.kind not in _NUMERIC_KINDS or m is None:
        return {"value": text}
    num = m["num"]
    value: float | int = int(num) if num.lstrip("+-").isdigit() else float(num)
    out: dict[str, Any] = {"value": value}
    if m["cmp"]:
        out["comparator"] = _COMPARATORS.get(m["cmp"], m["cmp"])
    if m["unit"]:
        out["unit"] = _unit_for(code_name, {"unit": m["unit"], "code": m["unit"]}, voc)
    return out


def _read_result(rd: _Reader, res: Mapping[str, Any], test: str | None, loinc: str | None) -> None:
    code = res.get("code")
    out: dict[str, Any] = {}
    if test:
        out["test"] = test
        sel = next((c for c in _codings(code) if c.get("system") == LOINC), None)
        if loinc and sel and sel.get("userSelected") is True:
            out["loinc"] = loinc
    else:
        out["loinc"] = loinc
    code_name = test or rd.voc.by_loinc.get(loinc or "")
    when = _effective_of(res)
    if when is None:
        rd.skip(res, "result without an effective date", code)
        return
    if len(when) < 10:
        rd.skip(res, f"result date {when!r} is not a full date", code)
        return
    t = rd.voc.tests.get(code_name or "")
    q = res.get("valueQuantity")
    cc = res.get("valueCodeableConcept")
    if isinstance(q, MAPPING):
        comparator = q.get("comparator")
        if comparator is not None and comparator not in ("<", "<=", ">", ">="):
            rd.skip(res, f"value with comparator {comparator!r} is not a bound rplcare reads", code)
            return
        if comparator is not None:
            out["comparator"] = comparator
        if not _is_num(q.get("value")):
            rd.skip(res, "valueQuantity without a numeric value", code)
            return
        out["value"] = q["value"]
        unit = _unit_for(code_name, q, rd.voc)
        if unit is not None:
            out["unit"] = unit
    elif isinstance(cc, MAPPING):
        finding = _code_in(cc, CS_UTERINE_FINDING)
        if finding:
            out["finding"] = finding
        else:
            text = cc.get("text")
            word = (
                _QUAL_BY_CODE.get(_code_in(cc, SNOMED) or "")
                or TERM.answer_codes.get(_code_in(cc, LOINC) or "")
                or _code_in(cc, CS_RESULT_VALUE)
            )
            if isinstance(text, str) and text.strip().lower() in QUALITATIVE:
                out["value"] = text
            elif word:
                out["value"] = word
            elif isinstance(text, str) and text.strip():
                out["value"] = text
            else:
                rd.skip(res, "coded value not recognised", cc)
                return
    elif isinstance(res.get("valueString"), str):
        out.update(_value_string(res["valueString"], code_name, rd.voc))
    elif res.get("valueBoolean") is not None or res.get("valueInteger") is not None:
        v = res.get("valueInteger")
        if v is None:
            out["value"] = "positive" if res["valueBoolean"] else "negative"
        else:
            out["value"] = v
    elif t is None or t.kind not in ("recorded", "imaging"):
        why = "no value"
        if isinstance(res.get("dataAbsentReason"), MAPPING):
            why += f" ({code_label(res['dataAbsentReason'])})"
        rd.skip(res, why, code)
        return
    if (unit := _ext_value(res, EXT_RESULT_UNIT, "valueString")) is not None:
        out["unit"] = unit
    out["date"] = when
    rng = (res.get("referenceRange") or [None])[0]
    if isinstance(rng, MAPPING):
        for fkey, key in (("low", "reference_low"), ("high", "reference_high")):
            bound = rng.get(fkey)
            if isinstance(bound, MAPPING) and _is_num(bound.get("value")):
                out[key] = bound["value"]
    method = _code_in(res.get("method"), CS_IMAGING_METHOD)
    if method:
        out["method"] = method
    notes = [n.get("text") for n in res.get("note") or [] if isinstance(n, MAPPING)]
    notes = [n for n in notes if isinstance(n, str)]
    if notes:
        out["note"] = "\n".join(notes)
    if res.get("status") == "preliminary":
        out["note"] = "\n".join(filter(None, [out.get("note"), "preliminary result"]))
        rd.preliminary.add(len(rd.results))
    rd.results.append((out, _ref(res)))


# ---------------------------------------------------------------- current pregnancy


def _component_key(
    comp: Mapping[str, Any], table: dict[str, tuple[str, Code | None]]
) -> str | None:
    local_code = _code_in(comp.get("code"), CS_OBSERVATION)
    loinc = _code_in(comp.get("code"), LOINC)
    for key, (code, std) in table.items():
        if local_code == code or (std is not None and loinc == std.code):
            return key
    return None


def _component_value(key: str, comp: Mapping[str, Any]) -> Any:
    if key in _VALUE_SYSTEMS:
        return _code_in(comp.get("valueCodeableConcept"), _VALUE_SYSTEMS[key])
    for k in ("valueBoolean", "valueDateTime", "valueInteger"):
        if comp.get(k) is not None:
            v = comp[k]
            return v[:10] if k == "valueDateTime" and isinstance(v, str) else v
    q = comp.get("valueQuantity")
    if isinstance(q, MAPPING) and _is_num(q.get("value")):
        if key in ("cycle_length_days", "embryo_age_days"):
            return _days(q)
        return _mm(q)
    return None


def _mm(q: Mapping[str, Any]) -> float | None:
    """A length Quantity in mm (the case unit), or None for an unknown unit."""
    unit = q.get("code") or q.get("unit") or "mm"
    if unit == "mm":
        return q["value"]
    return q["value"] * 10 if unit == "cm" else None


def _read_pregnancy_status(rd: _Reader, res: Mapping[str, Any]) -> None:
    val = res.get("valueCodeableConcept")
    sn = _code_in(val, SNOMED)
    if sn == PREGNANT.code:
        rd.status.append((_effective_of(res) or "", True, res))
    elif sn == NOT_PREGNANT.code:
        rd.status.append((_effective_of(res) or "", False, res))
    else:
        rd.skip(res, "pregnancy status value not recognised", val)


def _pregnancy_from_status(rd: _Reader, res: Mapping[str, Any]) -> dict[str, Any]:
    cp: dict[str, Any] = {}
    for comp in res.get("component") or []:
        if not isinstance(comp, MAPPING):
            continue
        key = _component_key(comp, _PREG_COMPONENTS)
        value = _component_value(key, comp) if key else None
        if key is None or value is None:
            rd.skip(res, "pregnancy component not recognised", comp.get("code"))
        elif key == "symptoms":
            cp.setdefault("symptoms", []).append(value)
        else:
            cp[key] = value
    return cp


def _read_scan(rd: _Reader, res: Mapping[str, Any]) -> None:
    when = _effective_of(res)
    if not when or len(when) < 10:
        rd.skip(res, "scan without a date", res.get("code"))
        return
    scan: dict[str, Any] = {"date": when[:10]}
    for comp in res.get("component") or []:
        if not isinstance(comp, MAPPING):
            continue
        key = _component_key(comp, _SCAN_COMPONENTS)
        value = _component_value(key, comp) if key else None
        if key is None or value is None:
            rd.skip(res, "scan component not recognised", comp.get("code"))
        else:
            scan[key] = value
    rd.scans.append((scan, _ref(res)))


def _read_loose_scan_value(rd: _Reader, res: Mapping[str, Any], loinc: str) -> None:
    """A standalone CRL/MSD/heart-rate Observation: grouped by date into one scan."""
    when = _effective_of(res)
    q = res.get("valueQuantity")
    if not when or len(when) < 10 or not isinstance(q, MAPPING) or not _is_num(q.get("value")):
        rd.skip(res, "ultrasound measurement without a date or a number", res.get("code"))
        return
    scan, parts = rd.loose_scans.setdefault(when[:10], ({"date": when[:10]}, []))
    parts.append(res)
    if loinc in (FHR.code, FHR_US.code):
        scan["heartbeat"] = q["value"] > 0
        if q["value"] > 0:
            scan["embryo"] = True
        return
    key = {
        CRL.code: "crl_mm",
        MSD.code: "msd_mm",
        YOLK_SAC_DIAMETER.code: "yolk_sac_diameter_mm",
        CERVICAL_LENGTH.code: "cervical_length_mm",
    }[loinc]
    length = _mm(q)
    if length is None:
        rd.skip(res, f"ultrasound length in unit {q.get('unit')!r}, expected mm", res.get("code"))
        return
    scan[key] = length
    if key == "crl_mm":
        scan["embryo"] = True
        scan.setdefault("location", "intrauterine")
    if key in ("msd_mm", "yolk_sac_diameter_mm"):
        scan.setdefault("location", "intrauterine")


# ---------------------------------------------------------------- Condition, Procedure


def _read_condition(rd: _Reader, res: Mapping[str, Any]) -> None:
    code = res.get("code")
    ver = _code_in(
        res.get("verificationStatus"), "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    )
    if ver in ("refuted", "entered-in-error"):
        rd.skip(res, f"verificationStatus {ver}", code)
        return
    local_outcome = _code_in(code, CS_OUTCOME)
    if local_outcome:
        _read_pregnancy_outcome(rd, res, local_outcome, None)
        return
    codings = all_codings(code)
    o = TERM.outcome_of(codings)
    if o is not None:
        if o.outcome is None:
            rd.skip(res, o.why, code)
        else:
            _read_pregnancy_outcome(rd, res, o.outcome, o.trimester)
        return
    if any(c in EPISODE_CODES for c in codings):
        _read_episode(rd, res)
        return
    name = _condition_of(code)
    if name is None:
        sn = _code_in(code, SNOMED) or ""
        icd = _code_in(code, ICD10) or _code_in(code, ICD10CM) or ""
        if sn in DERIVED_CONDITIONS or icd in DERIVED_CONDITIONS:
            rd.skip(res, DERIVED_CONDITIONS.get(sn) or DERIVED_CONDITIONS[icd], code)
        else:
            rd.skip(res, "condition not in rplcare's vocabulary", code)
        return
    clinical = _code_in(res.get("clinicalStatus"), CONDITION_CLINICAL)
    if clinical in ("inactive", "resolved", "remission") and name not in HISTORY_CONDITIONS:
        rd.skip(res, f"clinicalStatus {clinical}: not a current condition", code)
        return
    rd.conditions.append((name, _ref(res)))


def _read_procedure(rd: _Reader, res: Mapping[str, Any]) -> None:
    code = res.get("code")
    if res.get("status") in ("entered-in-error", "not-done", "preparation"):
        rd.skip(res, f"status {res.get('status')}", code)
        return
    o = TERM.outcome_of(all_codings(code))
    if o is None:
        rd.skip(res, "procedure not read by rplcare", code)
    elif o.outcome is None:
        rd.skip(res, o.why, code)
    else:
        _read_pregnancy_outcome(rd, res, o.outcome, o.trimester)


def _read_episode(rd: _Reader, res: Mapping[str, Any]) -> None:
    start = _day_of(res.get("onsetDateTime")) or _day_of(
        (res.get("onsetPeriod") or {}).get("start")
    )
    if start is None:
        rd.skip(res, "pregnancy without an onset date", res.get("code"))
        return
    end = _day_of(res.get("abatementDateTime")) or _day_of(
        (res.get("abatementPeriod") or {}).get("start")
    )
    if end is not None and rd.cutoff is not None and end > rd.cutoff:
        end = None  # still going on at the date of the assessment
    rd.episodes.append((start, end, res))


def _condition_of(code: Any) -> str | None:
    name = _code_in(code, CS_CONDITION)
    if name:
        return name
    for cname, codes in CONDITION_CODES.items():
        for c in codes:
            got = _code_in(code, c.system)
            if got == c.code or (
                got and c.system in (ICD10, ICD10CM) and len(c.code) == 3 and got.startswith(c.code)
            ):
                return cname
    return None


def _day_of(value: Any) -> date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _read_pregnancy_outcome(
    rd: _Reader, res: Mapping[str, Any], outcome: str, trimester: str | None
) -> None:
    p: dict[str, Any] = {"outcome": outcome}
    ga_ext = _ext(res, EXT_GA)
    if ga_ext is not None:
        days = _days(ga_ext.get("valueQuantity") or ga_ext.get("valueString"))
        if days is not None:
            p["ga"] = format_ga(days)
    onset = (
        res.get("onsetDateTime")
        or (res.get("onsetPeriod") or {}).get("start")
        or res.get("performedDateTime")
        or (res.get("performedPeriod") or {}).get("start")
    )
    if isinstance(onset, str):
        if len(onset) >= 10:
            p["date"] = onset[:10]
        elif len(onset) >= 4 and onset[:4].isdigit():
            p["year"] = int(onset[:4])
    if (year := _ext_value(res, EXT_OUTCOME_YEAR, "valueInteger")) is not None:
        p["year"] = year
    if _ext_value(res, EXT_GA_UNKNOWN, "valueBoolean") is True and "ga" not in p:
        p["ga_unknown"] = True
    if (tri := _ext_value(res, EXT_TRIMESTER, "valueCode")) in ("first", "second"):
        trimester = tri
    if (c := _ext_value(res, EXT_CONCEPTION, "valueCode")) is not None:
        p["conception"] = c
    for key, url in (
        ("heartbeat_seen", EXT_HEARTBEAT_SEEN),
        ("fetal_anomaly", EXT_FETAL_ANOMALY),
        ("painless_cervical_dilation", EXT_PAINLESS_DILATION),
    ):
        if (v := _ext_value(res, url, "valueBoolean")) is not None:
            p[key] = v
    if (k := _ext_value(res, EXT_POC_KARYOTYPE, "valueString")) is not None:
        p["poc_karyotype"] = k
    if (pc := _ext_value(res, EXT_PRETERM_CAUSE, "valueCode")) is not None:
        p["preterm_cause"] = pc
    seq = _ext_value(res, EXT_SEQUENCE, "valueInteger")
    rd.pregnancies.append(
        _Event(p, seq if isinstance(seq, int) else None, _ref(res), trimester, res)
    )


# ---------------------------------------------------------------- medications


def _dose_mg(text: str, dosages: Any) -> float | None:
    """The single dose in mg, from doseQuantity or the text ("aspirin 325 mg")."""
    for d in dosages or []:
        if not isinstance(d, MAPPING):
            continue
        for dr in d.get("doseAndRate") or []:
            q = dr.get("doseQuantity") if isinstance(dr, MAPPING) else None
            if isinstance(q, MAPPING) and _is_num(q.get("value")):
                unit = (q.get("code") or q.get("unit") or "").lower()
                if unit == "mg":
                    return float(q["value"])
                if unit == "g":
                    return float(q["value"]) * 1000
    m = _MG.search(text)
    return float(m.group(1)) if m else None


_MG = re.compile(r"(\d+(?:\.\d+)?)\s*mg\b", re.I)


def _route_of(text: str, route_codes: list[tuple[str, str]], ingredient: Any) -> str | None:
    for route, c in TERM.routes.items():
        if (c.system, c.code) in route_codes:
            return route
    words = ingredient.extra.get("route_words") or {}
    norm = normalise(text)
    for route, phrases in words.items():
        for ph in phrases:
            if re.search(r"(?<![a-z0-9])" + re.escape(normalise(ph)) + r"(?![a-z0-9])", norm):
                return str(route)
    return None


def medication_name(
    concept: Any,
    dosage_text: str = "",
    dosages: Any = None,
    route_codes: list[tuple[str, str]] | None = None,
) -> tuple[str | None, str]:
    """Vocabulary medication for a medication concept, or (None, why).

    By code first (RxNorm / ATC / rplcare), else by whole-word synonym; a look-alike (anti-D
    immunoglobulin, medroxyprogesterone, a heparin flush...) is never read as what it resembles.
    """
    name = _code_in(concept, CS_MEDICATION)
    if name:
        return name, ""
    text = _text_of(concept)
    m = TERM.match(all_codings(concept), text, "drug")
    c = m.concept
    if c is None:
        return None, "medication not in rplcare's vocabulary"
    if m.look_alike:
        return None, c.why
    both = f"{text} {dosage_text}"
    if c.kind == "ingredient":
        route = _route_of(both, route_codes or [], c)
        drug = (c.extra.get("by_route") or {}).get(route) if route else None
        if drug is None:
            return None, str(c.extra.get("no_route", "route not given"))
        return str(drug), ""
    if c.max_dose_mg is not None:
        dose = _dose_mg(both, dosages)
        if dose is not None and dose > c.max_dose_mg:
            return None, (
                f"{dose:g} mg is above the {c.max_dose_mg:g} mg of {c.display}: not read as {c.id}"
            )
    return c.id, ""


def _dosage_text(dosages: Any) -> str:
    parts: list[str] = []
    for d in dosages or []:
        if isinstance(d, MAPPING):
            if isinstance(d.get("text"), str):
                parts.append(d["text"])
            parts.append(_text_of(d.get("route")))
    return " ".join(parts)


def _route_codes(dosages: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for d in dosages or []:
        if isinstance(d, MAPPING):
            out += all_codings(d.get("route"))
    return out


def _medication_concept(rd: _Reader, res: Mapping[str, Any]) -> Any:
    """medicationCodeableConcept, or the code of the Medication a medicationReference names."""
    concept = res.get("medicationCodeableConcept")
    if concept is not None:
        return concept
    ref = res.get("medicationReference")
    target = rd.resolve(ref, res)
    if target is not None and target.get("resourceType") == "Medication":
        return target.get("code")
    return None


def _read_medication(rd: _Reader, res: Mapping[str, Any]) -> None:
    rtype = res.get("resourceType")
    status = res.get("status")
    ok = ("active", "intended", "on-hold") if rtype == "MedicationStatement" else ("active",)
    concept = _medication_concept(rd, res)
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
    name, why = medication_name(
        concept, _dosage_text(dosages), dosages=dosages, route_codes=_route_codes(dosages)
    )
    if name is None:
        rd.skip(res, why, concept)
        return
    flag = _ext_value(res, EXT_PREGNANCY_TREATMENT, "valueBoolean")
    rd.meds.append((name, _ref(res), flag if isinstance(flag, bool) else None))


_HANDLERS = {
    "Observation": _read_observation,
    "Condition": _read_condition,
    "Procedure": _read_procedure,
    "DiagnosticReport": _read_diagnostic_report,
    "MedicationStatement": _read_medication,
    "MedicationRequest": _read_medication,
}

#: every resource type the mapping reads: the Patient, the types with a handler, and the
#: types a handler looks up by reference (Medication for medicationReference; Observations a
#: DiagnosticReport names are Observations already)
READ_TYPES = frozenset({"Patient", "Medication", *_HANDLERS})


def reads_type(resource_type: Any) -> bool:
    """True when `case_from_entries` can use a resource of this type (any other type it
    reports as "resource type not read by rplcare" and otherwise ignores)."""
    return resource_type in READ_TYPES


# ---------------------------------------------------------------- assembly


def _assemble(rd: _Reader, today: date | None, assessed_on: date | None) -> dict[str, Any]:
    case: dict[str, Any] = {}
    for key in ("format", "id"):
        if key in rd.top:
            case[key] = rd.top[key]
    if assessed_on is not None:
        case["assessed_on"] = assessed_on.isoformat()
    elif "assessed_on" in rd.top:
        case["assessed_on"] = rd.top["assessed_on"]
    elif today is not None:
        case["assessed_on"] = today.isoformat()

    pregnant = _current_status(rd)
    patient = dict(rd.patient)
    if rd.conditions:
        patient["conditions"] = []
        for i, (name, ref) in enumerate(rd.conditions):
            patient["conditions"].append(name)
            rd.sources[f"patient.conditions[{i}]"] = ref
    treatments: list[str] = []
    meds: list[str] = []
    for name, ref, flag in rd.meds:
        in_preg = (
            flag if flag is not None else (pregnant is not None and name in rd.voc.progestogens)
        )
        if in_preg and pregnant is None:
            in_preg = False
        target, path = (
            (treatments, "current_pregnancy.treatments")
            if in_preg
            else (meds, "patient.medications")
        )
        rd.sources[f"{path}[{len(target)}]"] = ref
        target.append(name)
    if meds:
        patient["medications"] = meds
    case["patient"] = patient
    if rd.top.get("gestational_carrier"):
        case["gestational_carrier"] = True
    if rd.partner:
        case["partner"] = rd.partner
    preg = _ordered_pregnancies(rd)
    preg = _check_counts(rd, preg, pregnant is not None)
    if preg:
        case["pregnancies"] = preg
    _drop_superseded_preliminaries(rd)
    if rd.results:
        case["results"] = []
        for i, (r, ref) in enumerate(rd.results):
            case["results"].append(r)
            rd.sources[f"results[{i}]"] = ref
    if pregnant is not None:
        cp = pregnant
        if treatments:
            cp["treatments"] = treatments
        scans = [s for s, _ in rd.scans]
        for i, (_, ref) in enumerate(rd.scans):
            rd.sources[f"current_pregnancy.scans[{i}]"] = ref
        for day in sorted(rd.loose_scans):
            scan, parts = rd.loose_scans[day]
            rd.sources[f"current_pregnancy.scans[{len(scans)}]"] = _ref(parts[0])
            scans.append(scan)
        if scans:
            cp["scans"] = scans
        case["current_pregnancy"] = cp
    else:
        for _day, (_scan, parts) in sorted(rd.loose_scans.items()):
            for res in parts:
                rd.skip(
                    res,
                    "ultrasound measurement without a current pregnancy status "
                    f"({PREGNANCY_STATUS.code})",
                    res.get("code"),
                )
        for _when, res in rd.loose_lmp:
            rd.skip(res, "LMP without a current pregnancy status", res.get("code"))
    return case


def _current_status(rd: _Reader) -> dict[str, Any] | None:
    """The current pregnancy from the latest pregnancy-status Observation, or None."""
    if not rd.status:
        return _open_episode(rd)
    latest = max(range(len(rd.status)), key=lambda i: (rd.status[i][0], i))
    for i, (_when, _preg, res) in enumerate(rd.status):
        if i != latest:
            rd.skip(res, "an older pregnancy status; the latest one is used", res.get("code"))
    _when, preg, res = rd.status[latest]
    if not preg:
        return None
    try:
        cp = _pregnancy_from_status(rd, res)
    except _MALFORMED as exc:
        rd.skip(res, f"malformed, left out ({type(exc).__name__}: a value of the wrong type)")
        return None
    rd.sources["current_pregnancy"] = _ref(res)
    if "lmp" not in cp and rd.loose_lmp:
        when, lres = max(rd.loose_lmp, key=lambda x: x[0])
        cp["lmp"] = when
        rd.sources["current_pregnancy.lmp"] = _ref(lres)
    return cp


_NEEDS_GA = ("miscarriage", "stillbirth", "live_birth")
# one pregnancy with several outcome codes: the most specific outcome wins
_OUTCOME_RANK = {
    "stillbirth": 0,
    "live_birth": 1,
    "molar": 2,
    "ectopic": 3,
    "miscarriage": 4,
    "biochemical": 5,
    "termination": 6,
}


def _episode_of(rd: _Reader, day: date | None) -> int | None:
    if day is None:
        return None
    limit = rd.voc_max_ga_days
    for i, (start, end, _res) in enumerate(rd.episodes):
        if start <= day and (day <= end if end is not None else (day - start).days <= limit):
            return i
    return None


def _ga_for(rd: _Reader, day: date | None, episode: int | None) -> int | None:
    """GA at `day` from a GA Observation or an LMP of the same pregnancy (never guessed)."""
    if day is None:
        return None
    best: tuple[date, int] | None = None
    for obs_day, ga, _res in rd.ga_obs:
        same = obs_day == day or (episode is not None and _episode_of(rd, obs_day) == episode)
        if same and obs_day <= day and (best is None or obs_day > best[0]):
            best = (obs_day, ga + (day - obs_day).days)
    if best is not None:
        return best[1]
    if episode is not None:
        for when, lres in rd.loose_lmp:
            lmp = _day_of(when)
            if (
                lmp is not None
                and _episode_of(rd, _day_of(_effective_of(lres))) == episode
                and 0 < (day - lmp).days <= rd.voc_max_ga_days
            ):
                return (day - lmp).days
    return None


def _drop_superseded_preliminaries(rd: _Reader) -> None:
    """A preliminary result with a final one of the same test and time is the final one's
    draft: reported, not read twice. A preliminary alone is read, noted as preliminary."""

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r.get("test") or r.get("loinc"), r.get("date"))

    finals = {key(r) for i, (r, _) in enumerate(rd.results) if i not in rd.preliminary}
    kept = []
    for i, (r, ref) in enumerate(rd.results):
        if i in rd.preliminary and key(r) in finals:
            rtype, _, rid = ref.partition("/")
            rd.unmapped.append(
                Unmapped(rtype, rid or None, "", "preliminary result superseded by a final one")
            )
        else:
            kept.append((r, ref))
    rd.results = kept


def _open_episode(rd: _Reader) -> dict[str, Any] | None:
    """With no pregnancy status, a pregnancy episode still open at the date of the assessment
    (and under 44 weeks old, with no outcome in it) is the current pregnancy, undated."""
    if rd.cutoff is None:
        return None
    for i, (start, end, res) in enumerate(rd.episodes):
        if end is not None or start > rd.cutoff:
            continue
        if (rd.cutoff - start).days > rd.voc_max_ga_days:
            rd.skip(res, "pregnancy open for over 44 weeks: not taken as current", res.get("code"))
            continue
        if any(_episode_of(rd, e.day) == i for e in rd.pregnancies):
            continue
        rd.sources["current_pregnancy"] = _ref(res)
        rd.notes.append(
            f"{_ref(res)}: a pregnancy recorded on {start} and still open on {rd.cutoff} is "
            "the current pregnancy (no dating read: give the LMP or a scan)"
        )
        return {}
    return None


def _ordered_pregnancies(rd: _Reader) -> list[dict[str, Any]]:
    """One case pregnancy per event: codes of one day or one pregnancy episode are merged."""
    own = [e for e in rd.pregnancies if e.seq is not None]
    ehr = [e for e in rd.pregnancies if e.seq is None]
    groups: dict[Any, list[_Event]] = {}
    for i, e in enumerate(ehr):
        ep = _episode_of(rd, e.day)
        key: Any = ("episode", ep) if ep is not None else ("day", e.day) if e.day else ("n", i)
        groups.setdefault(key, []).append(e)
    merged: list[_Event] = []
    for key, events in groups.items():
        events.sort(key=lambda e: _OUTCOME_RANK.get(e.p["outcome"], 9))
        head = events[0]
        p = dict(head.p)
        for other in events[1:]:
            for k, v in other.p.items():
                p.setdefault(k, v)
        days = [e.day for e in events if e.day is not None]
        if days:
            p["date"] = min(days).isoformat()
        trimester = next((e.trimester for e in events if e.trimester), None)
        if p["outcome"] in _NEEDS_GA and "ga" not in p:
            ga = _ga_for(rd, min(days) if days else None, key[1] if key[0] == "episode" else None)
            if ga is not None and ga > 0:
                p["ga"] = format_ga(ga)
            else:
                p["ga_unknown"] = True
                if trimester:
                    p["trimester"] = trimester
        if len(events) > 1:
            rd.notes.append(
                f"{', '.join(e.ref for e in events)}: one pregnancy ({p['outcome']}"
                f"{' on ' + p['date'] if p.get('date') else ''}), read once"
            )
        merged.append(_Event(p, None, head.ref, trimester, head.res))
    for e in own:
        if e.p["outcome"] in _NEEDS_GA and "ga" not in e.p:
            e.p["ga_unknown"] = True
        if e.trimester and "ga" not in e.p:
            e.p["trimester"] = e.trimester
    rows = own + merged
    if own and not merged:
        rows = sorted(own, key=lambda e: e.seq)  # type: ignore[arg-type, return-value]
    elif rows and all(("date" in e.p or "year" in e.p) for e in rows):
        rows = sorted(rows, key=lambda e: e.p.get("date") or f"{e.p['year']:04d}-07-01")
    out = []
    for i, e in enumerate(rows):
        out.append(e.p)
        rd.sources[f"pregnancies[{i}]"] = e.ref
    return out


def _check_counts(rd: _Reader, preg: list[dict[str, Any]], current: bool) -> list[dict[str, Any]]:
    """Obstetric-history counts: a loss counted but not detailed is added (date and GA
    unknown) and said so; a count lower than the pregnancies read is reported."""
    added: list[dict[str, Any]] = []
    added_refs: list[str] = []
    for code, n, res in rd.counts:
        if code == COUNT_GRAVIDA.code:
            listed = len(preg) + len(added) + int(current)
        elif code in COUNTS:
            outcomes = COUNTS[code][1]
            listed = sum(p["outcome"] in outcomes for p in (*preg, *added))
            if n > listed:
                outcome = outcomes[0]
                for _ in range(n - listed):
                    p: dict[str, Any] = {"outcome": outcome}
                    if outcome in _NEEDS_GA:
                        p["ga_unknown"] = True
                    added.append(p)
                    added_refs.append(_ref(res))
                rd.notes.append(
                    f"{_ref(res)} ({COUNTS[code][0].display}) counts {n}, the record details "
                    f"{listed}: {n - listed} {outcome.replace('_', ' ')}"
                    f"{'s' if n - listed != 1 else ''} added with date and GA unknown"
                )
                continue
        else:
            rd.skip(
                res,
                "history count not used: rplcare counts from the listed pregnancies",
                res.get("code"),
            )
            continue
        if n != listed:
            rd.skip(
                res,
                f"count says {n}, the pregnancies read give {listed}: enter the "
                "missing pregnancies (outcome, GA) in the case",
                res.get("code"),
            )
    if not added:
        return preg
    # undated losses from a count come first (their order is unknown; they are older)
    shifted = {k: v for k, v in rd.sources.items() if not k.startswith("pregnancies[")}
    for i, ref in enumerate(added_refs):
        shifted[f"pregnancies[{i}]"] = ref
    for k, v in rd.sources.items():
        if k.startswith("pregnancies["):
            i = int(k[len("pregnancies[") : k.index("]")])
            shifted[f"pregnancies[{i + len(added)}]" + k[k.index("]") + 1 :]] = v
    rd.sources.clear()
    rd.sources.update(shifted)
    return added + preg


# ---------------------------------------------------------------- a readable case, always

_PRUNABLE = re.compile(
    r"^(results|pregnancies|patient\.conditions|patient\.medications|"
    r"current_pregnancy\.scans|current_pregnancy\.treatments)\[(\d+)\]"
)


def _get_list(case: dict[str, Any], key: str) -> list[Any] | None:
    node: Any = case
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, list) else None


def readable_case(
    case: Mapping[str, Any],
    sources: dict[str, str],
    today: date | None = None,
    *,
    max_rounds: int = 5,
) -> tuple[Any, list[Unmapped]]:
    """Load a mapped case; a list item the case model refuses (one result, one pregnancy...)
    is left out and reported with its reason, so one unreadable value never makes the whole
    chart unreadable. Problems outside such items (the patient's own fields) still raise the
    CaseError. Returns (Case, the rows left out); the items are removed from `case` (when it
    is a dict) and `sources` is re-indexed, both in place."""
    from rplcare.case.errors import CaseError
    from rplcare.case.loader import load_case

    data = case if isinstance(case, dict) else copy.deepcopy(dict(case))
    dropped: list[Unmapped] = []
    for _ in range(max_rounds):
        try:
            return load_case(data, today=today), dropped
        except CaseError as exc:
            items: dict[tuple[str, int], list[str]] = {}
            for path, msg in exc.problems:
                m = _PRUNABLE.match(path)
                if m is None:
                    raise
                items.setdefault((m.group(1), int(m.group(2))), []).append(f"{path}: {msg}")
            for (key, i), msgs in sorted(items.items(), key=lambda kv: -kv[0][1]):
                lst = _get_list(data, key)
                if lst is None or i >= len(lst):
                    raise
                lst.pop(i)
                ref = sources.get(f"{key}[{i}]") or key
                rtype, _, rid = ref.partition("/")
                dropped.append(
                    Unmapped(
                        rtype, rid or None, "", "not a readable case value: " + "; ".join(msgs)
                    )
                )
                _shift_sources(sources, key, i)
                if not lst:
                    parent, _, leaf = key.rpartition(".")
                    holder = _get_list_parent(data, parent)
                    if holder is not None:
                        holder.pop(leaf, None)
    return load_case(data, today=today), dropped


def _get_list_parent(case: dict[str, Any], parent: str) -> dict[str, Any] | None:
    node: Any = case
    for part in [p for p in parent.split(".") if p]:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _shift_sources(sources: dict[str, str], key: str, removed: int) -> None:
    prefix = f"{key}["
    moved: dict[str, str] = {}
    for k in list(sources):
        if not k.startswith(prefix):
            continue
        i = int(k[len(prefix) : k.index("]", len(prefix))])
        rest = k[k.index("]", len(prefix)) + 1 :]
        v = sources.pop(k)
        if i == removed:
            continue
        moved[f"{prefix}{i - 1 if i > removed else i}]{rest}"] = v
    sources.update(moved)
