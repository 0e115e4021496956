"""FHIR code systems, rplcare extensions and the code tables the mapping reads and writes.

Standard codes (LOINC, SNOMED CT, ICD-10, RxNorm, ATC) come from the one terminology file,
`knowledge/data/terminology.yaml`, through `rplcare.knowledge.terminology`; this module only
names them for the reader and writer. Status tags (✅ confirmed / ⚠️ secondary / ❓
unverified) are listed in docs/fhir-mapping.md, which is generated from the same data.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

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
