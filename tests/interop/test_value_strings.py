"""Results sent as text, as labs and EHRs send them (issue 15 §2): `valueString`.

Rules checked:
- a valueString that is a number with an optional leading comparator (`<`, `<=`, `>`, `>=`,
  `≤`, `≥`) and unit is read as the same result a `valueQuantity` (with `comparator`) gives: a
  bound, never a measured number;
- a qualitative word goes to the qualitative mapping (vocabulary.yaml qualitative_answers:
  "non-reactive" and "negative" mean negative);
- any other text is unmapped with its reason, and the rest of the chart is still read (never a
  crash, never an unreadable chart).

Expected values are written by hand from the valueStrings and vocabulary.yaml (units of each
test; UCUM `m[IU]/mL` is mIU/mL), not from the importer.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rplcare.interop.fhir.importer import import_bundle
from rplcare.interop.fhir.read import readable_case

TODAY = date(2026, 11, 23)
HL7 = Path(__file__).parent / "node" / "node_modules" / "hl7.fhir.r4.examples"
TSH, HCG, ACL_IGG, TPO, LA = "3016-3", "21198-7", "3181-5", "8099-4", "3282-1"


def _obs(oid: str, loinc: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": "2026-10-01",
        "valueString": text,
    }


def _read(*observations: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """The case read from a Patient, the given Observations and one readable control result
    (lupus anticoagulant negative, a month earlier); (Case, unmapped rows)."""
    control = {
        **_obs("control", LA, "x"),
        "effectiveDateTime": "2026-09-01",
        "valueCodeableConcept": {"text": "negative"},
    }
    del control["valueString"]
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
            *({"resource": o} for o in observations),
            {"resource": control},
        ],
    }
    result = import_bundle(bundle, today=TODAY)
    case, dropped = readable_case(result.case, result.sources, today=TODAY)
    return case, result.unmapped + [u.to_json() for u in dropped]


# (LOINC, valueString) -> (test, comparator, value, unit, qualitative), written by hand
READ = [
    (TSH, "<0.01 mIU/L", ("tsh", "<", 0.01, "mIU/L", None)),
    (TSH, "< 0.01 uIU/mL", ("tsh", "<", 0.01, "uIU/mL", None)),
    (TSH, "2.5 mIU/L", ("tsh", None, 2.5, "mIU/L", None)),
    (TSH, "=<0.3 mIU/L", ("tsh", "<=", 0.3, "mIU/L", None)),
    (HCG, "> 1000 mIU/mL", ("hcg", ">", 1000, "mIU/mL", None)),
    (HCG, "<5 m[IU]/mL", ("hcg", "<", 5, "mIU/mL", None)),
    (ACL_IGG, "≤5 GPL", ("anticardiolipin_igg", "<=", 5, "GPL", None)),
    (ACL_IGG, "≥ 80 GPL", ("anticardiolipin_igg", ">=", 80, "GPL", None)),
    (TPO, "negative", ("tpo_antibodies", None, "negative", None, "negative")),
    (LA, "Non-reactive", ("lupus_anticoagulant", None, "Non-reactive", None, "negative")),
    (LA, "positive", ("lupus_anticoagulant", None, "positive", None, "positive")),
]


@pytest.mark.parametrize(("loinc", "text", "expected"), READ, ids=[r[1] for r in READ])
def test_value_string_is_read_as_number_bound_or_word(loinc, text, expected) -> None:
    case, unmapped = _read(_obs("obs", loinc, text))
    [r] = [r for r in case.results if r.date.isoformat() == "2026-10-01"]
    assert (r.code, r.comparator, r.value, r.unit, r.qualitative) == expected
    if r.comparator is not None:  # a bound is never a measured number
        assert r.si is None and r.bound_si is not None
    assert not [u for u in unmapped if u.get("id") == "obs"]
    assert any(x.code == "lupus_anticoagulant" for x in case.results)


# (LOINC, valueString) -> words the reason names, written by hand
UNMAPPED = [
    (HCG, "negative", "not a result of hcg"),  # a quantitative test: a word is no value of it
    (TSH, "see comment", "not a result of tsh"),
    (TSH, "<0.01", "unit"),  # a bound without its unit cannot be read
    (TSH, "< 0,01 mIU/L", "not a result of tsh"),  # decimal comma: not read as a number
    (TSH, "5.2 (H)", "not a result of tsh"),
    (TSH, "0.4 mg", "'mg' is not a unit of tsh"),
    (LA, "<0.1", "not a result of lupus_anticoagulant"),  # qualitative test: no number
]


@pytest.mark.parametrize(("loinc", "text", "why"), UNMAPPED, ids=[r[1] for r in UNMAPPED])
def test_other_value_strings_are_unmapped_with_their_reason(loinc, text, why) -> None:
    case, unmapped = _read(_obs("obs", loinc, text))
    [row] = [u for u in unmapped if u.get("id") == "obs"]
    assert why in row["why"]
    # the rest of the chart is read
    assert [r.code for r in case.results] == ["lupus_anticoagulant"]


def test_many_value_strings_one_chart_each_read_or_reported() -> None:
    # every row above in one chart (LA "positive" left out: on the day of LA "Non-reactive" it
    # would be a contradiction the case model refuses, a rule of its own)
    read = [(loinc, t) for loinc, t, _ in READ if t != "positive"]
    rows = read + [(loinc, t) for loinc, t, _ in UNMAPPED]
    obs = [_obs(f"o{i}", loinc, t) for i, (loinc, t) in enumerate(rows)]
    case, unmapped = _read(*obs)
    assert len(case.results) == len(read) + 1  # + the control
    assert {u["id"] for u in unmapped} == {f"o{i}" for i in range(len(read), len(obs))}


needs_hl7 = pytest.mark.skipif(
    not HL7.is_dir(), reason="npm packages not installed (scripts/fhir-npm-deps.sh)"
)


def _hl7_value_string(name: str, oid: str) -> str:
    data = json.loads((HL7 / name).read_text(encoding="utf-8"))
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("resourceType") == "Observation" and node.get("id") == oid:
                return str(node["valueString"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError(f"{oid} not in {name}")


@needs_hl7
def test_hl7_example_qualitative_value_string_is_a_result_word() -> None:
    # Bundle-72ac8493… Observation o1-26 (RPR, LOINC 20507-0): valueString "Non-reactive".
    # Its value kept, on a test rplcare reads as a word (lupus anticoagulant, LOINC 3282-1).
    text = _hl7_value_string("Bundle-72ac8493-52ac-41bd-8d5d-7258c289b5ea.json", "o1-26")
    assert text == "Non-reactive"
    case, unmapped = _read(_obs("obs", LA, text))
    assert [r.qualitative for r in case.results if r.value == text] == ["negative"]
    assert not [u for u in unmapped if u.get("id") == "obs"]


@needs_hl7
def test_hl7_example_free_text_value_strings_are_unmapped_with_reason() -> None:
    # Observation-eye-color ("blue") and Bundle-micro nte-1 (a lab comment) on a TSH code
    texts = [
        _hl7_value_string("Observation-eye-color.json", "eye-color"),
        _hl7_value_string("Bundle-micro.json", "nte-1"),
    ]
    assert texts[0] == "blue" and texts[1].startswith("D-Test:")
    case, unmapped = _read(*(_obs(f"t{i}", TSH, t) for i, t in enumerate(texts)))
    rows = {u["id"]: u["why"] for u in unmapped if u.get("id") in ("t0", "t1")}
    assert set(rows) == {"t0", "t1"}
    assert all("not a result of tsh" in why for why in rows.values())
    assert [r.code for r in case.results] == ["lupus_anticoagulant"]
