"""FHIR code systems, rplcare extensions and the code tables the mapping reads and writes.

Standard codes (LOINC, SNOMED CT, ICD-10, RxNorm, ATC) come from the one terminology file,
`knowledge/data/terminology.yaml`, through `rplcare.knowledge.terminology`; this module only
names them for the reader and writer. Status tags (✅ confirmed / ⚠️ secondary / ❓
unverified) are listed in docs/fhir-mapping.md, which is generated from the same data.
"""

from __future__ import annotations

from typing import Any

from rplcare.knowledge import get_kb
from rplcare.knowledge.terminology import Code, terminology

# --------------------------------------------------------------------------------------------
# Systems, extension URLs, local code systems
# --------------------------------------------------------------------------------------------

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"

RPL = "https://rplcare.org/fhir"
SD = f"{RPL}/StructureDefinition/"
CS = f"{RPL}/CodeSystem/"
CASE_ID_SYSTEM = f"{RPL}/case-id"
RECOMMENDATION_SYSTEM = "https://rplcare.org/recommendation"
FINDING_SYSTEM = "https://rplcare.org/finding"
OVERRIDE_REASON_SYSTEM = "https://rplcare.org/override-reason"

CS_TEST = CS + "test"
CS_CONDITION = CS + "condition"
CS_MEDICATION = CS + "medication"
CS_OUTCOME = CS + "pregnancy-outcome"
CS_OBSERVATION = CS + "observation"
CS_RESULT_VALUE = CS + "result-value"
CS_CONCEPTION = CS + "conception"
CS_IMAGING_METHOD = CS + "imaging-method"
CS_UTERINE_FINDING = CS + "uterine-finding"
CS_SCAN_LOCATION = CS + "scan-location"
CS_SYMPTOM = CS + "symptom"
CS_MENSTRUAL = CS + "menstrual-cycle"
CS_PREPARATION = CS + "endometrial-preparation"


def ext_url(name: str) -> str:
    return SD + name


EXT_CASE_FORMAT = ext_url("case-format")
EXT_ASSESSED_ON = ext_url("assessed-on")
EXT_AGE_YEARS = ext_url("age-years")
EXT_GESTATIONAL_CARRIER = ext_url("gestational-carrier")
EXT_GA = ext_url("gestational-age-at-outcome")
EXT_OUTCOME_YEAR = ext_url("outcome-year")
EXT_CONCEPTION = ext_url("conception-method")
EXT_HEARTBEAT_SEEN = ext_url("heartbeat-seen")
EXT_FETAL_ANOMALY = ext_url("fetal-anomaly")
EXT_POC_KARYOTYPE = ext_url("poc-karyotype")
EXT_PRETERM_CAUSE = ext_url("preterm-cause")
EXT_PAINLESS_DILATION = ext_url("painless-cervical-dilation")
EXT_SEQUENCE = ext_url("pregnancy-sequence")
EXT_LOCAL_TIME = ext_url("local-time-of-day")
EXT_PREGNANCY_TREATMENT = ext_url("current-pregnancy-treatment")
EXT_UNVERIFIED = ext_url("code-unverified")
EXT_RESULT_UNIT = ext_url("result-unit")
EXT_GA_UNKNOWN = ext_url("gestational-age-unknown")
EXT_TRIMESTER = ext_url("trimester-of-outcome")

EXTENSIONS: dict[str, str] = {
    EXT_CASE_FORMAT: "Patient: the case file format (`format`), valueString",
    EXT_ASSESSED_ON: "Patient: the date the case is assessed as of (`assessed_on`), valueDate",
    EXT_AGE_YEARS: "Patient: age in years when no birth date is given (`age_years`), valueInteger",
    EXT_GESTATIONAL_CARRIER: "Patient: she carries for intended parents, valueBoolean",
    EXT_GA: "Condition (past pregnancy): gestational age at loss or birth, valueQuantity in d",
    EXT_OUTCOME_YEAR: "Condition (past pregnancy): `year` when a full `date` is also given",
    EXT_CONCEPTION: "Condition (past pregnancy): conception method, valueCode",
    EXT_HEARTBEAT_SEEN: "Condition (past pregnancy): fetal heart activity seen, valueBoolean",
    EXT_FETAL_ANOMALY: "Condition (past pregnancy): loss explained by a fetal anomaly",
    EXT_POC_KARYOTYPE: "Condition (past pregnancy): products-of-conception karyotype (ISCN)",
    EXT_PRETERM_CAUSE: "Condition (past pregnancy): cause of a preterm birth, valueCode",
    EXT_PAINLESS_DILATION: "Condition (past pregnancy): painless cervical dilation before loss",
    EXT_SEQUENCE: "Condition (past pregnancy): position in the case's list (oldest first)",
    EXT_LOCAL_TIME: "Observation: time of day of a result recorded without a time zone",
    EXT_PREGNANCY_TREATMENT: "MedicationStatement: true = taken in the current pregnancy",
    EXT_UNVERIFIED: "Coding: the code was not confirmed in a primary source (e.g. RxNorm)",
    EXT_RESULT_UNIT: "Observation: a unit written with a non-numeric result (kept as given)",
    EXT_GA_UNKNOWN: "Condition (past pregnancy): the record gives no gestational age, valueBoolean",
    EXT_TRIMESTER: "Condition (past pregnancy): trimester stated without a GA, valueCode",
}


def coding(c: Code) -> dict[str, Any]:
    out: dict[str, Any] = {"system": c.system, "code": c.code, "display": c.display}
    if c.system in (RXNORM, ATC):
        out["extension"] = [{"url": EXT_UNVERIFIED, "valueBoolean": True}]
    return out


def local(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"system": system, "code": code, "display": display or code.replace("_", " ")}


# --------------------------------------------------------------------------------------------
# Code tables: data from knowledge/data/terminology.yaml, named here for the reader and writer
# --------------------------------------------------------------------------------------------

TERM = terminology()
ATC = TERM.systems["atc"]
LOINC_DISPLAY: dict[str, Code] = TERM.loinc_display()
_O = TERM.observations
PREGNANCY_STATUS = _O["pregnancy_status"]
PREGNANT = _O["pregnant"]
NOT_PREGNANT = _O["not_pregnant"]
LMP = _O["lmp"]
FETUSES = _O["fetuses"]
BMI = _O["bmi"]
SMOKING = _O["smoking"]
SMOKER = _O["smoker"]
NON_SMOKER = _O["non_smoker"]
SMOKING_VALUES: dict[str, bool] = TERM.smoking_values
CRL = _O["crl"]
MSD = _O["msd"]
YOLK_SAC_DIAMETER = _O["yolk_sac_diameter"]
CERVICAL_LENGTH = _O["cervical_length"]
FHR_US = _O["fhr_us"]
FHR = _O["fhr"]
# history counts: (code, outcomes counted); checked against the listed pregnancies on import
COUNT_GRAVIDA = _O["count_gravida"]
COUNTS: dict[str, tuple[Code, tuple[str, ...]]] = TERM.obstetric_counts
OTHER_COUNTS = TERM.other_counts
QUALITATIVE_CODES: dict[str, Code] = TERM.qualitative_values
_QUAL_BY_CODE = {c.code: word for word, c in QUALITATIVE_CODES.items()}
CONDITION_CODES: dict[str, list[Code]] = TERM.conditions
# history-type conditions count when resolved too (a past thrombosis is an APS criterion)
HISTORY_CONDITIONS = TERM.history_conditions
# recognised but derived by rplcare, not case input
DERIVED_CONDITIONS = TERM.derived_conditions
ROUTE_VAGINAL = TERM.routes["vaginal"]
ROUTE_ORAL = TERM.routes["oral"]
ROUTE_IM = TERM.routes["intramuscular"]
ROUTE_SC = TERM.routes["subcutaneous"]
UCUM_CODES: dict[str, str] = TERM.ucum
GA_CODES = frozenset(c.code for c in TERM.gestational_age)
PREGNANCY_TEST_CODES = frozenset(c.code for c in TERM.pregnancy_tests)
EPISODE_CODES = frozenset((c.system, c.code) for c in TERM.pregnancy_episode)


def outcome_codes(
    outcome: str, ga_days: int | None = None, trimester: str | None = None
) -> list[Code]:
    """Standard codes written for a past pregnancy's outcome (trimester codes need the GA or
    the trimester the record stated)."""
    out: list[Code] = []
    t1_end = get_kb().param("class.first_trimester_end_days")
    if trimester is None and ga_days is not None:
        trimester = "first" if ga_days < t1_end else "second"
    for o in TERM.outcomes:
        if o.outcome != outcome or o.code.system == ICD10CM:
            continue
        if o.trimester is not None:
            if o.trimester != trimester:
                continue
        elif o.code.code in ("35999006", "O02.0", "66348005", "714812005", "386394001"):
            continue  # a more specific event than the outcome itself
        out.append(o.code)
    return out


def medication_codes(name: str) -> tuple[str, list[Code], Code | None]:
    """(display text, standard codes, route) of a vocabulary medication."""
    d = TERM.drugs.get(name)
    if d is None:
        return name.replace("_", " "), [], None
    codes = list(d.codes)
    ing = d.extra.get("ingredient")
    if ing:
        codes = list(TERM.ingredients[ing].codes) + codes
    return d.display, codes, TERM.routes.get(d.route) if d.route else None


MEDICATIONS: dict[str, tuple[str, Code | None, Code | None]] = {
    name: (text, next((c for c in codes if c.system == RXNORM), None), route)
    for name, (text, codes, route) in ((n, medication_codes(n)) for n in TERM.drugs)
}

# Result codes whose source counts only for a current pregnancy are plain results in the case.
_COUNT_CODES = {COUNT_GRAVIDA.code, *COUNTS, *OTHER_COUNTS}


def all_codes() -> list[Code]:
    """Every standard code this mapping writes or reads (for docs/fhir-mapping.md)."""
    seen: dict[tuple[str, str], Code] = {}
    for c in TERM.codes:
        seen.setdefault((c.system, c.code), c)
    return list(seen.values())
