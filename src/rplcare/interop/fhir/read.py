"""FHIR R4 resources -> case mapping (partial by nature: the rest is reported as Unmapped)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rplcare.case.vocabulary import QUALITATIVE, vocabulary
from rplcare.interop.fhir.codes import (
    _COUNT_CODES,
    _IM,
    _MED_PATTERNS,
    _PROGESTERONE,
    _QUAL_BY_CODE,
    _VAGINAL,
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
    EXT_AGE_YEARS,
    EXT_ASSESSED_ON,
    EXT_CASE_FORMAT,
    EXT_CONCEPTION,
    EXT_FETAL_ANOMALY,
    EXT_GA,
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
    FHR,
    FHR_US,
    HISTORY_CONDITIONS,
    ICD10,
    ICD10CM,
    LMP,
    LOINC,
    MISC_1ST,
    MISC_2ND,
    MSD,
    NO_GA_OUTCOME_CODES,
    NOT_PREGNANT,
    OUTCOME_CODES,
    PREGNANCY_STATUS,
    PREGNANT,
    SMOKING,
    SMOKING_VALUES,
    SNOMED,
    UCUM_CODES,
    YOLK_SAC_DIAMETER,
    Code,
)
from rplcare.interop.fhir.jsonutil import (
    _code_in,
    _codings,
    _days,
    _ext,
    _ext_value,
    _is_num,
    _text_of,
    code_label,
)
from rplcare.interop.fhir.write import _PREG_COMPONENTS, _SCAN_COMPONENTS, _VALUE_SYSTEMS
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


Entry = tuple[str | None, Mapping[str, Any]]


def bundle_entries(value: Any) -> Iterator[Entry]:
    """(fullUrl, resource) pairs of a Bundle, a single resource, or a list of either."""
    if isinstance(value, list):
        for item in value:
            yield from bundle_entries(item)
        return
    if not isinstance(value, Mapping):
        return
    if value.get("resourceType") == "Bundle":
        for e in value.get("entry") or []:
            if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping):
                yield e.get("fullUrl"), e["resource"]
    elif isinstance(value.get("resourceType"), str):
        yield None, value


class _Reader:
    """One pass over the resources; collects case parts and unmapped rows in input order."""

    def __init__(self) -> None:
        self.voc = vocabulary()
        self.unmapped: list[Unmapped] = []
        self.patient: dict[str, Any] = {}
        self.top: dict[str, Any] = {}
        self.partner: dict[str, Any] = {}
        self.conditions: list[tuple[str, str]] = []
        self.meds: list[tuple[str, str, bool | None]] = []
        self.pregnancies: list[tuple[dict[str, Any], int | None, str]] = []
        self.counts: list[tuple[str, int, Mapping[str, Any]]] = []
        self.results: list[tuple[dict[str, Any], str]] = []
        self.status: list[tuple[str, bool, Mapping[str, Any]]] = []
        self.scans: list[tuple[dict[str, Any], str]] = []
        self.loose_scans: dict[str, tuple[dict[str, Any], list[Mapping[str, Any]]]] = {}
        self.loose_lmp: list[tuple[str, Mapping[str, Any]]] = []
        self.sources: dict[str, str] = {}

    def skip(self, res: Mapping[str, Any], why: str, concept: Any = None) -> None:
        self.unmapped.append(
            Unmapped(str(res.get("resourceType")), res.get("id"), code_label(concept), why)
        )


def _ref(res: Mapping[str, Any]) -> str:
    return (
        f"{res.get('resourceType')}/{res.get('id')}"
        if res.get("id")
        else str(res.get("resourceType"))
    )


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
            ids = {r.get("id")} | {
                i.get("value") for i in r.get("identifier") or [] if isinstance(i, Mapping)
            }
            if patient_id in ids:
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
    refs = {f"Patient/{pid}"} if pid else set()
    if url:
        refs.add(url)
    rd = _Reader()
    _read_patient(rd, pres)
    rd.sources["patient"] = _ref(pres)
    for _u, res in items:
        if res is pres:
            continue
        rtype = res.get("resourceType")
        if rtype == "Patient":
            rd.skip(res, "another patient")
            continue
        subj = res.get("subject") or res.get("patient")
        sref = subj.get("reference") if isinstance(subj, Mapping) else None
        if (
            sref
            and sref not in refs
            and not any(sref.endswith("/" + r) for r in refs if r.startswith("Patient/"))
        ):
            rd.skip(res, f"belongs to another patient ({sref})", res.get("code"))
            continue
        handler = _HANDLERS.get(str(rtype))
        if handler is None:
            rd.skip(res, "resource type not read by rplcare")
        else:
            handler(rd, res)
    case = _assemble(rd, today, assessed_on)
    return Mapped(case, rd.unmapped, rd.sources)


def _read_patient(rd: _Reader, res: Mapping[str, Any]) -> None:
    for ident in res.get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") == CASE_ID_SYSTEM:
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
    if not when and isinstance(res.get("effectivePeriod"), Mapping):
        when = res["effectivePeriod"].get("start")
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
    obs_code = _code_in(code, CS_OBSERVATION)
    if test or (loinc and loinc in rd.voc.by_loinc):
        _read_result(rd, res, test, loinc)
    elif loinc == PREGNANCY_STATUS.code:
        _read_pregnancy_status(rd, res)
    elif loinc in _COUNT_CODES:
        v = res.get("valueInteger")
        if v is None and isinstance(res.get("valueQuantity"), Mapping):
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


def _read_patient_quantity(
    rd: _Reader, res: Mapping[str, Any], key: str, units: tuple[str, ...]
) -> None:
    q = res.get("valueQuantity")
    if not isinstance(q, Mapping) or not _is_num(q.get("value")):
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
    if isinstance(q, Mapping):
        if q.get("comparator"):
            rd.skip(
                res,
                f"value with comparator {q['comparator']!r} cannot be entered as a number",
                code,
            )
            return
        if not _is_num(q.get("value")):
            rd.skip(res, "valueQuantity without a numeric value", code)
            return
        out["value"] = q["value"]
        unit = _unit_for(code_name, q, rd.voc)
        if unit is not None:
            out["unit"] = unit
    elif isinstance(cc, Mapping):
        finding = _code_in(cc, CS_UTERINE_FINDING)
        if finding:
            out["finding"] = finding
        else:
            text = cc.get("text")
            word = _QUAL_BY_CODE.get(_code_in(cc, SNOMED) or "") or _code_in(cc, CS_RESULT_VALUE)
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
        out["value"] = res["valueString"]
    elif res.get("valueBoolean") is not None or res.get("valueInteger") is not None:
        v = res.get("valueInteger")
        if v is None:
            out["value"] = "positive" if res["valueBoolean"] else "negative"
        else:
            out["value"] = v
    elif t is None or t.kind not in ("recorded", "imaging"):
        why = "no value"
        if isinstance(res.get("dataAbsentReason"), Mapping):
            why += f" ({code_label(res['dataAbsentReason'])})"
        rd.skip(res, why, code)
        return
    if (unit := _ext_value(res, EXT_RESULT_UNIT, "valueString")) is not None:
        out["unit"] = unit
    out["date"] = when
    rng = (res.get("referenceRange") or [None])[0]
    if isinstance(rng, Mapping):
        for fkey, key in (("low", "reference_low"), ("high", "reference_high")):
            bound = rng.get(fkey)
            if isinstance(bound, Mapping) and _is_num(bound.get("value")):
                out[key] = bound["value"]
    method = _code_in(res.get("method"), CS_IMAGING_METHOD)
    if method:
        out["method"] = method
    notes = [n.get("text") for n in res.get("note") or [] if isinstance(n, Mapping)]
    notes = [n for n in notes if isinstance(n, str)]
    if notes:
        out["note"] = "\n".join(notes)
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
    if isinstance(q, Mapping) and _is_num(q.get("value")):
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
        if not isinstance(comp, Mapping):
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
        if not isinstance(comp, Mapping):
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
    if not when or len(when) < 10 or not isinstance(q, Mapping) or not _is_num(q.get("value")):
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


# ---------------------------------------------------------------- Condition


def _read_condition(rd: _Reader, res: Mapping[str, Any]) -> None:
    code = res.get("code")
    ver = _code_in(
        res.get("verificationStatus"), "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    )
    if ver in ("refuted", "entered-in-error"):
        rd.skip(res, f"verificationStatus {ver}", code)
        return
    outcome = _outcome_of(code)
    if outcome is not None:
        _read_pregnancy_outcome(rd, res, outcome)
        return
    name = _condition_of(code)
    if name is None:
        sn = _code_in(code, SNOMED) or ""
        icd = _code_in(code, ICD10) or _code_in(code, ICD10CM) or ""
        if sn in NO_GA_OUTCOME_CODES:
            rd.skip(
                res,
                f"{NO_GA_OUTCOME_CODES[sn]} without gestational age: the case "
                "needs the GA of each loss",
                code,
            )
        elif sn in DERIVED_CONDITIONS or icd in DERIVED_CONDITIONS:
            rd.skip(res, DERIVED_CONDITIONS.get(sn) or DERIVED_CONDITIONS[icd], code)
        else:
            rd.skip(res, "condition not in rplcare's vocabulary", code)
        return
    clinical = _code_in(res.get("clinicalStatus"), CONDITION_CLINICAL)
    if clinical in ("inactive", "resolved", "remission") and name not in HISTORY_CONDITIONS:
        rd.skip(res, f"clinicalStatus {clinical}: not a current condition", code)
        return
    rd.conditions.append((name, _ref(res)))


def _outcome_of(code: Any) -> str | None:
    local_outcome = _code_in(code, CS_OUTCOME)
    if local_outcome:
        return local_outcome
    sn = _code_in(code, SNOMED)
    if sn in (MISC_1ST.code, MISC_2ND.code):
        return "miscarriage"
    for outcome, codes in OUTCOME_CODES.items():
        for c in codes:
            if _code_in(code, c.system) == c.code:
                return outcome
    icd = _code_in(code, ICD10) or _code_in(code, ICD10CM) or ""
    if icd.startswith("O03"):
        return "miscarriage"
    return None


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


def _read_pregnancy_outcome(rd: _Reader, res: Mapping[str, Any], outcome: str) -> None:
    p: dict[str, Any] = {"outcome": outcome}
    ga_ext = _ext(res, EXT_GA)
    if ga_ext is not None:
        days = _days(ga_ext.get("valueQuantity") or ga_ext.get("valueString"))
        if days is not None:
            p["ga"] = format_ga(days)
    onset = res.get("onsetDateTime")
    if isinstance(onset, str):
        if len(onset) >= 10:
            p["date"] = onset[:10]
        elif len(onset) >= 4 and onset[:4].isdigit():
            p["year"] = int(onset[:4])
    if (year := _ext_value(res, EXT_OUTCOME_YEAR, "valueInteger")) is not None:
        p["year"] = year
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
    if outcome in ("miscarriage", "stillbirth", "live_birth") and "ga" not in p:
        rd.skip(
            res,
            f"{outcome.replace('_', ' ')} without gestational age: the case needs it",
            res.get("code"),
        )
        return
    seq = _ext_value(res, EXT_SEQUENCE, "valueInteger")
    rd.pregnancies.append((p, seq if isinstance(seq, int) else None, _ref(res)))


# ---------------------------------------------------------------- medications


def medication_name(concept: Any, dosage_text: str = "") -> tuple[str | None, str]:
    """Vocabulary medication for a medication concept, or (None, why)."""
    name = _code_in(concept, CS_MEDICATION)
    if name:
        return name, ""
    text = _text_of(concept)
    if _PROGESTERONE.search(text) and not re.search(r"dydrogesterone|duphaston", text, re.I):
        both = f"{text} {dosage_text}"
        if _VAGINAL.search(both):
            return "vaginal_progesterone", ""
        if _IM.search(both):
            return "intramuscular_progesterone", ""
        return None, "progesterone with no route given (vaginal or intramuscular?)"
    for pattern, med in _MED_PATTERNS:
        if pattern.search(text):
            return med, ""
    return None, "medication not in rplcare's vocabulary"


def _dosage_text(dosages: Any) -> str:
    parts: list[str] = []
    for d in dosages or []:
        if isinstance(d, Mapping):
            if isinstance(d.get("text"), str):
                parts.append(d["text"])
            parts.append(_text_of(d.get("route")))
    return " ".join(parts)


def _read_medication(rd: _Reader, res: Mapping[str, Any]) -> None:
    rtype = res.get("resourceType")
    concept = res.get("medicationCodeableConcept")
    status = res.get("status")
    ok = ("active", "intended", "on-hold") if rtype == "MedicationStatement" else ("active",)
    if status not in ok:
        rd.skip(res, f"status {status}: not a current medication", concept)
        return
    if concept is None:
        rd.skip(
            res,
            "medicationReference is not resolved by rplcare; use a medicationCodeableConcept",
            res.get("medicationReference"),
        )
        return
    dosages = res.get("dosage") if rtype == "MedicationStatement" else res.get("dosageInstruction")
    name, why = medication_name(concept, _dosage_text(dosages))
    if name is None:
        rd.skip(res, why, concept)
        return
    flag = _ext_value(res, EXT_PREGNANCY_TREATMENT, "valueBoolean")
    rd.meds.append((name, _ref(res), flag if isinstance(flag, bool) else None))


_HANDLERS = {
    "Observation": _read_observation,
    "Condition": _read_condition,
    "MedicationStatement": _read_medication,
    "MedicationRequest": _read_medication,
}


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
    if preg:
        case["pregnancies"] = preg
    _check_counts(rd, preg, pregnant is not None)
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
        return None
    latest = max(range(len(rd.status)), key=lambda i: (rd.status[i][0], i))
    for i, (_when, _preg, res) in enumerate(rd.status):
        if i != latest:
            rd.skip(res, "an older pregnancy status; the latest one is used", res.get("code"))
    _when, preg, res = rd.status[latest]
    if not preg:
        return None
    cp = _pregnancy_from_status(rd, res)
    rd.sources["current_pregnancy"] = _ref(res)
    if "lmp" not in cp and rd.loose_lmp:
        when, lres = max(rd.loose_lmp, key=lambda x: x[0])
        cp["lmp"] = when
        rd.sources["current_pregnancy.lmp"] = _ref(lres)
    return cp


def _ordered_pregnancies(rd: _Reader) -> list[dict[str, Any]]:
    rows = rd.pregnancies
    if rows and all(seq is not None for _, seq, _ in rows):
        rows = sorted(rows, key=lambda r: r[1])  # type: ignore[arg-type, return-value]
    elif rows and all(("date" in p or "year" in p) for p, _, _ in rows):
        rows = sorted(rows, key=lambda r: r[0].get("date") or f"{r[0]['year']:04d}-07-01")
    out = []
    for i, (p, _seq, ref) in enumerate(rows):
        out.append(p)
        rd.sources[f"pregnancies[{i}]"] = ref
    return out


def _check_counts(rd: _Reader, preg: list[dict[str, Any]], current: bool) -> None:
    """Counts are redundant with the listed pregnancies: silent when they agree, else say so."""
    for code, n, res in rd.counts:
        if code == COUNT_GRAVIDA.code:
            listed = len(preg) + int(current)
        elif code in COUNTS:
            listed = sum(p["outcome"] in COUNTS[code][1] for p in preg)
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
