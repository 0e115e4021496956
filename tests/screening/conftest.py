"""Shared material for the screening tests: the Synthea samples as Bulk exports (both layouts)."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT.parent / "shared" / "fhir-samples" / "synthea"
if not SYNTHEA.exists():
    SYNTHEA = Path("/work/shared/fhir-samples/synthea")
sys.path.insert(0, str(ROOT / "scripts"))

import synthea_to_bulk  # noqa: E402


@pytest.fixture(scope="session")
def synthea_bundles() -> dict[str, list[dict]]:
    """Patient id -> her resources, read straight from each bundle (one woman per bundle)."""
    out = {}
    for p in synthea_to_bulk.iter_bundles(SYNTHEA):
        resources = synthea_to_bulk.bundle_resources(p)
        pid = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        out[pid] = resources
    return out


@pytest.fixture(scope="session")
def bulk_type(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bulk-type")
    synthea_to_bulk.main([str(SYNTHEA), str(out)])
    return out


@pytest.fixture(scope="session")
def bulk_patient_gz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bulk-patient")
    synthea_to_bulk.main([str(SYNTHEA), str(out), "--layout", "patient", "--gzip"])
    return out


def write_ndjson(path: Path, resources: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    return path


def export_cases(tmp: Path, cases: list[dict], extra: list[dict] | None = None) -> Path:
    """rplcare's own FHIR export of hand-written cases (+ extra resources) as a Bulk export
    in the type layout, `urn:uuid:` references made `Type/id`."""
    from rplcare.case.loader import load_case
    from rplcare.interop.fhir.write import case_to_bundle

    by_type: dict[str, list[dict]] = {}
    for c in cases:
        bundle = case_to_bundle(load_case(c))
        urls = {
            e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in bundle["entry"]
            if e.get("fullUrl")
        }
        text = orjson.dumps(bundle).decode()
        for u, ref in urls.items():
            text = text.replace(f'"{u}"', f'"{ref}"')
        for e in orjson.loads(text)["entry"]:
            by_type.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    for r in extra or []:
        by_type.setdefault(r["resourceType"], []).append(r)
    tmp.mkdir(parents=True, exist_ok=True)
    for t, res in by_type.items():
        write_ndjson(tmp / f"{t}.ndjson", res)
    return tmp
