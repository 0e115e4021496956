"""Results with a comparator, as labs and EHRs send them (issue 15 §2).

Rule checked: a FHIR `valueQuantity.comparator` (`<`, `<=`, `>`, `>=`; the shape of the official
HL7 R4 example Observation-f205, eGFR `> 60`) is read into the case as a bound, not a value: it
is never used as a number by a calculator, and a threshold is decided by it only when the bound
lies on one side of the limit. Limits written by hand from the knowledge base: aCL medium titre
> 40 GPL (parameters.yaml aps.acl_medium_titre, Sydney 2006).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rplcare import assess, load_case
from rplcare.case.errors import CaseError
from rplcare.interop.fhir.importer import import_bundle
from rplcare.interop.fhir.write import case_to_bundle
from rplcare.knowledge import get_kb
from rplcare.reasoning.aps import _is_positive

TODAY = date(2026, 11, 23)
HL7 = Path(__file__).parent / "node" / "node_modules" / "hl7.fhir.r4.examples"
LOSSES = [
    {"outcome": "miscarriage", "ga": "7+0", "year": 2023},
    {"outcome": "miscarriage", "ga": "8+0", "year": 2024},
    {"outcome": "miscarriage", "ga": "6+0", "year": 2025},
]


def _case(*results: dict[str, Any]) -> Any:
    return load_case(
        {
            "id": "cmp",
            "assessed_on": "2026-11-22",
            "patient": {"age_years": 33},
            "pregnancies": LOSSES,
            "results": list(results),
        },
        today=TODAY,
    )


def _acl(comparator: str, value: float) -> dict[str, Any]:
    return {
        "test": "anticardiolipin_igg",
        "value": value,
        "unit": "GPL",
        "comparator": comparator,
        "date": "2026-10-01",
    }


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        ("<", 5, (False, False)),  # below 5 is below 40: negative
        ("<=", 40, (False, False)),  # at most 40 is not above 40
        (">", 80, (True, False)),  # above 80 is above 40: medium/high titre
        (">", 40, (True, False)),  # above 40
        ("<", 60, (False, True)),  # below 60 may be above 40: titre unknown
        (">", 10, (False, True)),  # above 10 may be below 40: titre unknown
    ],
)
def test_acl_bound_decides_only_when_it_is_on_one_side_of_40_gpl(comparator, value, expected):
    [r] = _case(_acl(comparator, value)).results
    assert r.si is None and r.bound_si == value
    assert _is_positive(r, get_kb()) == expected


def test_a_bound_is_never_a_number_for_the_hcg_calculators() -> None:
    case = _case(
        {"test": "hcg", "value": 1000, "unit": "IU/L", "comparator": ">", "date": "2026-11-20"}
    )
    a = assess(case, today=TODAY)  # no pregnancy: hCG only recorded; never a traceback
    assert case.results[0].si is None
    assert a.pregnancy is None or not (a.pregnancy.get("hcg") or {}).get("samples")


def test_a_censored_tsh_is_missing_not_a_crash() -> None:
    case = _case(
        {"test": "tsh", "value": 0.01, "unit": "mIU/L", "comparator": "<", "date": "2026-10-01"}
    )
    a = assess(case, today=TODAY)
    assert not any(f.id.startswith("state.tsh") for f in a.findings)


def test_lab_range_bound_above_the_upper_limit() -> None:
    prl = {"test": "prolactin", "unit": "mIU/L", "reference_high": 500, "date": "2026-10-01"}
    above = _case({**prl, "value": 600, "comparator": ">"}).results[0]
    below = _case({**prl, "value": 300, "comparator": "<"}).results[0]
    open_ = _case({**prl, "value": 400, "comparator": ">"}).results[0]
    assert (above.above_reference_high, below.above_reference_high) == (True, False)
    assert open_.above_reference_high is None  # > 400 may or may not be above 500


def test_a_comparator_needs_a_number() -> None:
    with pytest.raises(CaseError, match=r"results\[0\]\.comparator"):
        _case(
            {
                "test": "lupus_anticoagulant",
                "value": "negative",
                "comparator": "<",
                "date": "2026-10-01",
            }
        )


def test_comparator_survives_fhir_out_and_in() -> None:
    case = _case(_acl("<", 5))
    bundle = case_to_bundle(case)
    [obs] = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation" and "valueQuantity" in e["resource"]
    ]
    assert obs["valueQuantity"]["comparator"] == "<"
    back = load_case(import_bundle(bundle, today=TODAY).case, today=TODAY)
    [r] = back.results
    assert (r.comparator, r.value) == ("<", 5)


@pytest.mark.skipif(
    not HL7.is_dir(), reason="npm packages not installed (scripts/fhir-npm-deps.sh)"
)
def test_hl7_example_quantity_with_comparator_is_read() -> None:
    # Observation-f205 (HL7 R4 example): eGFR component valueQuantity {value 60, comparator ">"}.
    # Its quantity shape is kept, on a test rplcare reads (aCL IgG, LOINC 3181-5) in GPL.
    ex = json.loads((HL7 / "Observation-f205.json").read_text(encoding="utf-8"))
    q = dict(ex["component"][0]["valueQuantity"])
    assert (q["comparator"], q["value"]) == (">", 60)
    q.update(unit="GPL", code="[GPL'U]")
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p1",
                    "gender": "female",
                    "birthDate": "1993-01-01",
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "acl",
                    "status": "final",
                    "subject": {"reference": "Patient/p1"},
                    "code": {"coding": [{"system": "http://loinc.org", "code": "3181-5"}]},
                    "effectiveDateTime": "2026-10-01",
                    "valueQuantity": q,
                }
            },
        ],
    }
    result = import_bundle(bundle, today=TODAY)
    case = load_case(result.case, today=TODAY)
    [r] = case.results
    assert (r.code, r.comparator, r.value) == ("anticardiolipin_igg", ">", 60)
    assert _is_positive(r, get_kb()) == (True, False)  # above 60 is above 40 GPL


# --- a bound a rule cannot compare is said, with its path (issue 15 §2) ------------------------
# Expected sentences written by hand from the rule sections: TSH, free T4 and TPO are read as
# numbers by the thyroid rules and the work-up; hCG by the early-pregnancy calculators only
# during a current pregnancy; an aCL bound decides the 40 GPL / MPL limit only from one side.

TSH_NOTE = (
    "results[0]: '< 0.01 mIU/L' is a bound, not a value; treated as not measured for the "
    "thyroid rules and the work-up (counted as not tested)"
)


def test_a_tsh_bound_is_a_warning_naming_its_path_and_the_rules() -> None:
    case = _case(
        {"test": "tsh", "value": 0.01, "unit": "mIU/L", "comparator": "<", "date": "2026-10-01"}
    )
    a = assess(case, today=TODAY)
    assert TSH_NOTE in a.warnings
    assert "gap.thyroid_function" in a.findings  # said: counted as not tested


def test_an_acl_bound_on_one_side_of_the_limit_is_tested_and_needs_no_warning() -> None:
    la = {"test": "lupus_anticoagulant", "value": "negative", "date": "2026-10-01"}
    case = _case(la, _acl("<", 5))
    a = assess(case, today=TODAY)
    assert not [w for w in a.warnings if w.startswith("results[1]")]
    # the work-up counts the aCL as tested: the APS criteria read it (below 5 is below 40)
    assert "done.antiphospholipid" in a.findings
    assert "gap.antiphospholipid" not in a.findings


def test_an_acl_bound_that_decides_nothing_is_a_titre_unknown_warning() -> None:
    a = assess(_case(_acl("<", 60)), today=TODAY)
    assert (
        "results[0]: '< 60 GPL' is a bound, not a value; its titre is unknown for the APS "
        "laboratory criterion"
    ) in a.warnings


def test_an_hcg_bound_is_a_warning_only_in_a_current_pregnancy() -> None:
    hcg = {"test": "hcg", "value": 5, "unit": "IU/L", "comparator": "<", "date": "2026-11-20"}
    not_pregnant = assess(_case(hcg), today=TODAY)
    assert not [w for w in not_pregnant.warnings if w.startswith("results[0]")]
    pregnant = load_case(
        {
            "id": "cmp-preg",
            "assessed_on": "2026-11-22",
            "patient": {"age_years": 33},
            "pregnancies": LOSSES,
            "current_pregnancy": {"lmp": "2026-10-06"},
            "results": [hcg],
        },
        today=TODAY,
    )
    a = assess(pregnant, today=TODAY)
    assert (
        "results[0]: '< 5 IU/L' is a bound, not a value; treated as not measured for the hCG "
        "calculators"
    ) in a.warnings


def test_cds_info_card_names_the_bound_by_its_fhir_reference(caplog) -> None:
    from fastapi.testclient import TestClient

    from rplcare.interop.cds import SERVICE_PATIENT_VIEW, create_cds_app

    case = _case({"test": "lupus_anticoagulant", "value": "negative", "date": "2026-10-01"})
    entries = case_to_bundle(case)["entry"]
    patient = entries[0]["resource"]
    observations = [e for e in entries if e["resource"]["resourceType"] == "Observation"]
    observations.append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": "tsh-bound",
                "status": "final",
                "subject": {"reference": f"Patient/{patient['id']}"},
                "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]},
                "effectiveDateTime": "2026-10-02",
                "valueString": "<0.01 mIU/L",
            }
        }
    )
    conditions = [e for e in entries if e["resource"]["resourceType"] == "Condition"]

    def searchset(hits: list[dict[str, Any]]) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "searchset", "total": len(hits), "entry": hits}

    body = {
        "hook": "patient-view",
        "hookInstance": "3b1f0c52-0c1e-4a4e-9d0e-6d3c1a1b2c3d",
        "context": {"patientId": patient["id"], "userId": "Practitioner/1"},
        "prefetch": {
            "patient": patient,
            "observations": searchset(observations),
            "conditions": searchset(conditions),
            "medicationStatements": searchset([]),
            "medicationRequests": None,
        },
    }
    client = TestClient(create_cds_app(clock=lambda: TODAY, environ={}, allow_unauthenticated=True))
    with caplog.at_level("WARNING"):
        r = client.post(f"/cds-services/{SERVICE_PATIENT_VIEW}", json=body)
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    info = cards[-1]
    assert info["source"]["topic"]["code"] == "chart-read-in-part"
    assert "1 result given as a bound, not compared" in info["summary"]
    assert (
        "- Observation/tsh-bound: '< 0.01 mIU/L' is a bound, not a value; treated as not "
        "measured for the thyroid rules and the work-up (counted as not tested)"
    ) in info["detail"]
    assert "results[" not in info["detail"]  # FHIR references, not case paths
    assert "1 bound(s) not compared" in caplog.text
    assert len(cards) > 1  # the cards of the rest of the chart are still there
