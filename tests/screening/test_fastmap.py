"""The screening mapping (`screening.fastmap.fast_case`) is the CDS/import mapping, faster.

Rule checked: for every chart, `fast_case(resources, patient_id, today)` gives exactly what
`interop.fhir.read.case_from_entries(..., patient_id, today, assessed_on=today)` gives (the
case JSON, every unmapped row in order, the sources, the notes), or the same MappingError;
and slimming the resources the mapping does not read (`fastmap.slim`, what the bulk reader
keeps of them) changes none of it. Checked on every Synthea bundle of shared/fhir-samples and
on every HL7 R4 example (the npm package; skipped when absent), each as of two dates (the
chart today, and cut to half its span so the "dated after" rule and open episodes differ).
The expected side is the reference mapping itself: the rule is the equality of the two.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rplcare.interop.fhir import MappingError, bundle_entries
from rplcare.interop.fhir.read import case_from_entries
from rplcare.screening.fastmap import OBS_NOT_READ, PROC_NOT_READ, fast_case, skip_reason, slim

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "interop" / "node" / "node_modules" / "hl7.fhir.r4.examples"
if not EXAMPLES.is_dir():  # the npm packages live in the main checkout's node_modules
    EXAMPLES = Path("/work/main/tests/interop/node/node_modules/hl7.fhir.r4.examples")
TODAY = date(2026, 11, 23)
EARLIER = date(2016, 6, 1)


def _outcome(fn: Any, resources: list[dict], pid: str, day: date) -> Any:
    try:
        m = fn(resources, pid, day)
    except MappingError as exc:
        return ("MappingError", exc.problems)
    return (
        json.dumps(m.case, sort_keys=True),
        [u.to_json() for u in m.unmapped],
        m.sources,
        m.notes,
    )


def _reference(resources: list[dict], pid: str, day: date) -> Any:
    return case_from_entries(
        ((None, r) for r in resources), patient_id=pid, today=day, assessed_on=day
    )


def _slimmed(resources: list[dict]) -> list[dict]:
    return [slim(r) or r for r in resources]


def _check(resources: list[dict], pid: str) -> int:
    """Compare both ways (and slimmed); returns how many resources took the shortcut."""
    for day in (TODAY, EARLIER):
        want = _outcome(_reference, resources, pid, day)
        assert _outcome(fast_case, resources, pid, day) == want, (pid, day)
        assert _outcome(fast_case, _slimmed(resources), pid, day) == want, (pid, day)
        assert _outcome(_reference, _slimmed(resources), pid, day) == want, (pid, day)
    return sum(skip_reason(r) is not None for r in resources)


def test_fast_mapping_equals_reference_on_every_synthea_bundle(synthea_bundles) -> None:
    assert len(synthea_bundles) == 12
    shortcut = 0
    for pid, resources in synthea_bundles.items():
        shortcut += _check(resources, pid)
    # the shortcut is taken (most Observations are vital signs and panels rplcare never reads)
    assert shortcut > 1000


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="HL7 R4 examples (npm) not installed")
def test_fast_mapping_equals_reference_on_every_hl7_r4_example() -> None:
    files = sorted(p for p in EXAMPLES.glob("*.json") if p.name != "package.json")
    assert len(files) > 2000
    charts = mapped = 0
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        resources = [dict(r) for _u, r in bundle_entries(data)]
        pids = [
            r.get("id")
            for r in resources
            if r.get("resourceType") == "Patient" and isinstance(r.get("id"), str)
        ]
        for pid in pids[:3] or ["no-such-patient"]:
            _check(resources, pid)
            charts += 1
            mapped += bool(pids)
    assert charts > 2000
    assert mapped > 10  # the examples with a patient (bundles and single Patients) map


def test_shortcut_only_for_codes_the_mapping_does_not_read() -> None:
    """Hand-written: body height (LOINC 8302-2, not in the vocabulary) takes the shortcut;
    TSH (LOINC 3016-3, a test rplcare reads), an entered-in-error status and a blood-pressure
    panel whose component is a read test do not; a Procedure coded as an appendectomy
    (SNOMED 80146002, no pregnancy outcome) is not read; a Condition always goes to its
    handler."""
    height = {
        "resourceType": "Observation",
        "id": "h",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
        "valueQuantity": {"value": 160, "unit": "cm"},
    }
    assert skip_reason(height) == OBS_NOT_READ
    assert slim(height) == {k: height[k] for k in ("resourceType", "id", "status", "code")}
    tsh = {**height, "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]}}
    assert skip_reason(tsh) is None
    assert skip_reason({**height, "status": "entered-in-error"}) is None
    panel = {
        **height,
        "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]}}],
    }
    assert skip_reason(panel) is None
    appendectomy = {
        "resourceType": "Procedure",
        "id": "p",
        "status": "completed",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "80146002"}]},
    }
    assert skip_reason(appendectomy) == PROC_NOT_READ
    assert skip_reason({"resourceType": "Condition", "id": "c"}) is None


def test_memoized_decisions_keep_what_each_resource_adds() -> None:
    """Rule: the condition and medication decisions fastmap keeps per code key (the concept's
    codes; the medication concept and its dosages) never carry over what depends on the rest
    of a resource. One chart, mapped after the same codes were already seen (memo hits): the
    same condition code active, resolved and refuted; the same drug concept active and
    stopped, and at a dose under and over its maximum; the result is the reference mapping's.
    The codes are taken from the knowledge base (a vocabulary condition, a drug with a
    maximum dose), so the test follows the data."""
    from rplcare.interop.fhir.codes import CONDITION_CODES, TERM

    cname, codes = next(iter(CONDITION_CODES.items()))
    cond_code = {"coding": [{"system": codes[0].system, "code": codes[0].code}]}
    drug = next(c for c in TERM.concepts.values() if c.kind == "drug" and c.max_dose_mg)
    drug_code = {"coding": [{"system": drug.codes[0].system, "code": drug.codes[0].code}]}
    subject = {"reference": "Patient/p"}
    clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    ver = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

    def condition(i: int, status: str, verification: str = "confirmed") -> dict:
        return {
            "resourceType": "Condition",
            "id": f"c{i}",
            "subject": subject,
            "code": cond_code,
            "clinicalStatus": {"coding": [{"system": clinical, "code": status}]},
            "verificationStatus": {"coding": [{"system": ver, "code": verification}]},
        }

    def med(i: int, status: str, mg: float) -> dict:
        dose = {"doseQuantity": {"value": mg, "unit": "mg", "code": "mg"}}
        return {
            "resourceType": "MedicationRequest",
            "id": f"m{i}",
            "status": status,
            "subject": subject,
            "medicationCodeableConcept": drug_code,
            "dosageInstruction": [{"doseAndRate": [dose]}],
        }

    chart = [
        {"resourceType": "Patient", "id": "p", "birthDate": "1990-01-01"},
        condition(1, "active"),
        condition(2, "resolved"),
        condition(3, "active", "refuted"),
        med(1, "active", drug.max_dose_mg / 2),
        med(2, "stopped", drug.max_dose_mg / 2),
        med(3, "active", drug.max_dose_mg * 3),
    ]
    for _ in range(2):  # the second time every decision comes from the memo
        assert _outcome(fast_case, chart, "p", TODAY) == _outcome(_reference, chart, "p", TODAY)
    mapped = fast_case(chart, "p", TODAY)
    assert mapped.case["patient"]["conditions"] == [cname]
    assert mapped.case["patient"]["medications"] == [drug.id]
