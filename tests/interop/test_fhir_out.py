"""FHIR out: an assessment as CarePlan, draft requests, DetectedIssues and Provenance (R4B)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from rplcare.case.loader import load_case
from rplcare.interop.commands import assessment_fhir_json
from rplcare.interop.fhir import RECOMMENDATION_SYSTEM
from rplcare.interop.fhir.export import KB_SYSTEM, assessment_bundle
from rplcare.reasoning.assess import assess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TODAY = date(2026, 11, 23)
RECORDED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

LIT_CASE = {
    "id": "lit-demo",
    "assessed_on": "2026-11-22",
    "patient": {"age_years": 35, "medications": ["lymphocyte_immunotherapy", "ivig"]},
    "pregnancies": [
        {"outcome": "miscarriage", "ga": "7+0", "year": 2024},
        {"outcome": "miscarriage", "ga": "8+0", "year": 2025},
    ],
    "results": [{"test": "nk_cells", "value": "raised uterine NK", "date": "2026-06-01"}],
}


def _bundle_for(source: Any) -> tuple[Any, Any, dict[str, Any]]:
    case = load_case(source, today=TODAY)
    a = assess(case)
    return case, a, assessment_bundle(a, case, recorded=RECORDED)


def _of(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


@pytest.mark.parametrize(
    "source", [*EXAMPLES, LIT_CASE], ids=lambda s: s.stem if isinstance(s, Path) else "lit"
)
def test_every_resource_validates_with_r4b(source: Any) -> None:
    _, _, bundle = _bundle_for(source)
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        res = entry["resource"]
        get_fhir_model_class(res["resourceType"]).model_validate(res)
    assert bundle["type"] == "collection"
    assert len(_of(bundle, "Patient")) == 1
    assert len(_of(bundle, "CarePlan")) == 1
    assert len(_of(bundle, "Provenance")) == 1


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_careplan_covers_every_recommended_test_and_treatment(path: Path) -> None:
    _, a, bundle = _bundle_for(path)
    plan = _of(bundle, "CarePlan")[0]
    assert plan["status"] == "active" and plan["intent"] == "proposal"
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    covered = set()
    for act in plan.get("activity", []):
        if "reference" in act:
            req = urls[act["reference"]["reference"]]
            assert req["resourceType"] in ("ServiceRequest", "MedicationRequest")
            assert req["status"] == "draft" and req["intent"] == "proposal"
            covered |= {
                i["value"] for i in req["identifier"] if i["system"] == RECOMMENDATION_SYSTEM
            }
        else:
            covered |= {c["code"] for c in act["detail"]["code"]["coding"]}
    wanted = {r.id for r in a.recommendations if r.status in ("recommended", "conditional")}
    assert covered == wanted


def test_progesterone_request_has_the_plans_stop_date() -> None:
    _, a, bundle = _bundle_for(ROOT / "examples" / "bleeding-early-pregnancy.yaml")
    stop = a.rec("treat.vaginal_progesterone_bleeding").extra["schedule"]["stop_date"]
    mr = next(
        m
        for m in _of(bundle, "MedicationRequest")
        if "progesterone" in m["medicationCodeableConcept"]["text"]
    )
    dosage = mr["dosageInstruction"][0]
    assert dosage["route"]["coding"][0]["code"] == "16857009"
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 400
    assert dosage["timing"]["repeat"]["frequency"] == 2
    assert dosage["timing"]["repeat"]["boundsPeriod"]["end"] == stop == "2027-01-28"


def test_aps_gets_aspirin_and_lmwh() -> None:
    _, _, bundle = _bundle_for(ROOT / "examples" / "aps-three-losses.yaml")
    meds = {m["medicationCodeableConcept"]["text"]: m for m in _of(bundle, "MedicationRequest")}
    aspirin = meds["aspirin, low dose"]["dosageInstruction"][0]["doseAndRate"][0]["doseRange"]
    assert (aspirin["low"]["value"], aspirin["high"]["value"]) == (75, 100)
    assert "prophylactic" in meds["low-molecular-weight heparin"]["dosageInstruction"][0]["text"]
    assert "folic acid" in meds


def test_detected_issue_for_each_recorded_not_recommended_item() -> None:
    _, a, bundle = _bundle_for(LIT_CASE)
    issues = {i["code"]["coding"][0]["code"]: i for i in _of(bundle, "DetectedIssue")}
    prominent = {r.id for r in a.recommendations if r.status == "not_recommended" and r.prominent}
    assert (
        set(issues)
        == prominent
        >= {"treat.lymphocyte_immunotherapy", "treat.ivig", "test.nk_cells"}
    )
    lit = issues["treat.lymphocyte_immunotherapy"]
    assert lit["severity"] == "high"
    assert "no benefit" in lit["detail"]
    assert lit["evidence"][0]["code"][0]["coding"][0]["code"] == "recorded.lymphocyte_immunotherapy"
    assert any("Cochrane" in d["display"] for d in lit["evidence"][1]["detail"])
    _, _, plain = _bundle_for(ROOT / "examples" / "aps-three-losses.yaml")
    assert _of(plain, "DetectedIssue") == []


def test_provenance_names_kb_version_and_agent() -> None:
    _, a, bundle = _bundle_for(ROOT / "examples" / "thyroid-two-losses.yaml")
    prov = _of(bundle, "Provenance")[0]
    assert prov["entity"][0]["what"]["identifier"] == {"system": KB_SYSTEM, "value": a.kb_version}
    assert "rplcare" in prov["agent"][0]["who"]["display"]
    assert prov["recorded"] == "2026-11-23T12:00:00Z"
    device = _of(bundle, "Device")[0]
    assert {"type": {"text": "knowledge base"}, "value": a.kb_version} in device["version"]
    targets = {t["reference"] for t in prov["target"]}
    plan_url = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CarePlan"
    )
    assert plan_url in targets


def test_assessment_fhir_json_is_json() -> None:
    case = load_case(ROOT / "examples" / "carrier-frozen-transfer.yaml", today=TODAY)
    data = json.loads(assessment_fhir_json(assess(case), case))
    assert data["resourceType"] == "Bundle"
