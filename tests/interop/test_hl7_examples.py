"""The official HL7 R4 examples and three FHIR validators (npm, installed by
scripts/fhir-npm-deps.sh from tests/interop/node/package-lock.json; skipped when absent).

Rules checked (issue 15): the importer never crashes on any HL7 R4 example (it maps, or says
why it cannot, as a MappingError / CaseError); every export (case Bundle and assessment
Bundle of each example case) passes FHIR.js, the HL7 JSON schema and every error-level R4 core
invariant (tests/interop/node/validate.js reads them from the core StructureDefinitions in the
examples package: the resource's, its backbone elements', and every datatype's and Extension's
in it). The invariant evaluator agrees with the HL7 publisher: the official examples of the
resource types rplcare exports pass it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.interop.fhir import MappingError, bundle_entries, case_from_entries, case_to_bundle
from rplcare.interop.fhir.export import assessment_bundle
from rplcare.interop.fhir.read import readable_case
from rplcare.reasoning.assess import assess

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "interop" / "node"
EXAMPLES = NODE_DIR / "node_modules" / "hl7.fhir.r4.examples"
TODAY = date(2026, 11, 23)

needs_npm = pytest.mark.skipif(
    not EXAMPLES.is_dir() or shutil.which("node") is None,
    reason="npm packages not installed (run scripts/fhir-npm-deps.sh)",
)


@needs_npm
def test_importer_never_crashes_on_any_hl7_r4_example() -> None:
    files = sorted(p for p in EXAMPLES.glob("*.json") if p.name != "package.json")
    assert len(files) > 2000  # the package holds the R4 examples (5,000+ files)
    crashed: list[str] = []
    mapped = 0
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue  # not a resource (package metadata)
        try:
            m = case_from_entries(bundle_entries(data), today=TODAY)
            readable_case(m.case, m.sources, today=TODAY)
            mapped += 1
        except (MappingError, CaseError):
            pass
        except Exception as exc:  # a crash: collected, so one run lists them all
            crashed.append(f"{path.name}: {type(exc).__name__}: {exc}")
    assert crashed == []
    assert mapped > 10  # the examples with exactly one patient do map


@needs_npm
def test_exports_pass_fhirjs_json_schema_and_r4_invariants(tmp_path: Path) -> None:
    files: list[Path] = []
    for case_path in sorted((ROOT / "examples").glob("*.yaml")):
        case = load_case(case_path, today=TODAY)
        for kind, bundle in (
            ("case", case_to_bundle(case)),
            ("assessment", assessment_bundle(assess(case, today=TODAY), case)),
        ):
            out = tmp_path / f"{case_path.stem}-{kind}.json"
            out.write_text(json.dumps(bundle), encoding="utf-8")
            files.append(out)
    proc = subprocess.run(
        ["node", str(NODE_DIR / "validate.js"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=NODE_DIR,
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == len(files)
    problems = {
        Path(r["file"]).name: r["fhirjs"] + r["schema"] + r["invariants"]
        for r in rows
        if r["fhirjs"] or r["schema"] or r["invariants"]
    }
    assert problems == {}
    assert [r["unevaluated"] for r in rows] == [[]] * len(rows)  # every invariant evaluated
    # the exports' references, extensions, periods and entries were checked (R4 core keys)
    keys = {k for r in rows for k in r["keys"]}
    assert {"bdl-7", "dom-3", "ele-1", "ext-1", "ref-1", "per-1", "obs-6"} <= keys


# the resource types rplcare writes (interop/fhir/write.py and export.py)
EXPORTED = (
    "Patient",
    "Condition",
    "Procedure",
    "Observation",
    "MedicationStatement",
    "MedicationRequest",
    "ServiceRequest",
    "CarePlan",
    "DetectedIssue",
    "Provenance",
)


@needs_npm
def test_invariant_evaluator_passes_the_official_examples_of_exported_types() -> None:
    files = sorted(p for t in EXPORTED for p in EXAMPLES.glob(f"{t}-*.json"))
    assert len(files) > 100
    proc = subprocess.run(
        ["node", str(NODE_DIR / "validate.js"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        cwd=NODE_DIR,
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == len(files)
    assert {Path(r["file"]).name: r["invariants"] for r in rows if r["invariants"]} == {}
    assert sum(r["checked"] for r in rows) > 5000


@needs_npm
def test_each_validator_catches_a_broken_resource(tmp_path: Path) -> None:
    # value and dataAbsentReason together break obs-6; "bogus" breaks FHIR.js and the schema
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "resourceType": "Observation",
                "id": "x",
                "status": "final",
                "code": {"text": "a"},
                "valueString": "1",
                "dataAbsentReason": {"text": "b"},
                "bogus": 1,
            }
        ),
        encoding="utf-8",
    )
    proc = subprocess.run(
        ["node", str(NODE_DIR / "validate.js"), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=NODE_DIR,
    )
    (row,) = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert row["fhirjs"] and row["schema"]
    assert row["invariants"] == ["Observation/x obs-6"]


@needs_npm
def test_datatype_and_extension_invariants_are_checked_inside_a_bundle(tmp_path: Path) -> None:
    # a Period ending before it starts (per-1), an extension with a value and extensions
    # (ext-1), a local reference with nothing contained (ref-1): each in an entry's resource
    bad = tmp_path / "bad-bundle.json"
    bad.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "CarePlan",
                            "id": "cp",
                            "status": "active",
                            "intent": "plan",
                            "subject": {"reference": "#nobody"},
                            "period": {"start": "2026-11-23", "end": "2026-11-01"},
                            "extension": [
                                {
                                    "url": "https://rplcare.org/x",
                                    "valueString": "a",
                                    "extension": [{"url": "y", "valueString": "b"}],
                                }
                            ],
                        }
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    proc = subprocess.run(
        ["node", str(NODE_DIR / "validate.js"), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=NODE_DIR,
    )
    (row,) = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert row["invariants"] == ["CarePlan/cp ext-1", "CarePlan/cp per-1", "CarePlan/cp ref-1"]
