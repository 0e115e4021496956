"""FHIR R4 in: lossless round trip of every case field, and honest reporting of what is not read."""

from __future__ import annotations

import copy
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir.resources.R4B.bundle import Bundle

from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.interop.commands import case_to_fhir, import_fhir
from rplcare.interop.fhir import (
    CS_TEST,
    EXTENSIONS,
    LOINC,
    SNOMED,
    all_codes,
    case_from_entries,
    case_to_bundle,
)
from rplcare.interop.fhir.importer import import_bundle

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TODAY = date(2026, 11, 23)

# Every field of rplcare.case/1, several in both of their forms.
KITCHEN_SINK: dict[str, Any] = {
    "format": "rplcare.case/1",
    "id": "kitchen sink/ü 1",
    "assessed_on": "2026-11-22",
    "patient": {
        "birth_date": "1990-05-01",
        "age_years": 36,
        "bmi": 31.5,
        "smoking": True,
        "alcohol_units_per_week": 4,
        "caffeine_mg_per_day": 250,
        "menstrual_cycle": "irregular",
        "conditions": [
            "diabetes_type1",
            "diabetes_type2",
            "hypothyroidism",
            "hyperthyroidism",
            "pcos",
            "hyperprolactinaemia",
            "sle",
            "antiphospholipid_syndrome",
            "thrombophilia_inherited",
            "venous_thromboembolism",
            "arterial_thrombosis",
            "obesity",
            "cervical_insufficiency",
            "uterine_anomaly",
            "chronic_endometritis",
        ],
        "medications": [
            "low_dose_aspirin",
            "lmwh",
            "levothyroxine",
            "metformin",
            "bromocriptine",
            "cabergoline",
            "prednisolone",
            "folic_acid",
            "hydroxychloroquine",
            "lymphocyte_immunotherapy",
            "ivig",
            "intralipid",
            "g_csf",
            "hcg_injections",
            "bed_rest",
            "vaginal_progesterone",
        ],
    },
    "gestational_carrier": True,
    "partner": {"karyotype": "46,XY"},
    "pregnancies": [
        {
            "outcome": "live_birth",
            "ga": "30+2",
            "date": "2015-03-01",
            "year": 2015,
            "conception": "ivf",
            "preterm_cause": "preeclampsia",
        },
        {
            "outcome": "miscarriage",
            "ga": "8+3",
            "year": 2019,
            "conception": "icsi",
            "heartbeat_seen": True,
            "fetal_anomaly": False,
            "poc_karyotype": "47,XX,+16",
        },
        {"outcome": "miscarriage", "ga": "15+0", "year": 2020, "painless_cervical_dilation": True},
        {"outcome": "biochemical", "year": 2021},
        {"outcome": "ectopic", "date": "2022-02-02"},
        {"outcome": "molar"},
        {"outcome": "termination", "year": 2023, "conception": "donor_egg"},
        {"outcome": "stillbirth", "ga": "26+1", "year": 2024, "conception": "frozen_transfer"},
        {"outcome": "miscarriage", "ga": 9.5, "year": 2025, "conception": "iui"},
    ],
    "results": [
        {
            "test": "tsh",
            "value": 3.1,
            "unit": "mIU/L",
            "date": "2026-10-01",
            "reference_low": 0.4,
            "reference_high": 4.0,
        },
        {"loinc": "3016-3", "value": 2.0, "unit": "uIU/mL", "date": "2026-10-02"},
        {
            "test": "tsh",
            "loinc": "11580-8",
            "value": 1.5,
            "unit": "µIU/mL",
            "date": "2026-10-03T08:30:00",
        },
        {"test": "hcg", "value": 1200, "unit": "mIU/mL", "date": "2026-11-10T07:15:00+01:00"},
        {"test": "lupus_anticoagulant", "value": "Positive", "date": "2026-07-01"},
        {
            "test": "tpo_antibodies",
            "value": 60,
            "unit": "IU/mL",
            "reference_high": 35,
            "date": "2026-07-01",
            "note": "assay A\nrepeat advised",
        },
        {"test": "anticardiolipin_igg", "value": "negative", "date": "2026-07-01"},
        {"test": "hba1c", "value": 6.1, "unit": "%", "date": "2026-07-01"},
        {"test": "prolactin", "value": 12, "unit": "ng/mL", "date": "2026-07-01"},
        {"test": "free_t4", "value": 14, "unit": "pmol/L", "date": "2026-07-01"},
        {"test": "fasting_glucose", "value": 90, "unit": "mg/dL", "date": "2026-07-01"},
        {"test": "anti_b2gpi_igm", "value": 3, "unit": "SMU", "date": "2026-07-01"},
        {"test": "full_blood_count", "value": 125, "unit": "g/L", "date": "2026-07-01"},
        {
            "test": "uterine_imaging",
            "method": "3d_ultrasound",
            "finding": "septate_uterus",
            "date": "2026-06-10",
        },
        {"test": "karyotype_female", "value": "46,XX,t(11;22)(q23;q11.2)", "date": "2026-05-01"},
        {"test": "karyotype_male", "value": "46,XY", "date": "2026-05-01"},
        {"test": "hla_typing", "value": "shared HLA-DQ", "date": "2026-05-01"},
        {"test": "vitamin_d", "value": 50, "unit": "nmol/L", "date": "2026-05-01"},
        {"test": "nk_cells", "date": "2026-05-01"},
        {"test": "mthfr", "value": "positive", "date": "2026-05-01"},
    ],
    "current_pregnancy": {
        "lmp": "2026-10-05",
        "cycle_length_days": 28,
        "conception": "frozen_transfer",
        "fetuses": 2,
        "transfer_date": "2026-10-20",
        "embryo_age_days": 5,
        "endometrial_preparation": "artificial",
        "symptoms": ["bleeding", "pain"],
        "treatments": ["vaginal_progesterone", "oral_dydrogesterone", "low_dose_aspirin"],
        "scans": [
            {
                "date": "2026-11-10",
                "location": "intrauterine",
                "msd_mm": 14,
                "yolk_sac": True,
                "yolk_sac_diameter_mm": 4.1,
                "amnion_empty": False,
                "embryo": True,
                "crl_mm": 3.5,
                "heartbeat": True,
                "cervical_length_mm": 32,
            },
            {"date": "2026-11-01", "location": "unknown"},
        ],
    },
}


def dump(case: Any) -> dict[str, Any]:
    return case.model_dump(mode="json", exclude_none=True)


def round_trip(case: Any) -> Any:
    bundle = case_to_bundle(case)
    result = import_bundle(json.loads(json.dumps(bundle)), today=TODAY)
    assert result.unmapped == []
    return load_case(result.case, today=TODAY)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_round_trip(path: Path) -> None:
    case = load_case(path, today=TODAY)
    assert dump(round_trip(case)) == dump(case)


def test_every_field_round_trips() -> None:
    case = load_case(copy.deepcopy(KITCHEN_SINK), today=TODAY)
    back = round_trip(case)
    assert dump(back) == dump(case)
    assert back.id == "kitchen sink/ü 1"


def test_minimal_case_without_id_round_trips() -> None:
    case = load_case({"patient": {"age_years": 30}}, today=TODAY)
    bundle = case_to_bundle(case)
    assert "id" not in bundle["entry"][0]["resource"]
    assert dump(round_trip(case)) == dump(case)


@pytest.mark.parametrize("path", [*EXAMPLES, None], ids=lambda p: p.stem if p else "sink")
def test_bundle_shape_and_r4b_validity(path: Path | None) -> None:
    case = load_case(path if path else copy.deepcopy(KITCHEN_SINK), today=TODAY)
    bundle = case_to_bundle(case)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types.count("Patient") == 1
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])


def test_results_carry_loinc_and_ucum() -> None:
    case = load_case(ROOT / "examples" / "aps-three-losses.yaml", today=TODAY)
    obs = [
        e["resource"]
        for e in case_to_bundle(case)["entry"]
        if e["resource"]["resourceType"] == "Observation"
    ]
    acl = next(o for o in obs if any(c.get("code") == "3181-5" for c in o["code"]["coding"]))
    assert acl["valueQuantity"] == {
        "value": 18.0,
        "unit": "GPL",
        "system": "http://unitsofmeasure.org",
        "code": "[GPL'U]",
    }
    la = next(o for o in obs if any(c.get("code") == "3282-1" for c in o["code"]["coding"]))
    assert la["valueCodeableConcept"]["coding"][0]["system"] == SNOMED


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{i:012d}", "resource": r}
            for i, r in enumerate(resources)
        ],
    }


PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1990-01-01"}
SUBJ = {"reference": "Patient/p1"}


def _obs(rid: str, loinc: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": SUBJ,
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "effectiveDateTime": "2026-10-01",
        **value,
    }


def test_ehr_style_bundle_is_read_and_the_rest_reported() -> None:
    bundle = _bundle(
        PATIENT,
        _obs(
            "tsh",
            "3016-3",
            valueQuantity={
                "value": 5.1,
                "unit": "mIU/L",
                "system": "http://unitsofmeasure.org",
                "code": "m[IU]/L",
            },
        ),
        _obs(
            "hcg",
            "21198-7",
            valueQuantity={"value": 900, "system": "http://unitsofmeasure.org", "code": "m[IU]/mL"},
        ),
        _obs(
            "la",
            "3282-1",
            valueCodeableConcept={
                "coding": [{"system": SNOMED, "code": "10828004", "display": "Positive"}]
            },
        ),
        _obs("chol", "2093-3", valueQuantity={"value": 5, "unit": "mmol/L"}),
        _obs("acl-lt", "3181-5", valueQuantity={"value": 5, "comparator": "<", "unit": "GPL"}),
        _obs("nodate", "2839-9", valueQuantity={"value": 30, "unit": "nmol/L"})
        | {"effectiveDateTime": None},
        _obs(
            "preg",
            "82810-3",
            valueCodeableConcept={"coding": [{"system": SNOMED, "code": "77386006"}]},
        ),
        _obs("crl", "11957-8", valueQuantity={"value": 0.6, "unit": "cm"})
        | {"effectiveDateTime": "2026-11-01"},
        _obs("misc-count", "11614-5", valueInteger=3),
        {
            "resourceType": "Condition",
            "id": "aps",
            "subject": SUBJ,
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "D68.61"}]},
        },
        {
            "resourceType": "Condition",
            "id": "m1",
            "subject": SUBJ,
            "code": {"coding": [{"system": SNOMED, "code": "19169002"}]},
            "onsetDateTime": "2024-03-01",
            "extension": [
                {
                    "url": "https://rplcare.org/fhir/StructureDefinition/"
                    "gestational-age-at-outcome",
                    "valueQuantity": {"value": 8, "unit": "wk", "code": "wk"},
                }
            ],
        },
        {
            "resourceType": "Condition",
            "id": "m2",
            "subject": SUBJ,
            "code": {"coding": [{"system": SNOMED, "code": "19169002"}]},
        },
        {
            "resourceType": "Condition",
            "id": "rpl",
            "subject": SUBJ,
            "code": {"coding": [{"system": SNOMED, "code": "102878001"}]},
        },
        {
            "resourceType": "Condition",
            "id": "hypo-old",
            "subject": SUBJ,
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "resolved",
                    }
                ]
            },
            "code": {"coding": [{"system": SNOMED, "code": "40930008"}]},
        },
        {
            "resourceType": "MedicationStatement",
            "id": "cyclogest",
            "status": "active",
            "subject": SUBJ,
            "medicationCodeableConcept": {"text": "Cyclogest 400 mg pessary"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "asp",
            "status": "active",
            "intent": "order",
            "subject": SUBJ,
            "medicationCodeableConcept": {"text": "Aspirin 75 mg tablets"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "prog",
            "status": "active",
            "intent": "order",
            "subject": SUBJ,
            "medicationCodeableConcept": {"text": "Progesterone"},
        },
        {
            "resourceType": "MedicationStatement",
            "id": "old",
            "status": "completed",
            "subject": SUBJ,
            "medicationCodeableConcept": {"text": "metformin"},
        },
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        },
        _obs("other", "3016-3", valueQuantity={"value": 1, "unit": "mIU/L"})
        | {"subject": {"reference": "Patient/someone-else"}},
    )
    result = import_bundle(bundle, today=TODAY)
    case = load_case(result.case, today=TODAY)
    assert case.id == "p1"
    assert [r.code for r in case.results] == [
        "tsh",
        "hcg",
        "lupus_anticoagulant",
        "anticardiolipin_igg",
    ]
    assert case.results[1].unit == "mIU/mL"
    assert case.patient.conditions == ["antiphospholipid_syndrome"]
    assert case.patient.medications == ["low_dose_aspirin"]
    assert case.current_pregnancy is not None
    assert case.current_pregnancy.treatments == ["vaginal_progesterone"]
    assert case.current_pregnancy.scans[0].crl_mm == 6.0
    # m1 (8 weeks), m2 (19169002 without GA or date: kept, GA unknown, first trimester by its
    # code), and one more loss that the spontaneous-abortion count (3) gives without detail
    assert [(p.outcome, bool(p.ga_unknown), p.trimester) for p in case.pregnancies] == [
        ("miscarriage", True, None),
        ("miscarriage", False, None),
        ("miscarriage", True, "first"),
    ]
    assert any("counts 3, the record details 2" in n for n in result.notes)
    why = {row["id"]: row["why"] for row in result.unmapped}
    assert set(why) == {
        "chol",
        "nodate",
        "rpl",
        "hypo-old",
        "prog",
        "old",
        "e1",
        "other",
    }
    # issue 15 §2: valueQuantity.comparator is read as the lab sent it (a bound, not a value)
    [acl] = [r for r in case.results if r.code == "anticardiolipin_igg"]
    assert (acl.comparator, acl.value, acl.unit, acl.si) == ("<", 5, "GPL", None)
    assert "derived" in why["rpl"]
    assert "route" in why["prog"]
    assert "another patient" in why["other"]
    for row in result.unmapped:
        assert set(row) == {"resource", "id", "code", "why"}
    chol = next(r for r in result.unmapped if r["id"] == "chol")
    assert chol["code"] == f"{LOINC}|2093-3"


def test_invalid_fhir_is_refused_with_paths() -> None:
    bad = _bundle(
        PATIENT,
        _obs("x", "3016-3", valueQuantity={"value": "high"}),
        {"resourceType": "Observation", "id": "y", "code": {"text": "no status"}},
    )
    with pytest.raises(CaseError) as info:
        import_bundle(bad)
    paths = [p for p, _ in info.value.problems]
    assert "entry[1].resource.valueQuantity.value" in paths
    assert any(p.startswith("entry[2].resource") for p in paths)


def test_patient_choice() -> None:
    two = _bundle(PATIENT, PATIENT | {"id": "p2"})
    with pytest.raises(CaseError, match="2 Patients"):
        import_bundle(two)
    assert import_bundle(two, patient_id="p2").case["id"] == "p2"
    with pytest.raises(CaseError, match="no Patient"):
        import_bundle(_bundle(_obs("x", "3016-3", valueQuantity={"value": 1, "unit": "mIU/L"})))


def test_cds_hot_path_mapping_overrides_assessed_on() -> None:
    case = load_case(ROOT / "examples" / "aps-three-losses.yaml", today=TODAY)
    entries = [(e["fullUrl"], e["resource"]) for e in case_to_bundle(case)["entry"]]
    mapped = case_from_entries(entries, patient_id="example-aps", assessed_on=TODAY)
    assert mapped.case["assessed_on"] == TODAY.isoformat()
    assert mapped.sources["results[0]"].startswith("Observation/")


def test_import_fhir_command(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert case_to_fhir(ROOT / "examples" / "thyroid-two-losses.yaml", TODAY, out=out) == 0
    src = tmp_path / "b.json"
    src.write_text(out.getvalue())
    target = tmp_path / "case.yaml"
    assert import_fhir(src, None, target, TODAY, out=io.StringIO(), err=err) == 0
    assert err.getvalue() == ""
    original = load_case(ROOT / "examples" / "thyroid-two-losses.yaml", today=TODAY)
    assert dump(load_case(yaml.safe_load(target.read_text()), today=TODAY)) == dump(original)

    bundle = json.loads(out.getvalue())
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:00000000-0000-0000-0000-00000000ffff",
            "resource": {
                "resourceType": "Encounter",
                "id": "enc",
                "status": "finished",
                "class": {"code": "AMB"},
            },
        }
    )
    src.write_text(json.dumps(bundle))
    out2, err2 = io.StringIO(), io.StringIO()
    assert import_fhir(src, None, None, TODAY, out=out2, err=err2) == 0
    assert "unmapped: Encounter/enc" in err2.getvalue()
    assert out2.getvalue().startswith("format: rplcare.case/1")


def test_import_fhir_command_errors(tmp_path: Path) -> None:
    err = io.StringIO()
    missing = tmp_path / "none.json"
    assert import_fhir(missing, None, None, TODAY, out=io.StringIO(), err=err) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(_bundle(PATIENT, _obs("x", "3016-3", valueQuantity={"value": "high"})))
    )
    err = io.StringIO()
    out = io.StringIO()
    assert import_fhir(bad, None, None, TODAY, out=out, err=err) == 2
    assert out.getvalue() == ""
    assert "entry[1].resource.valueQuantity.value: " in err.getvalue()
    # valid FHIR, a patient the case cannot hold: the problem names the resource it came from
    old = _bundle({**PATIENT, "birthDate": "1930-01-01"})
    bad.write_text(json.dumps(old))
    err = io.StringIO()
    assert import_fhir(bad, None, None, TODAY, out=io.StringIO(), err=err) == 2
    assert "patient.birth_date: " in err.getvalue()
    assert "(from Patient/p1)" in err.getvalue()
    # data after the assessment date is left out and said so, never a rejected chart
    future = _bundle(
        PATIENT,
        _obs("f", "3016-3", valueQuantity={"value": 1, "unit": "mIU/L"})
        | {"effectiveDateTime": "2030-01-01"},
    )
    bad.write_text(json.dumps(future))
    err = io.StringIO()
    out = io.StringIO()
    assert import_fhir(bad, None, None, TODAY, out=out, err=err) == 0
    assert "results" not in yaml.safe_load(out.getvalue())
    assert f"note: left out 1 resource dated after {TODAY}" in err.getvalue()
    # one result the case model refuses is left out with its reason; the rest is read
    implausible = _bundle(
        PATIENT,
        _obs("neg", "3016-3", valueQuantity={"value": -4, "unit": "mIU/L"}),
        _obs("ok", "3016-3", valueQuantity={"value": 2.1, "unit": "mIU/L"}),
    )
    bad.write_text(json.dumps(implausible))
    err = io.StringIO()
    out = io.StringIO()
    assert import_fhir(bad, None, None, TODAY, out=out, err=err) == 0
    assert [r["value"] for r in yaml.safe_load(out.getvalue())["results"]] == [2.1]
    assert "unmapped: Observation/neg" in err.getvalue()
    assert "not a readable case value: results[0].value" in err.getvalue()


def test_local_test_code_only_for_tests_without_loinc() -> None:
    case = load_case(
        {"results": [{"test": "karyotype_female", "value": "46,XX", "date": "2026-01-01"}]},
        today=TODAY,
    )
    obs = case_to_bundle(case)["entry"][1]["resource"]
    assert obs["code"]["coding"] == [
        {
            "system": CS_TEST,
            "code": "karyotype_female",
            "display": "karyotype of the genetic mother (egg source)",
        }
    ]


def test_docs_list_every_code_and_extension() -> None:
    doc = (ROOT / "docs" / "fhir-mapping.md").read_text(encoding="utf-8")
    for c in all_codes():
        assert f"`{c.code}`" in doc, c
    for url in EXTENSIONS:
        assert url in doc, url


# --------------------------------------------------------------------------------------------
# Results, references and shapes as labs and EHRs send them (issue 15 §2)
# --------------------------------------------------------------------------------------------


def test_ehr_result_shapes_are_read() -> None:
    oid = "urn:oid:2.16.840.1.113883.6.1"  # LOINC written as its OID
    bundle = _bundle(
        PATIENT,
        # LOINC as OID, subject as a versioned absolute URL
        _obs("tsh-oid", "3016-3", valueQuantity={"value": 2.5, "unit": "mIU/L"})
        | {
            "code": {"coding": [{"system": oid, "code": "3016-3"}]},
            "subject": {"reference": "https://ehr.example.org/fhir/Patient/p1/_history/3"},
        },
        # no effective time: issued is the date; subject by identifier only
        {
            "resourceType": "Observation",
            "id": "prl-issued",
            "status": "final",
            "subject": {"identifier": {"system": "urn:mrn", "value": "123"}},
            "code": {"coding": [{"system": LOINC, "code": "2842-3"}]},
            "issued": "2026-10-02T08:00:00+13:00",
            "valueQuantity": {"value": 12, "unit": "ng/mL"},
        },
        # LOINC answer code for a qualitative result
        _obs(
            "la-answer",
            "3282-1",
            valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA6577-6"}]},
        ),
        # a panel whose components are tests rplcare reads
        _obs("thyroid-panel", "24348-5")
        | {
            "component": [
                {
                    "code": {"coding": [{"system": LOINC, "code": "3016-3"}]},
                    "valueQuantity": {"value": 3.1, "unit": "mIU/L"},
                }
            ]
        },
        # a report with a contained Observation and no date of its own on it
        {
            "resourceType": "DiagnosticReport",
            "id": "rep",
            "status": "final",
            "subject": SUBJ,
            "code": {"text": "HbA1c"},
            "effectiveDateTime": "2026-10-03",
            "contained": [
                {
                    "resourceType": "Observation",
                    "id": "a1c",
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": "4548-4"}]},
                    "valueQuantity": {"value": 5.4, "unit": "%"},
                }
            ],
            "result": [{"reference": "#a1c"}],
        },
        # preliminary then final of one test at one time: the final is read
        _obs("p-pre", "2839-9", valueQuantity={"value": 30, "unit": "nmol/L"})
        | {"status": "preliminary"},
        _obs("p-final", "2839-9", valueQuantity={"value": 32, "unit": "nmol/L"}),
        # urine hCG: recognised and reported with its reason
        _obs(
            "uhcg",
            "2106-3",
            valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA6576-8"}]},
        ),
        # medicationReference to a contained Medication and to one in the Bundle
        {
            "resourceType": "MedicationStatement",
            "id": "ms-contained",
            "status": "active",
            "subject": SUBJ,
            "contained": [
                {"resourceType": "Medication", "id": "m", "code": {"text": "Levothyroxine 50 mcg"}}
            ],
            "medicationReference": {"reference": "#m"},
        },
        {"resourceType": "Medication", "id": "met", "code": {"text": "Metformin 500 mg"}},
        {
            "resourceType": "MedicationStatement",
            "id": "ms-bundle",
            "status": "active",
            "subject": {"reference": "urn:uuid:00000000-0000-0000-0000-000000000001"},
            "medicationReference": {"reference": "Medication/met"},
        },
    )
    bundle["entry"][0]["fullUrl"] = "urn:uuid:00000000-0000-0000-0000-000000000001"
    bundle["entry"][0]["resource"]["identifier"] = [{"system": "urn:mrn", "value": "123"}]
    result = import_bundle(bundle, today=TODAY)
    case = load_case(result.case, today=TODAY)
    got = [(r.code, r.value, r.day.isoformat()) for r in case.results]
    assert got == [
        ("tsh", 2.5, "2026-10-01"),
        ("prolactin", 12, "2026-10-02"),
        ("lupus_anticoagulant", "negative", "2026-10-01"),
        ("tsh", 3.1, "2026-10-01"),
        ("hba1c", 5.4, "2026-10-03"),
        ("progesterone", 32, "2026-10-01"),
    ]
    assert case.patient.medications == ["levothyroxine", "metformin"]
    why = {row["id"]: row["why"] for row in result.unmapped}
    assert "superseded" in why["p-pre"]
    assert "pregnancy test" in why["uhcg"]


def test_checkpoint_undoes_every_list_and_dict_a_handler_touched() -> None:
    """Rule (fhir/read.py _checkpoint/_restore): a resource that fails half-way leaves no
    half-read data; the field names are found once per reader, the values read each time."""
    from rplcare.interop.fhir.read import _checkpoint, _Reader, _restore

    rd = _Reader()
    rd.results.append(({"test": "tsh"}, "Observation/1"))
    rd.patient["age_years"] = 30
    first = _checkpoint(rd)
    rd.results.append(({"test": "tpo_antibodies"}, "Observation/2"))
    rd.patient["bmi"] = 22
    rd.sources["patient.bmi"] = "Observation/3"
    rd.notes.append("a note")
    _restore(rd, first)
    assert rd.results == [({"test": "tsh"}, "Observation/1")]
    assert rd.patient == {"age_years": 30}
    assert rd.sources == {} and rd.notes == []
    second = _checkpoint(rd)  # same reader, fields cached: still a fresh snapshot
    rd.conditions.append(("sle", "Condition/4"))
    _restore(rd, second)
    assert rd.conditions == [] and rd.results == [({"test": "tsh"}, "Observation/1")]
