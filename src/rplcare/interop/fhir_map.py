"""Case file <-> FHIR R4 resources, on plain JSON dicts (no model validation).

Plain dicts because the CDS Hooks hot path maps prefetch with this module: pydantic FHIR models
cost milliseconds per Bundle (interop.md §0.5), and the case loader validates what comes out
anyway. `fhir_in` validates with the R4B models first for files; the mapping is the same.

Direction case -> FHIR is lossless: every case field has a place (a standard element, a
standard code, or an rplcare extension / local code), so `case_from_entries(case_to_bundle(c))`
gives `c` back. Direction FHIR -> case is partial by nature: whatever cannot be placed in a
case is returned as an `Unmapped` row with the reason, never dropped silently.

Code status tags (✅ confirmed / ⚠️ secondary / ❓ unverified) follow interop.md §3 and are
listed in docs/fhir-mapping.md; `all_codes()` feeds a test that keeps the two in step.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from rplcare.case.vocabulary import QUALITATIVE, vocabulary
from rplcare.pregnancy.gestation import format_ga, parse_ga

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
}


class Code(NamedTuple):
    system: str
    code: str
    display: str
    status: str  # ✅ confirmed, ⚠️ secondary source, ❓ unverified (interop.md §3 tags)
    checked: str = ""


def coding(c: Code) -> dict[str, Any]:
    out: dict[str, Any] = {"system": c.system, "code": c.code, "display": c.display}
    if c.system == RXNORM:
        out["extension"] = [{"url": EXT_UNVERIFIED, "valueBoolean": True}]
    return out


def local(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"system": system, "code": code, "display": display or code.replace("_", " ")}


# --------------------------------------------------------------------------------------------
# Code tables
# --------------------------------------------------------------------------------------------

_I32 = "interop.md §3.2"
LOINC_DISPLAY: dict[str, Code] = {
    c.code: c
    for c in [
        Code(
            LOINC,
            "21198-7",
            "Choriogonadotropin.beta subunit [Units/volume] in Serum or Plasma",
            "✅",
            _I32,
        ),
        Code(LOINC, "19080-1", "Choriogonadotropin [Units/volume] in Serum or Plasma", "✅", _I32),
        Code(LOINC, "2839-9", "Progesterone [Mass/volume] in Serum or Plasma", "✅", _I32),
        Code(LOINC, "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "✅", _I32),
        Code(
            LOINC,
            "11580-8",
            "Thyrotropin [Units/volume] in Serum or Plasma by Detection limit <= 0.005 mIU/L",
            "⚠️",
            _I32 + " (code ✅; display from memory)",
        ),
        Code(LOINC, "3024-7", "Thyroxine (T4) free [Mass/volume] in Serum or Plasma", "✅", _I32),
        Code(LOINC, "14920-3", "Thyroxine (T4) free [Moles/volume] in Serum or Plasma", "✅", _I32),
        Code(LOINC, "8099-4", "Thyroperoxidase Ab [Units/volume] in Serum or Plasma", "✅", _I32),
        Code(LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "✅", _I32),
        Code(
            LOINC,
            "59261-8",
            "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol",
            "✅",
            _I32,
        ),
        Code(
            LOINC, "1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma", "❓", "from memory"
        ),
        Code(LOINC, "2842-3", "Prolactin [Mass/volume] in Serum or Plasma", "✅", _I32),
        Code(
            LOINC,
            "20568-2",
            "Prolactin [Mass/volume] in Serum or Plasma by Immunoassay",
            "✅",
            _I32,
        ),
        Code(
            LOINC,
            "3282-1",
            "Lupus anticoagulant neutralization hexagonal phase phospholipid "
            "[Time] in Platelet poor plasma by Coagulation assay",
            "✅",
            _I32,
        ),
        Code(
            LOINC, "3181-5", "Cardiolipin IgG Ab [Units/volume] in Serum by Immunoassay", "✅", _I32
        ),
        Code(LOINC, "8065-5", "Cardiolipin IgG Ab [Units/volume] in Serum", "⚠️", _I32),
        Code(
            LOINC, "3182-3", "Cardiolipin IgM Ab [Units/volume] in Serum by Immunoassay", "✅", _I32
        ),
        Code(
            LOINC,
            "44448-9",
            "Beta 2 glycoprotein 1 IgG Ab [Units/volume] in Serum or Plasma by Immunoassay",
            "✅",
            _I32,
        ),
        Code(
            LOINC,
            "44449-7",
            "Beta 2 glycoprotein 1 IgM Ab [Units/volume] in Serum or Plasma by Immunoassay",
            "✅",
            _I32,
        ),
        Code(LOINC, "718-7", "Hemoglobin [Mass/volume] in Blood", "❓", "from memory"),
    ]
}

PREGNANCY_STATUS = Code(LOINC, "82810-3", "Pregnancy status", "✅", _I32 + " (Synthea, IPS)")
PREGNANT = Code(SNOMED, "77386006", "Pregnant", "✅", _I32)
NOT_PREGNANT = Code(SNOMED, "60001007", "Not pregnant", "❓", "from memory")
LMP = Code(LOINC, "8665-2", "Last menstrual period start date", "❓", "from memory")
FETUSES = Code(LOINC, "55281-0", "Number of fetuses by US", "❓", "from memory")
BMI = Code(
    LOINC,
    "39156-5",
    "Body mass index (BMI) [Ratio]",
    "❓",
    "from memory (FHIR vital-signs profile)",
)
SMOKING = Code(LOINC, "72166-2", "Tobacco smoking status", "❓", "from memory (US Core)")
SMOKER = Code(SNOMED, "77176002", "Smoker", "❓", "from memory")
NON_SMOKER = Code(SNOMED, "8392000", "Non-smoker", "❓", "from memory")
SMOKING_VALUES: dict[str, bool] = {
    "77176002": True,
    "449868002": True,
    "428041000124106": True,
    "65568007": True,
    "8392000": False,
    "8517006": False,
    "266919005": False,
}
CRL = Code(LOINC, "11957-8", "Fetal Crown Rump length US", "✅", _I32)
MSD = Code(LOINC, "11850-5", "Gestational sac Mean diameter US", "✅", _I32)
YOLK_SAC_DIAMETER = Code(
    LOINC, "11816-6", "Yolk sac Diameter US", "⚠️", _I32 + " (code ⚠️; display from memory)"
)
CERVICAL_LENGTH = Code(LOINC, "11961-0", "Cervix [Length] US", "❓", "from memory")
FHR_US = Code(LOINC, "11948-7", "Fetal Heart rate US", "✅", _I32)
FHR = Code(LOINC, "55283-6", "Fetal Heart rate", "✅", _I32)

# history counts: (code, outcomes counted); checked against the listed pregnancies on import
COUNT_GRAVIDA = Code(LOINC, "11996-6", "[#] Pregnancies", "✅", _I32)
COUNTS: dict[str, tuple[Code, tuple[str, ...]]] = {
    "11614-5": (
        Code(LOINC, "11614-5", "[#] Abortions.spontaneous", "✅", _I32),
        ("miscarriage", "biochemical"),
    ),
    "11613-7": (Code(LOINC, "11613-7", "[#] Abortions.induced", "✅", _I32), ("termination",)),
    "33065-4": (Code(LOINC, "33065-4", "[#] Ectopic pregnancy", "✅", _I32), ("ectopic",)),
    "11636-8": (Code(LOINC, "11636-8", "[#] Births.live", "✅", _I32), ("live_birth",)),
}
OTHER_COUNTS = {"11612-9", "11977-6", "11637-6", "11638-4", "11639-2", "11640-0"}

QUALITATIVE_CODES: dict[str, Code] = {
    "positive": Code(SNOMED, "10828004", "Positive", "❓", "from memory"),
    "negative": Code(SNOMED, "260385009", "Negative", "❓", "from memory"),
    "equivocal": Code(SNOMED, "42425007", "Equivocal", "❓", "from memory"),
}
_QUAL_BY_CODE = {c.code: word for word, c in QUALITATIVE_CODES.items()}

_MEM = "from memory"
CONDITION_CODES: dict[str, list[Code]] = {
    "diabetes_type1": [
        Code(SNOMED, "46635009", "Diabetes mellitus type 1", "❓", _MEM),
        Code(ICD10, "E10", "Type 1 diabetes mellitus", "❓", _MEM),
    ],
    "diabetes_type2": [
        Code(SNOMED, "44054006", "Diabetes mellitus type 2", "❓", _MEM),
        Code(ICD10, "E11", "Type 2 diabetes mellitus", "❓", _MEM),
    ],
    "hypothyroidism": [
        Code(SNOMED, "40930008", "Hypothyroidism", "❓", _MEM),
        Code(ICD10, "E03.9", "Hypothyroidism, unspecified", "❓", _MEM),
    ],
    "hyperthyroidism": [
        Code(SNOMED, "34486009", "Hyperthyroidism", "❓", _MEM),
        Code(ICD10, "E05.9", "Thyrotoxicosis, unspecified", "❓", _MEM),
    ],
    "pcos": [
        Code(SNOMED, "237055002", "Polycystic ovary syndrome", "❓", _MEM),
        Code(ICD10, "E28.2", "Polycystic ovarian syndrome", "❓", _MEM),
    ],
    "hyperprolactinaemia": [
        Code(SNOMED, "237662005", "Hyperprolactinemia", "❓", _MEM),
        Code(ICD10, "E22.1", "Hyperprolactinaemia", "❓", _MEM),
    ],
    "sle": [
        Code(SNOMED, "55464009", "Systemic lupus erythematosus", "❓", _MEM),
        Code(ICD10, "M32.9", "Systemic lupus erythematosus, unspecified", "❓", _MEM),
    ],
    "antiphospholipid_syndrome": [
        Code(SNOMED, "26843008", "Antiphospholipid syndrome", "✅", "interop.md §3.3"),
        Code(ICD10CM, "D68.61", "Antiphospholipid syndrome", "✅", "interop.md §3.3"),
    ],
    "thrombophilia_inherited": [Code(ICD10CM, "D68.59", "Other primary thrombophilia", "❓", _MEM)],
    "venous_thromboembolism": [
        Code(SNOMED, "429098002", "Thromboembolism of vein", "❓", _MEM),
        Code(ICD10, "I82.9", "Embolism and thrombosis of unspecified vein", "❓", _MEM),
    ],
    "arterial_thrombosis": [
        Code(ICD10, "I74.9", "Embolism and thrombosis of unspecified artery", "❓", _MEM)
    ],
    "obesity": [
        Code(SNOMED, "414916001", "Obesity", "❓", _MEM),
        Code(ICD10, "E66.9", "Obesity, unspecified", "❓", _MEM),
    ],
    "cervical_insufficiency": [
        Code(SNOMED, "17382005", "Cervical incompetence", "✅", "interop.md §3.3"),
        Code(ICD10, "N88.3", "Incompetence of cervix uteri", "⚠️", "interop.md §3.3"),
        Code(ICD10, "O34.3", "Maternal care for cervical incompetence", "✅", "interop.md §3.3"),
    ],
    "uterine_anomaly": [
        Code(SNOMED, "37849005", "Congenital anomaly of uterus", "✅", "interop.md §3.3"),
        Code(ICD10, "Q51.2", "Other doubling of uterus", "⚠️", "interop.md §3.3 (septate)"),
    ],
    "chronic_endometritis": [
        Code(ICD10, "N71.1", "Chronic inflammatory disease of uterus", "❓", _MEM)
    ],
}
# history-type conditions count when resolved too (a past thrombosis is an APS criterion)
HISTORY_CONDITIONS = {
    "venous_thromboembolism",
    "arterial_thrombosis",
    "cervical_insufficiency",
    "uterine_anomaly",
}
# recognised but derived by rplcare, not case input
DERIVED_CONDITIONS = {
    "102878001": "recurrent miscarriage is derived by rplcare from the pregnancy list",
    "N96": "habitual aborter is derived by rplcare from the pregnancy list",
}

MISC_1ST = Code(SNOMED, "19169002", "Miscarriage in first trimester", "✅", "interop.md §3.3")
MISC_2ND = Code(SNOMED, "85116003", "Miscarriage in second trimester", "✅", "interop.md §3.3")
OUTCOME_CODES: dict[str, list[Code]] = {
    "miscarriage": [
        Code(
            ICD10,
            "O03.9",
            "Spontaneous abortion, complete or unspecified, without complication",
            "❓",
            _MEM,
        )
    ],
    "biochemical": [],
    "ectopic": [
        Code(SNOMED, "34801009", "Ectopic pregnancy", "❓", _MEM),
        Code(ICD10, "O00.9", "Ectopic pregnancy, unspecified", "❓", _MEM),
    ],
    "molar": [
        Code(SNOMED, "44782008", "Molar pregnancy", "❓", _MEM),
        Code(ICD10, "O01.9", "Hydatidiform mole, unspecified", "❓", _MEM),
    ],
    "termination": [
        Code(SNOMED, "57797005", "Termination of pregnancy", "❓", _MEM),
        Code(ICD10, "O04", "Medical abortion", "❓", _MEM),
    ],
    "stillbirth": [
        Code(SNOMED, "237364002", "Stillbirth", "❓", _MEM),
        Code(ICD10, "Z37.1", "Single stillbirth", "❓", _MEM),
    ],
    "live_birth": [
        Code(SNOMED, "281050002", "Livebirth", "❓", _MEM),
        Code(ICD10, "Z37.0", "Single live birth", "❓", _MEM),
    ],
}
NO_GA_OUTCOME_CODES = {
    "156073000": "complete miscarriage",
    "35999006": "blighted ovum",
    "161744009": "past pregnancy history of miscarriage",
}
EXTRA_OUTCOME_CODES = [
    Code(SNOMED, "156073000", "Complete miscarriage", "✅", "interop.md §3.3"),
    Code(SNOMED, "35999006", "Blighted ovum", "✅", "interop.md §3.3"),
    Code(SNOMED, "161744009", "Past pregnancy history of miscarriage", "✅", "interop.md §3.3"),
    Code(SNOMED, "102878001", "Recurrent miscarriage", "✅", "interop.md §3.3"),
    Code(ICD10, "N96", "Habitual aborter", "✅", "interop.md §3.3"),
]

_RX = "unverified (interop.md §3.5: no RxNorm code confirmed)"
# vocabulary medication -> (display text, RxNorm ingredient or None, route code)
ROUTE_VAGINAL = Code(SNOMED, "16857009", "Vaginal route", "❓", _MEM)
ROUTE_ORAL = Code(SNOMED, "26643006", "Oral route", "❓", _MEM)
ROUTE_IM = Code(SNOMED, "78421000", "Intramuscular route", "❓", _MEM)
ROUTE_SC = Code(SNOMED, "34206005", "Subcutaneous route", "❓", _MEM)
MEDICATIONS: dict[str, tuple[str, Code | None, Code | None]] = {
    "vaginal_progesterone": (
        "progesterone (vaginal)",
        Code(RXNORM, "8727", "progesterone", "❓", _RX),
        ROUTE_VAGINAL,
    ),
    "intramuscular_progesterone": (
        "progesterone (intramuscular)",
        Code(RXNORM, "8727", "progesterone", "❓", _RX),
        ROUTE_IM,
    ),
    "oral_dydrogesterone": ("dydrogesterone (oral)", None, ROUTE_ORAL),
    "low_dose_aspirin": (
        "aspirin, low dose",
        Code(RXNORM, "1191", "aspirin", "❓", _RX),
        ROUTE_ORAL,
    ),
    "lmwh": ("low-molecular-weight heparin", None, ROUTE_SC),
    "levothyroxine": (
        "levothyroxine",
        Code(RXNORM, "10582", "levothyroxine", "❓", _RX),
        ROUTE_ORAL,
    ),
    "metformin": ("metformin", Code(RXNORM, "6809", "metformin", "❓", _RX), ROUTE_ORAL),
    "bromocriptine": (
        "bromocriptine",
        Code(RXNORM, "1760", "bromocriptine", "❓", _RX),
        ROUTE_ORAL,
    ),
    "cabergoline": ("cabergoline", Code(RXNORM, "47579", "cabergoline", "❓", _RX), ROUTE_ORAL),
    "prednisolone": ("prednisolone", Code(RXNORM, "8638", "prednisolone", "❓", _RX), ROUTE_ORAL),
    "folic_acid": ("folic acid", Code(RXNORM, "4511", "folic acid", "❓", _RX), ROUTE_ORAL),
    "hydroxychloroquine": (
        "hydroxychloroquine",
        Code(RXNORM, "5521", "hydroxychloroquine", "❓", _RX),
        ROUTE_ORAL,
    ),
    "lymphocyte_immunotherapy": ("lymphocyte immunotherapy", None, None),
    "ivig": ("intravenous immunoglobulin (IVIG)", None, None),
    "intralipid": ("intralipid infusion", None, None),
    "g_csf": ("G-CSF (filgrastim)", None, None),
    "hcg_injections": ("hCG injections (chorionic gonadotropin)", None, None),
    "bed_rest": ("bed rest", None, None),
}
# Text patterns for EHR medications without an rplcare coding, tried in order.
_MED_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.I), m)
    for p, m in [
        (r"dydrogesterone|duphaston|dextroprogesterone|dextrogestrel", "oral_dydrogesterone"),
        (
            r"lymphocyte\s*immun|leukocyte\s*immun|paternal\s*(lymphocyte|cell)",
            "lymphocyte_immunotherapy",
        ),
        (r"\bivig\b|immunoglobulin|immune globulin", "ivig"),
        (r"intralipid|lipid emulsion", "intralipid"),
        (r"filgrastim|\bg-?csf\b", "g_csf"),
        (r"chorionic gonadotrop|\bhcg\b", "hcg_injections"),
        (r"bed\s*-?rest", "bed_rest"),
        (r"aspirin|acetylsalicylic", "low_dose_aspirin"),
        (r"heparin|enoxaparin|dalteparin|tinzaparin|nadroparin|\blmwh\b|clexane|fragmin", "lmwh"),
        (r"levothyroxine|thyroxine|eltroxin|synthroid|euthyrox", "levothyroxine"),
        (r"metformin", "metformin"),
        (r"bromocriptine", "bromocriptine"),
        (r"cabergoline", "cabergoline"),
        (r"prednisolone|prednisone", "prednisolone"),
        (r"folic acid|folate", "folic_acid"),
        (r"hydroxychloroquine|plaquenil", "hydroxychloroquine"),
    ]
]
_PROGESTERONE = re.compile(
    r"progesteron|utrogestan|crinone|cyclogest|prometrium|endometrin|"
    r"lubion|prolutex",
    re.I,
)
_VAGINAL = re.compile(r"vagin|pessar|crinone|cyclogest|endometrin|gel|suppositor", re.I)
_IM = re.compile(r"intramuscular|\bi\.?m\.?\b|in oil|injection|prolutex|lubion", re.I)

UCUM_CODES: dict[str, str] = {
    "IU/L": "[IU]/L",
    "mIU/mL": "m[IU]/mL",
    "ng/mL": "ng/mL",
    "nmol/L": "nmol/L",
    "mIU/L": "m[IU]/L",
    "uIU/mL": "u[IU]/mL",
    "µIU/mL": "u[IU]/mL",
    "mU/L": "mU/L",
    "pmol/L": "pmol/L",
    "ng/dL": "ng/dL",
    "IU/mL": "[IU]/mL",
    "kIU/L": "k[IU]/L",
    "U/mL": "U/mL",
    "mmol/mol": "mmol/mol",
    "%": "%",
    "mmol/L": "mmol/L",
    "mg/dL": "mg/dL",
    "ug/L": "ug/L",
    "µg/L": "ug/L",
    "GPL": "[GPL'U]",
    "GPL/mL": "[GPL'U]/mL",
    "MPL": "[MPL'U]",
    "MPL/mL": "[MPL'U]/mL",
    "SGU": "{SGU}",
    "SMU": "{SMU}",
    "g/L": "g/L",
    "g/dL": "g/dL",
}

# Result codes whose source counts only for a current pregnancy are plain results in the case.
_COUNT_CODES = {COUNT_GRAVIDA.code, *COUNTS, *OTHER_COUNTS}


def all_codes() -> list[Code]:
    """Every standard code this mapping writes or reads (for docs/fhir-mapping.md)."""
    out: list[Code] = list(LOINC_DISPLAY.values())
    out += [
        PREGNANCY_STATUS,
        PREGNANT,
        NOT_PREGNANT,
        LMP,
        FETUSES,
        BMI,
        SMOKING,
        SMOKER,
        NON_SMOKER,
        CRL,
        MSD,
        YOLK_SAC_DIAMETER,
        CERVICAL_LENGTH,
        FHR_US,
        FHR,
        COUNT_GRAVIDA,
        MISC_1ST,
        MISC_2ND,
        ROUTE_VAGINAL,
        ROUTE_ORAL,
        ROUTE_IM,
        ROUTE_SC,
    ]
    out += [c for c, _ in COUNTS.values()]
    out += list(QUALITATIVE_CODES.values())
    for codes in (*CONDITION_CODES.values(), *OUTCOME_CODES.values()):
        out += codes
    out += EXTRA_OUTCOME_CODES
    out += [rx for _, rx, _ in MEDICATIONS.values() if rx is not None]
    seen: dict[tuple[str, str], Code] = {}
    for c in out:
        seen.setdefault((c.system, c.code), c)
    return list(seen.values())


# --------------------------------------------------------------------------------------------
# Small JSON helpers
# --------------------------------------------------------------------------------------------


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, Mapping)]


def _code_in(concept: Any, system: str) -> str | None:
    for c in _codings(concept):
        if c.get("system") == system and isinstance(c.get("code"), str):
            return c["code"]
    return None


def _text_of(concept: Any) -> str:
    """Concept text plus coding displays: what a human reads, for keyword matching."""
    if not isinstance(concept, Mapping):
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
    if not isinstance(resource, Mapping):
        return None
    for e in resource.get("extension") or []:
        if isinstance(e, Mapping) and e.get("url") == url:
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
    if not isinstance(q, Mapping) or not _is_num(q.get("value")):
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


# --------------------------------------------------------------------------------------------
# Case -> Bundle
# --------------------------------------------------------------------------------------------


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
    text, rx, route = MEDICATIONS.get(name, (name.replace("_", " "), None, None))
    codes = [local(CS_MEDICATION, name, text)] + ([coding(rx)] if rx else [])
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
    if outcome == "miscarriage" and p.get("ga"):
        codes.append(coding(MISC_1ST if parse_ga(p["ga"]) < 12 * 7 else MISC_2ND))
    codes += [coding(c) for c in OUTCOME_CODES.get(outcome, [])]
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


# --------------------------------------------------------------------------------------------
# FHIR resources -> case mapping
# --------------------------------------------------------------------------------------------


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
        entries = value.get("entry")
        for e in entries if isinstance(entries, list) else []:
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


_MALFORMED = (TypeError, AttributeError, ValueError, KeyError, IndexError, RecursionError)


def _checkpoint(rd: _Reader) -> dict[str, Any]:
    """What a handler may change, to undo a resource that fails half-way (no half-read data)."""
    return {
        k: (len(v) if isinstance(v, list) else dict(v))
        for k, v in vars(rd).items()
        if isinstance(v, list | dict) and k != "unmapped"
    }


def _restore(rd: _Reader, cp: dict[str, Any]) -> None:
    for k, v in cp.items():
        current = getattr(rd, k)
        if isinstance(v, int):
            del current[v:]
        else:
            current.clear()
            current.update(v)


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
            idents = r.get("identifier")
            ids = [r.get("id")] + [
                i.get("value")
                for i in (idents if isinstance(idents, list) else [])
                if isinstance(i, Mapping)
            ]
            ids = [i for i in ids if isinstance(i, str)]
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
    refs = {f"Patient/{pid}"} if isinstance(pid, str) and pid else set()
    if isinstance(url, str) and url:
        refs.add(url)
    rd = _Reader()
    try:
        _read_patient(rd, pres)
    except _MALFORMED as exc:
        raise MappingError(
            [("", f"the Patient resource is malformed ({type(exc).__name__})")]
        ) from None
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
        if sref is not None and not isinstance(sref, str):
            rd.skip(res, "malformed subject reference (not a string); left out")
            continue
        if (
            sref
            and sref not in refs
            and not any(sref.endswith("/" + r) for r in refs if r.startswith("Patient/"))
        ):
            rd.skip(res, f"belongs to another patient ({sref})", res.get("code"))
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
