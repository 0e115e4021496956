"""FHIR Bulk Data in (issue 15 §4): both layouts, gzip, regrouping in bounded memory, bad lines.

Rules checked: every resource of a patient's compartment reaches her group and no other;
the Patient resource comes first; the type layout regrouped through spill files gives the same
groups as in memory; the organizeOutputBy=Patient layout is streamed as it stands; a bad line
is reported as file:line and skipped while the rest is read.
"""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.screening.conftest import write_ndjson

from rplcare.interop.fhir.bulk import BadLine, BulkStats, detect_layout, patient_key, read_patients

#: types Synthea writes outside the patient compartment (not in any patient's group)
SHARED_TYPES = {"Organization", "Practitioner"}


def _by_patient(groups) -> dict[str, Counter]:
    out = {}
    for g in groups:
        assert g.key not in out, f"patient {g.key} in two groups"
        out[g.key] = Counter((r["resourceType"], r["id"]) for r in map(orjson.loads, g.lines))
    return out


def _expected(bundles: dict[str, list[dict]]) -> dict[str, Counter]:
    return {
        pid: Counter(
            (r["resourceType"], r["id"]) for r in res if r["resourceType"] not in SHARED_TYPES
        )
        for pid, res in bundles.items()
    }


def test_type_layout_groups_every_resource_with_its_patient(bulk_type, synthea_bundles) -> None:
    st_ = BulkStats()
    groups = list(read_patients([bulk_type], stats=st_))
    assert st_.layout == "type"
    assert _by_patient(groups) == _expected(synthea_bundles)
    assert all(orjson.loads(g.lines[0])["resourceType"] == "Patient" for g in groups)
    assert st_.not_about_a_patient == sum(
        r["resourceType"] in SHARED_TYPES for res in synthea_bundles.values() for r in res
    )


def test_spill_files_give_the_same_groups_as_memory(bulk_type, synthea_bundles) -> None:
    st_ = BulkStats()
    groups = list(read_patients([bulk_type], stats=st_, bucket_bytes=300_000))
    assert st_.spill_files > 1  # the export (about 4 MB) did not fit one spill file
    assert _by_patient(groups) == _expected(synthea_bundles)
    assert all(orjson.loads(g.lines[0])["resourceType"] == "Patient" for g in groups)


def test_patient_layout_gz_is_streamed_without_regrouping(bulk_patient_gz, synthea_bundles) -> None:
    assert detect_layout(sorted(bulk_patient_gz.glob("*.ndjson.gz"))) == "patient"
    st_ = BulkStats()
    groups = list(read_patients([bulk_patient_gz], stats=st_))
    assert st_.layout == "patient" and st_.spill_files == 0
    assert st_.patients == len(synthea_bundles)
    assert _by_patient(groups) == _expected(synthea_bundles)


def test_bad_lines_are_reported_with_file_and_line_and_skipped(tmp_path: Path) -> None:
    good = [
        {"resourceType": "Patient", "id": "p1"},
        {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}},
    ]
    f = tmp_path / "Mixed.ndjson"
    f.write_bytes(
        orjson.dumps(good[0])
        + b"\n"  # line 1
        + b"{not json\n"  # line 2: bad
        + b"\n"  # line 3: blank, skipped silently
        + b"[1, 2]\n"  # line 4: not a resource
        + b'{"id": "x"}\n'  # line 5: no resourceType
        + orjson.dumps(good[1])
        + b"\n"  # line 6
    )
    bad: list[BadLine] = []
    groups = list(read_patients([f], on_bad=bad.append, layout="type"))
    assert [(b.file, b.line) for b in bad] == [(str(f), 2), (str(f), 4), (str(f), 5)]
    assert str(bad[0]).startswith(f"{f}:2: not valid JSON")
    assert _by_patient(groups) == {"p1": Counter({("Patient", "p1"): 1, ("Condition", "c1"): 1})}


def test_a_truncated_gzip_file_is_reported_and_the_others_are_read(tmp_path: Path) -> None:
    whole = b"".join(
        orjson.dumps(
            {
                "resourceType": "Observation",
                "id": f"o{i}",
                "subject": {"reference": "Patient/p1"},
                "note": [{"text": "x" * 200}],
            }
        )
        + b"\n"
        for i in range(400)
    )
    cut = gzip.compress(whole)[:-300]
    (tmp_path / "Observation.ndjson.gz").write_bytes(cut)
    write_ndjson(tmp_path / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    bad: list[BadLine] = []
    groups = list(read_patients([tmp_path], on_bad=bad.append))
    assert len(bad) == 1 and "cannot read the file further" in bad[0].why
    assert bad[0].file.endswith("Observation.ndjson.gz")
    assert [g.key for g in groups] == ["p1"]


def test_references_name_the_patient_in_every_usual_form() -> None:
    table = [
        ({"resourceType": "Patient", "id": "a"}, "a"),
        ({"resourceType": "Condition", "subject": {"reference": "Patient/a"}}, "a"),
        ({"resourceType": "Claim", "patient": {"reference": "Patient/a"}}, "a"),
        ({"resourceType": "Coverage", "beneficiary": {"reference": "Patient/a"}}, "a"),
        (
            {"resourceType": "Condition", "subject": {"reference": "http://x.org/fhir/Patient/a"}},
            "a",
        ),
        ({"resourceType": "Condition", "subject": {"reference": "Patient/a/_history/3"}}, "a"),
        ({"resourceType": "Provenance", "target": [{"reference": "Patient/a"}]}, "a"),
        ({"resourceType": "Condition", "subject": {"reference": "Group/g"}}, None),
        ({"resourceType": "Organization", "id": "o"}, None),
        ({"resourceType": "Medication", "id": "m"}, None),
    ]
    for res, want in table:
        assert patient_key(res) == want, res


def test_medications_referenced_by_a_patient_join_her_group(tmp_path: Path) -> None:
    write_ndjson(
        tmp_path / "Patient.ndjson",
        [{"resourceType": "Patient", "id": "p1"}, {"resourceType": "Patient", "id": "p2"}],
    )
    write_ndjson(
        tmp_path / "Medication.ndjson",
        [{"resourceType": "Medication", "id": "m1"}, {"resourceType": "Medication", "id": "m2"}],
    )
    write_ndjson(
        tmp_path / "MedicationRequest.ndjson",
        [
            {
                "resourceType": "MedicationRequest",
                "id": "r1",
                "subject": {"reference": "Patient/p1"},
                "medicationReference": {"reference": "Medication/m2"},
            },
        ],
    )
    got = _by_patient(read_patients([tmp_path]))
    assert got["p1"] == Counter(
        {("Patient", "p1"): 1, ("MedicationRequest", "r1"): 1, ("Medication", "m2"): 1}
    )
    assert got["p2"] == Counter({("Patient", "p2"): 1})


@settings(max_examples=25, deadline=None)
@given(
    owners=st.lists(st.integers(0, 6), min_size=1, max_size=60),
    files=st.integers(1, 4),
    bucket=st.sampled_from([50, 400, 10_000_000]),
    seed=st.randoms(use_true_random=False),
)
def test_regrouping_recovers_any_assignment(tmp_path_factory, owners, files, bucket, seed) -> None:
    """Any resources of any patients in any order over any files come back by patient."""
    d = tmp_path_factory.mktemp("prop")
    resources = [{"resourceType": "Patient", "id": f"p{i}"} for i in sorted(set(owners))]
    resources += [
        {"resourceType": "Observation", "id": f"o{n}", "subject": {"reference": f"Patient/p{o}"}}
        for n, o in enumerate(owners)
    ]
    seed.shuffle(resources)
    for k in range(files):
        write_ndjson(d / f"part{k}.ndjson", resources[k::files])
    got = _by_patient(read_patients([d], layout="type", bucket_bytes=bucket))
    want: dict[str, Counter] = {}
    for r in resources:
        key = r["id"] if r["resourceType"] == "Patient" else r["subject"]["reference"][8:]
        want.setdefault(key, Counter())[(r["resourceType"], r["id"])] += 1
    assert got == want
