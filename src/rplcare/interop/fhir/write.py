"""Case -> FHIR R4 Bundle (lossless: every case field has a place)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from rplcare.case.vocabulary import QUALITATIVE, vocabulary
from rplcare.interop.fhir.codes import (
    BMI,
    CASE_ID_SYSTEM,
    CERVICAL_LENGTH,
    CONDITION_CLINICAL,
    CONDITION_CODES,
    COUNT_GRAVIDA,
    COUNTS,
    CRL,
    CS_CONCEPTION,
    CS_CONDITION,
    CS_IMAGING_METHOD,
    CS_MEDICATION,
    CS_MENSTRUAL,
    CS_OBSERVATION,
    CS_OUTCOME,
    CS_PREPARATION,
    CS_SCAN_LOCATION,
    CS_SYMPTOM,
    CS_TEST,
    CS_UTERINE_FINDING,
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
    FETUSES,
    LMP,
    LOINC,
    LOINC_DISPLAY,
    MSD,
    NON_SMOKER,
    OBS_CATEGORY,
    PREGNANCY_STATUS,
    PREGNANT,
    QUALITATIVE_CODES,
    SMOKER,
    SMOKING,
    UCUM,
    YOLK_SAC_DIAMETER,
    Code,
    coding,
    local,
    medication_codes,
    outcome_codes,
)
from rplcare.interop.fhir.jsonutil import _is_num, _quantity, _uid, fhir_id
from rplcare.pregnancy.gestation import parse_ga


class _Writer:
    def __init__(self, pid: str | None, seed: str) -> None:
        self.pid = pid
        self.seed = seed
        self.patient_url = f"urn:uuid:{_uid(seed, 'Patient')}"
        self.entries: list[dict[str, Any]] = []
        self.n = 0

    @property
    def subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.pid}" if self.pid else self.patient_url}

    def add(self, resource: dict[str, Any], kind: str) -> dict[str, Any]:
        self.n += 1
        rid = f"{self.pid or 'case'}-{kind}-{self.n}"
        rid = fhir_id(rid)
        resource = {"resourceType": resource.pop("resourceType"), "id": rid, **resource}
        if resource["resourceType"] != "Patient":
            resource["subject"] = self.subject
        url = f"urn:uuid:{_uid(self.seed, rid)}"
        self.entries.append({"fullUrl": url, "resource": resource, "search": {"mode": "match"}})
        return resource


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBS_CATEGORY, "code": code}]}]


def _obs(code: list[dict[str, Any]], category: str, text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": code}
    if text:
        concept["text"] = text
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": _category(category),
        "code": concept,
    }


def _effective(obs: dict[str, Any], when: str) -> None:
    """FHIR needs a zone on times; a case time without one keeps its time in an extension."""
    if "T" in when and not re.search(r"(Z|[+-]\d\d:\d\d)$", when):
        day, clock = when.split("T", 1)
        obs["effectiveDateTime"] = day
        obs.setdefault("extension", []).append({"url": EXT_LOCAL_TIME, "valueTime": clock})
    else:
        obs["effectiveDateTime"] = when


def case_to_bundle(case: Any) -> dict[str, Any]:
    """Print a case (a `Case` or its dump) as a searchset-style R4 Bundle with one Patient."""
    data: dict[str, Any] = (
        case.model_dump(mode="json", exclude_none=True)
        if hasattr(case, "model_dump")
        else dict(case)
    )
    cid = data.get("id")
    seed = cid or hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:16]
    w = _Writer(fhir_id(cid) if cid else None, seed)
    _write_patient(w, data)
    pat = data.get("patient") or {}
    _write_patient_observations(w, pat)
    if (data.get("partner") or {}).get("karyotype"):
        obs = _obs(
            [local(CS_OBSERVATION, "partner-karyotype", "karyotype of the genetic father")],
            "laboratory",
        )
        obs["valueString"] = data["partner"]["karyotype"]
        w.add(obs, "partner")
    for name in pat.get("conditions") or []:
        w.add(_condition(name), "condition")
    for name in pat.get("medications") or []:
        w.add(_medication_statement(name, in_pregnancy=False), "med")
    pregnancies = data.get("pregnancies") or []
    for i, p in enumerate(pregnancies):
        w.add(_pregnancy_condition(p, i), "pregnancy")
    _write_counts(w, pregnancies, current=data.get("current_pregnancy") is not None)
    for r in data.get("results") or []:
        w.add(_result_observation(r), "result")
    cp = data.get("current_pregnancy")
    if cp is not None:
        w.add(_pregnancy_status(cp, data.get("assessed_on")), "pregnancy-status")
        for s in cp.get("scans") or []:
            w.add(_scan_observation(s), "scan")
        for name in cp.get("treatments") or []:
            w.add(_medication_statement(name, in_pregnancy=True), "treatment")
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(w.entries),
        "entry": w.entries,
    }


def _write_patient(w: _Writer, data: dict[str, Any]) -> None:
    pat = data.get("patient") or {}
    res: dict[str, Any] = {"resourceType": "Patient"}
    ext: list[dict[str, Any]] = []
    if data.get("format"):
        ext.append({"url": EXT_CASE_FORMAT, "valueString": data["format"]})
    if data.get("assessed_on"):
        ext.append({"url": EXT_ASSESSED_ON, "valueDate": data["assessed_on"]})
    if pat.get("age_years") is not None:
        ext.append({"url": EXT_AGE_YEARS, "valueInteger": pat["age_years"]})
    if data.get("gestational_carrier"):
        ext.append({"url": EXT_GESTATIONAL_CARRIER, "valueBoolean": True})
    if ext:
        res["extension"] = ext
    if data.get("id"):
        res["identifier"] = [{"system": CASE_ID_SYSTEM, "value": data["id"]}]
    res["gender"] = "female"
    if pat.get("birth_date"):
        res["birthDate"] = pat["birth_date"]
    if w.pid:
        res = {"resourceType": "Patient", "id": w.pid, **res}
    w.entries.append({"fullUrl": w.patient_url, "resource": res, "search": {"mode": "match"}})


def _write_patient_observations(w: _Writer, pat: dict[str, Any]) -> None:
    if pat.get("bmi") is not None:
        obs = _obs([coding(BMI)], "vital-signs")
        obs["valueQuantity"] = _quantity(pat["bmi"], "kg/m2", "kg/m2")
        w.add(obs, "bmi")
    if pat.get("smoking") is not None:
        obs = _obs([coding(SMOKING)], "social-history")
        obs["valueCodeableConcept"] = {"coding": [coding(SMOKER if pat["smoking"] else NON_SMOKER)]}
        w.add(obs, "smoking")
    for key, code, unit, ucum in (
        ("alcohol_units_per_week", "alcohol-units-per-week", "units/week", "{unit}/wk"),
        ("caffeine_mg_per_day", "caffeine-mg-per-day", "mg/day", "mg/d"),
    ):
        if pat.get(key) is not None:
            obs = _obs([local(CS_OBSERVATION, code)], "social-history")
            obs["valueQuantity"] = _quantity(pat[key], unit, ucum)
            w.add(obs, key)
    if pat.get("menstrual_cycle"):
        obs = _obs([local(CS_OBSERVATION, "menstrual-cycle", "menstrual cycle pattern")], "exam")
        obs["valueCodeableConcept"] = {"coding": [local(CS_MENSTRUAL, pat["menstrual_cycle"])]}
        w.add(obs, "cycle")


def _condition(name: str) -> dict[str, Any]:
    codes = [local(CS_CONDITION, name)] + [coding(c) for c in CONDITION_CODES.get(name, [])]
    return {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
        "code": {"coding": codes, "text": name.replace("_", " ")},
    }


def _medication_statement(name: str, in_pregnancy: bool) -> dict[str, Any]:
    text, std, route = medication_codes(name)
    codes = [local(CS_MEDICATION, name, text)] + [coding(c) for c in std]
    res: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "extension": [{"url": EXT_PREGNANCY_TREATMENT, "valueBoolean": in_pregnancy}],
        "status": "active",
        "medicationCodeableConcept": {"coding": codes, "text": text},
    }
    if route:
        res["dosage"] = [{"route": {"coding": [coding(route)]}}]
    return res


def _outcome_codes(p: dict[str, Any]) -> list[dict[str, Any]]:
    outcome = p["outcome"]
    codes = [local(CS_OUTCOME, outcome)]
    days = parse_ga(p["ga"]) if p.get("ga") else None
    codes += [coding(c) for c in outcome_codes(outcome, days, p.get("trimester"))]
    return codes


def _pregnancy_condition(p: dict[str, Any], index: int) -> dict[str, Any]:
    ext: list[dict[str, Any]] = [{"url": EXT_SEQUENCE, "valueInteger": index}]
    if p.get("ga") is not None:
        days = parse_ga(p["ga"])
        ext.append(
            {
                "url": EXT_GA,
                "valueQuantity": {"value": days, "unit": "d", "system": UCUM, "code": "d"},
            }
        )
    if p.get("ga_unknown"):
        ext.append({"url": EXT_GA_UNKNOWN, "valueBoolean": True})
    if p.get("trimester"):
        ext.append({"url": EXT_TRIMESTER, "valueCode": p["trimester"]})
    if p.get("conception"):
        ext.append({"url": EXT_CONCEPTION, "valueCode": p["conception"]})
    for key, url in (
        ("heartbeat_seen", EXT_HEARTBEAT_SEEN),
        ("fetal_anomaly", EXT_FETAL_ANOMALY),
        ("painless_cervical_dilation", EXT_PAINLESS_DILATION),
    ):
        if p.get(key) is not None:
            ext.append({"url": url, "valueBoolean": p[key]})
    if p.get("poc_karyotype"):
        ext.append({"url": EXT_POC_KARYOTYPE, "valueString": p["poc_karyotype"]})
    if p.get("preterm_cause"):
        ext.append({"url": EXT_PRETERM_CAUSE, "valueCode": p["preterm_cause"]})
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "extension": ext,
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "resolved"}]},
        "code": {"coding": _outcome_codes(p), "text": p["outcome"].replace("_", " ")},
    }
    if p.get("date"):
        res["onsetDateTime"] = p["date"]
        if p.get("year") is not None:
            ext.append({"url": EXT_OUTCOME_YEAR, "valueInteger": p["year"]})
    elif p.get("year") is not None:
        res["onsetDateTime"] = f"{p['year']:04d}"
    return res


def _write_counts(w: _Writer, pregnancies: list[dict[str, Any]], current: bool) -> None:
    if not pregnancies and not current:
        return
    rows = [(COUNT_GRAVIDA, len(pregnancies) + int(current))]
    for code, outcomes in COUNTS.values():
        rows.append((code, sum(p["outcome"] in outcomes for p in pregnancies)))
    for code, n in rows:
        obs = _obs([coding(code)], "survey")
        obs["valueInteger"] = n
        w.add(obs, "count")


def _result_observation(r: dict[str, Any]) -> dict[str, Any]:
    voc = vocabulary()
    test = r.get("test")
    codes: list[dict[str, Any]] = []
    if test:
        t = voc.tests.get(test)
        codes.append(local(CS_TEST, test, t.meaning if t else None))
    loinc = r.get("loinc") or (
        voc.tests[test].loinc[0] if test in voc.tests and voc.tests[test].loinc else None
    )
    if loinc:
        c = LOINC_DISPLAY.get(loinc)
        lc: dict[str, Any] = coding(c) if c else {"system": LOINC, "code": loinc}
        if r.get("loinc") and test:
            lc["userSelected"] = True  # the case itself named this LOINC code
        codes.append(lc)
    code_name = test or voc.by_loinc.get(loinc or "")
    kind = voc.tests[code_name].kind if code_name in voc.tests else "quantity"
    obs = _obs(codes, "imaging" if kind == "imaging" else "laboratory")
    _effective(obs, r["date"])
    v = r.get("value")
    if r.get("method"):
        obs["method"] = {"coding": [local(CS_IMAGING_METHOD, r["method"])]}
    if r.get("finding"):
        obs["valueCodeableConcept"] = {"coding": [local(CS_UTERINE_FINDING, r["finding"])]}
    elif _is_num(v):
        obs["valueQuantity"] = _quantity(v, r.get("unit"))
        if r.get("comparator"):
            obs["valueQuantity"] = {"comparator": r["comparator"], **obs["valueQuantity"]}
    elif isinstance(v, str) and v.lower() in QUALITATIVE and kind != "recorded":
        obs["valueCodeableConcept"] = {"coding": [coding(QUALITATIVE_CODES[v.lower()])], "text": v}
    elif isinstance(v, str):
        obs["valueString"] = v
    if r.get("unit") and not _is_num(v):
        obs.setdefault("extension", []).append({"url": EXT_RESULT_UNIT, "valueString": r["unit"]})
    rng: dict[str, Any] = {}
    for key, fkey in (("reference_low", "low"), ("reference_high", "high")):
        if r.get(key) is not None:
            rng[fkey] = _quantity(r[key], r.get("unit"))
    if rng:
        obs["referenceRange"] = [rng]
    if r.get("note"):
        obs["note"] = [{"text": r["note"]}]
    return obs


_PREG_COMPONENTS: dict[str, tuple[str, Code | None]] = {
    "lmp": ("lmp", LMP),
    "cycle_length_days": ("cycle-length", None),
    "conception": ("conception", None),
    "fetuses": ("fetuses", FETUSES),
    "transfer_date": ("transfer-date", None),
    "embryo_age_days": ("embryo-age", None),
    "endometrial_preparation": ("endometrial-preparation", None),
    "symptoms": ("symptom", None),
}
_SCAN_COMPONENTS: dict[str, tuple[str, Code | None]] = {
    "location": ("scan-location", None),
    "msd_mm": ("msd", MSD),
    "yolk_sac": ("yolk-sac", None),
    "yolk_sac_diameter_mm": ("yolk-sac-diameter", YOLK_SAC_DIAMETER),
    "amnion_empty": ("amnion-empty", None),
    "embryo": ("embryo", None),
    "crl_mm": ("crl", CRL),
    "heartbeat": ("fetal-heart-activity", None),
    "cervical_length_mm": ("cervical-length", CERVICAL_LENGTH),
}
_VALUE_SYSTEMS = {
    "conception": CS_CONCEPTION,
    "endometrial_preparation": CS_PREPARATION,
    "symptoms": CS_SYMPTOM,
    "location": CS_SCAN_LOCATION,
}


def _component(key: str, value: Any, table: dict[str, tuple[str, Code | None]]) -> dict[str, Any]:
    code, std = table[key]
    codes = [local(CS_OBSERVATION, code)] + ([coding(std)] if std else [])
    comp: dict[str, Any] = {"code": {"coding": codes}}
    if key in _VALUE_SYSTEMS:
        comp["valueCodeableConcept"] = {"coding": [local(_VALUE_SYSTEMS[key], value)]}
    elif isinstance(value, bool):
        comp["valueBoolean"] = value
    elif key in ("lmp", "transfer_date"):
        comp["valueDateTime"] = value
    elif key == "fetuses":
        comp["valueInteger"] = value
    elif key in ("cycle_length_days", "embryo_age_days"):
        comp["valueQuantity"] = _quantity(value, "d", "d")
    else:
        comp["valueQuantity"] = _quantity(value, "mm", "mm")
    return comp


def _pregnancy_status(cp: dict[str, Any], assessed_on: str | None) -> dict[str, Any]:
    obs = _obs([coding(PREGNANCY_STATUS)], "survey")
    if assessed_on:
        obs["effectiveDateTime"] = assessed_on
    obs["valueCodeableConcept"] = {"coding": [coding(PREGNANT)]}
    comps = []
    for key in _PREG_COMPONENTS:
        v = cp.get(key)
        if key == "symptoms":
            comps += [_component(key, s, _PREG_COMPONENTS) for s in v or []]
        elif v is not None:
            comps.append(_component(key, v, _PREG_COMPONENTS))
    if comps:
        obs["component"] = comps
    return obs


def _scan_observation(s: dict[str, Any]) -> dict[str, Any]:
    obs = _obs(
        [local(CS_OBSERVATION, "early-pregnancy-scan", "early pregnancy ultrasound")],
        "imaging",
        text="Transvaginal ultrasound, current pregnancy",
    )
    obs["effectiveDateTime"] = s["date"]
    comps = [
        _component(k, s[k], _SCAN_COMPONENTS) for k in _SCAN_COMPONENTS if s.get(k) is not None
    ]
    if comps:
        obs["component"] = comps
    return obs
