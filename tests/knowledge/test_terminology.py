"""The one terminology file (knowledge/data/terminology.yaml) and its matcher.

Rules checked: codes first, whole-word synonyms only as a fallback, the longest synonym wins,
a look-alike is never read as what it resembles (issue 15 §3); every item named in the file
exists in the knowledge base and the case vocabulary; the FHIR code table of
docs/fhir-mapping.md is generated from the file; the recommendation -> recorded-finding map is
stated once (reasoning/rules.py's copy is checked against it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rplcare.case.vocabulary import vocabulary
from rplcare.interop.fhir.read import medication_name
from rplcare.knowledge import get_kb
from rplcare.knowledge.terminology import markdown_table, terminology
from rplcare.reasoning import rules

ROOT = Path(__file__).resolve().parents[2]
ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def test_terminology_loads_and_the_kb_loader_leaves_it_alone() -> None:
    t = terminology()
    assert t.version
    assert get_kb().recommendations  # the KB loader skips terminology.yaml


def test_every_item_named_exists_in_the_kb_and_the_vocabulary() -> None:
    t = terminology()
    kb = get_kb()
    voc = vocabulary()
    assert set(t.drugs) == set(voc.medications)
    assert set(t.tests) <= set(voc.tests)
    for item, finding in t.recorded_findings().items():
        assert finding in kb.findings, (item, finding)
    for o in t.orders.values():
        assert o["recommendation"] in kb.recommendations
    assert t.critical <= set(kb.recommendations)
    for rid in t.request_tests:
        assert rid in kb.recommendations


def test_recorded_finding_map_is_stated_once() -> None:
    # reasoning/rules.py still carries its own copy; it must equal the terminology's
    ours = terminology().recorded_findings()
    theirs = {**rules.NOT_ROUTINE_RECORDED, **rules.RECORDED_TREATMENTS}
    assert ours == theirs


def test_vocabulary_loinc_codes_come_from_the_terminology() -> None:
    t = terminology()
    voc = vocabulary()
    for code, test in voc.tests.items():
        assert test.loinc == t.loinc_codes(code)


def test_docs_code_table_is_generated_from_the_terminology() -> None:
    doc = (ROOT / "docs" / "fhir-mapping.md").read_text(encoding="utf-8")
    start = doc.index("<!-- BEGIN terminology table -->\n") + len(
        "<!-- BEGIN terminology table -->\n"
    )
    end = doc.index("<!-- END terminology table -->")
    assert doc[start:end] == markdown_table()


# (concept, dosage text) -> the vocabulary medication, or (None, words of the reason).
# Expected answers from issue 15 §3 and the drugs' pharmacology, written by hand.
MEDICATIONS: list[tuple[dict[str, Any], str, str | None, str]] = [
    ({"text": "Anti-D immune globulin 1500 IU"}, "", None, "not IVIG"),
    ({"text": "Rho(D) Immune Globulin (RhoGAM)"}, "", None, "not IVIG"),
    (
        {"coding": [{"system": ATC, "code": "J06BB01"}], "text": "immune globulin"},
        "",
        None,
        "anti-D",
    ),
    ({"text": "Hepatitis B immune globulin"}, "", None, "not IVIG"),
    ({"text": "Varicella-zoster immune globulin (VariZIG)"}, "", None, "not IVIG"),
    ({"text": "Immune globulin intravenous (human) 10%"}, "", "ivig", ""),
    ({"coding": [{"system": ATC, "code": "J06BA02"}]}, "", "ivig", ""),
    ({"text": "Medroxyprogesterone acetate 150 mg/mL (Depo-Provera)"}, "IM", None, "contraceptive"),
    ({"text": "Progesterone in oil 50 mg/mL"}, "intramuscular", "intramuscular_progesterone", ""),
    ({"text": "Cyclogest 400 mg pessary"}, "", "vaginal_progesterone", ""),
    ({"text": "Progesterone 200 mg"}, "", None, "route"),
    ({"text": "Heparin lock flush 10 units/mL"}, "", None, "flush"),
    ({"text": "Heparin sodium 5000 units"}, "", None, "not LMWH"),
    ({"text": "Enoxaparin 40 mg/0.4 mL"}, "", "lmwh", ""),
    ({"coding": [{"system": RXNORM, "code": "67108"}]}, "", "lmwh", ""),
    ({"text": "Aspirin 325 mg tablet"}, "", None, "above the 100 mg"),
    ({"text": "Aspirin 81 mg chewable tablet"}, "", "low_dose_aspirin", ""),
    ({"text": "Aspirin 75 mg"}, "", "low_dose_aspirin", ""),
    ({"coding": [{"system": ATC, "code": "N02BA01"}], "text": "aspirin"}, "", None, "analgesic"),
    ({"text": "Methylprednisolone 4 mg tablet (Medrol)"}, "", None, "not prednisolone"),
    ({"text": "Prednisolone 5 mg"}, "", "prednisolone", ""),
    ({"text": "Dydrogesterone 10 mg (Duphaston)"}, "", "oral_dydrogesterone", ""),
    ({"text": "Levothyroxine 50 mcg"}, "", "levothyroxine", ""),
    ({"text": "Amoxicillin 500 mg"}, "", None, "not in rplcare's vocabulary"),
]


@pytest.mark.parametrize(("concept", "dosage", "expected", "why"), MEDICATIONS)
def test_medication_matched_by_code_then_whole_words(
    concept: dict[str, Any], dosage: str, expected: str | None, why: str
) -> None:
    name, reason = medication_name(concept, dosage)
    assert name == expected, reason
    assert why in reason


# tests ordered or recorded by text: (text, the vocabulary test or look-alike id, look-alike?)
TESTS = [
    ("HLA-B*58:01 genotyping", "hla_b5801", True),
    ("HLA-B27 antigen", "hla_b27", True),
    ("HLA typing of both partners", "hla_typing", False),
    ("NK/T-cell lymphoma panel", "nk_t_cell_lymphoma", True),
    ("Uterine NK cells biopsy", "nk_cells", False),
    ("anti-HLA antibodies", "blocking_antibodies", False),
]


@pytest.mark.parametrize(("text", "item", "look_alike"), TESTS)
def test_tests_matched_by_whole_words_longest_first(text: str, item: str, look_alike: bool) -> None:
    m = terminology().match([], text, "test")
    assert (m.id, m.look_alike) == (item, look_alike)
    assert m.by == "text"


def test_a_code_beats_any_text() -> None:
    m = terminology().match([(ATC, "J06BA02")], "anti-D immune globulin", "drug")
    assert (m.id, m.by) == ("ivig", "code")
