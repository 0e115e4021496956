"""The relevance filter (issue 14, speed of the local engine).

Rules: resources of types the FHIR→case mapping does not read (it reads Patient, Observation,
Condition, Procedure, DiagnosticReport, MedicationStatement, MedicationRequest and the
Medication they name: docs/fhir-mapping.md) are dropped as the export is read; the rows are
the same with and without the filter, in both Bulk layouts and when the type layout spills to
disk; the dropped resources are counted as read-but-not-used, not as "could not be read"; a
patient whose only resources are dropped still gets her row; a bad line of a dropped type is
still reported with file and line.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest
from tests.screening.conftest import write_ndjson

from rplcare.interop.fhir.bulk import BulkStats, read_patients
from rplcare.screening.local import screen_local
from rplcare.screening.relevance import is_relevant

DAY = date(2026, 11, 23)
# written by hand from the mapping's documentation, not read from the code under test
READ_BY_THE_MAPPING = {
    "Patient",
    "Observation",
    "Condition",
    "Procedure",
    "DiagnosticReport",
    "MedicationStatement",
    "MedicationRequest",
    "Medication",
}


def _rows(export: Path, out: Path, **kw) -> list[dict]:
    screen_local([export], out, DAY, workers=1, resume=False, **kw)
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_filter_keeps_exactly_the_types_the_mapping_reads() -> None:
    for t in READ_BY_THE_MAPPING:
        assert is_relevant({"resourceType": t})
    for t in ("Claim", "ExplanationOfBenefit", "Encounter", "Immunization", "CarePlan"):
        assert not is_relevant({"resourceType": t})


@pytest.mark.parametrize("layout", ["type", "patient"])
def test_rows_identical_with_and_without_the_filter(
    layout: str, bulk_type: Path, bulk_patient_gz: Path, tmp_path: Path
) -> None:
    export = bulk_type if layout == "type" else bulk_patient_gz
    with_filter = _rows(export, tmp_path / "a.ndjson")
    without = _rows(export, tmp_path / "b.ndjson", relevance=False)
    assert len(with_filter) == 12  # twelve Synthea bundles, one woman each
    assert with_filter == without
    assert any(r["screened"] for r in with_filter)


def test_rows_identical_when_the_type_layout_spills(bulk_type: Path, tmp_path: Path) -> None:
    spilled = _rows(bulk_type, tmp_path / "a.ndjson", bucket_bytes=256 * 1024)
    unfiltered = _rows(bulk_type, tmp_path / "b.ndjson", bucket_bytes=256 * 1024, relevance=False)
    assert spilled == unfiltered
    # spill files change the order of the patients, not their rows
    in_memory = _rows(bulk_type, tmp_path / "c.ndjson")
    by_id = sorted(spilled, key=lambda r: r["patient_id"])
    assert by_id == sorted(in_memory, key=lambda r: r["patient_id"])


def test_dropped_resources_counted_as_not_relevant_not_as_unreadable(
    bulk_type: Path, synthea_bundles: dict[str, list[dict]], tmp_path: Path
) -> None:
    expected = Counter(
        r["resourceType"]
        for resources in synthea_bundles.values()
        for r in resources
        if r["resourceType"] not in READ_BY_THE_MAPPING
    )
    st = BulkStats()
    rows = []
    out = tmp_path / "rows.ndjson"
    screen_local([bulk_type], out, DAY, workers=1, stats=st, resume=False)
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    # resources outside any patient compartment (Organization, Practitioner …) are not hers
    hers = {t: n for t, n in expected.items() if t not in ("Organization", "Practitioner")}
    for t, n in hers.items():
        assert st.not_relevant.get(t, 0) <= n
    assert st.not_relevant.get("Claim") == expected["Claim"]
    assert st.not_relevant.get("Encounter") == expected["Encounter"]
    for r in rows:
        if r["screened"] and r["not_read_count"] <= 20:
            # every unreadable resource is shown with why; nothing of a dropped type
            assert r["not_read_count"] == len(r["not_read"])
            assert not any(line.startswith(("Claim/", "Encounter/")) for line in r["not_read"])


def test_patient_with_only_dropped_resources_keeps_her_row(tmp_path: Path) -> None:
    d = tmp_path / "export"
    d.mkdir()
    write_ndjson(
        d / "Encounter.ndjson",
        [{"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/p9"}}],
    )
    groups = list(read_patients([d], layout="type", keep=is_relevant))
    assert [(g.key, g.lines) for g in groups] == [("p9", [])]
    spilled = list(read_patients([d], layout="type", keep=is_relevant, bucket_bytes=1))
    assert [(g.key, g.lines) for g in spilled] == [("p9", [])]


def test_bad_line_of_a_dropped_type_is_still_reported(tmp_path: Path) -> None:
    d = tmp_path / "export"
    d.mkdir()
    (d / "Claim.ndjson").write_bytes(b'{"resourceType":"Claim","id":"c1"\n')
    bad = []
    list(read_patients([d], layout="type", keep=is_relevant, on_bad=bad.append))
    assert [(Path(b.file).name, b.line) for b in bad] == [("Claim.ndjson", 1)]
