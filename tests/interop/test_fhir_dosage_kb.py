"""FHIR Dosage comes from the knowledge base's structured doses (issue 8 §1).

Rule checked: a drug recommendation's MedicationRequest.dosageInstruction is built from the
`doses:` its rule names in `recommendations.yaml` (structured in `doses.yaml`), never from a
number in Python nor by searching the recommendation's sentence. Expected values are written by
hand from `knowledge/data/doses.yaml`: folic_acid_high 5 mg daily (NICE NG3, diabetes),
folic_acid_standard 400 ug daily, bromocriptine_hyperprolactinaemia 2.5-5 mg once a day,
aspirin_low_dose 75-100 mg once daily (oral, SNOMED 26643006).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rplcare.case.loader import load_case
from rplcare.interop.fhir.export import medication_requests
from rplcare.knowledge import KnowledgeBase, get_kb, load_kb
from rplcare.knowledge.loader import DATA_DIR, KnowledgeError
from rplcare.knowledge.terminology import terminology
from rplcare.reasoning.assess import assess

TODAY = date(2026, 11, 23)
SUBJECT = {"reference": "Patient/p1"}
LOSSES = [
    {"outcome": "miscarriage", "ga": "7+0", "year": 2024},
    {"outcome": "miscarriage", "ga": "8+0", "year": 2025},
]


def _case(**patient: Any) -> Any:
    return load_case(
        {
            "id": "dose",
            "assessed_on": "2026-11-22",
            "patient": {"age_years": 32, **patient},
            "pregnancies": LOSSES,
        },
        today=TODAY,
    )


def _dosage(case: Any, rid: str, kb: KnowledgeBase | None = None) -> list[dict[str, Any]]:
    a = assess(case, today=TODAY, kb=kb or get_kb())
    return [m["dosageInstruction"][0] for m in medication_requests(a.rec(rid), a, SUBJECT)]


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "kb"
    shutil.copytree(DATA_DIR, d)
    return d


def test_folic_acid_with_diabetes_is_5_mg_daily() -> None:
    [dosage] = _dosage(_case(conditions=["diabetes_type1"]), "treat.folic_acid")
    q = dosage["doseAndRate"][0]["doseQuantity"]
    assert (q["value"], q["code"], q["system"]) == (5, "mg", "http://unitsofmeasure.org")
    assert dosage["timing"]["repeat"] == {"frequency": 1, "period": 1, "periodUnit": "d"}
    assert dosage["route"]["coding"][0]["code"] == "26643006"  # oral route


def test_folic_acid_standard_is_400_micrograms() -> None:
    [dosage] = _dosage(_case(), "treat.folic_acid")
    q = dosage["doseAndRate"][0]["doseQuantity"]
    assert (q["value"], q["code"]) == (400, "ug")


def test_bromocriptine_dose_range_from_the_knowledge_base() -> None:
    case = load_case(
        {
            "id": "prl",
            "assessed_on": "2026-11-22",
            "patient": {"age_years": 32},
            "pregnancies": [*LOSSES, {"outcome": "miscarriage", "ga": "6+0", "year": 2026}],
            "results": [
                {
                    "test": "prolactin",
                    "value": 2000,
                    "unit": "mIU/L",
                    "reference_high": 500,
                    "date": "2026-10-01",
                }
            ],
        },
        today=TODAY,
    )
    a = assess(case, today=TODAY)
    if a.rec("treat.bromocriptine") is None:
        pytest.skip("this prolactin does not reach the hyperprolactinaemia finding")
    [dosage] = _dosage(case, "treat.bromocriptine")
    r = dosage["doseAndRate"][0]["doseRange"]
    assert (r["low"]["value"], r["high"]["value"], r["low"]["code"]) == (2.5, 5, "mg")


def test_a_patched_dose_moves_the_fhir_dosage(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    f = d / "doses.yaml"
    text = f.read_text(encoding="utf-8")
    old = "  - id: folic_acid_high\n    drug: folic acid\n    medication: folic_acid\n    dose: 5\n"
    assert old in text
    f.write_text(text.replace(old, old.replace("dose: 5", "dose: 4")), encoding="utf-8")
    [dosage] = _dosage(_case(conditions=["diabetes_type1"]), "treat.folic_acid", load_kb(d))
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 4


def test_the_dose_is_not_found_in_the_sentence(tmp_path: Path) -> None:
    # the diabetes rule's sentence no longer writes "5 mg": the dose still comes from doses:
    d = _copy(tmp_path)
    f = d / "recommendations.yaml"
    text = f.read_text(encoding="utf-8")
    old = "        text: Folic acid {dose:folic_acid_high} (diabetes) from before conception"
    assert old in text
    f.write_text(text.replace(old, "        text: Folic acid (diabetes) from before conception"))
    [dosage] = _dosage(_case(conditions=["diabetes_type1"]), "treat.folic_acid", load_kb(d))
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 5


def test_a_rule_whose_text_writes_a_dose_it_does_not_prescribe_fails_at_load(
    tmp_path: Path,
) -> None:
    d = _copy(tmp_path)
    f = d / "recommendations.yaml"
    text = f.read_text(encoding="utf-8")
    old = (
        "        when: {all: [state.folic_acid_window, history.diabetes]}\n"
        "        doses: [folic_acid_high]\n"
    )
    assert old in text
    f.write_text(text.replace(old, old.replace("folic_acid_high]", "folic_acid_standard]")))
    with pytest.raises(KnowledgeError, match=r"treat.folic_acid.rules\[0\].*folic_acid_high"):
        load_kb(d)


def test_every_dose_names_a_terminology_drug() -> None:
    kb = get_kb()
    assert {d.medication for d in kb.doses.values()} <= set(terminology().drugs)
    for rec in kb.recommendations.values():
        for i in range(len(rec.rules)):
            assert set(rec.rule_doses(i)) <= set(kb.doses)
