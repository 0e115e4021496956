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
