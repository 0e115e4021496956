"""The candidate pre-filter: the ViewDefinitions (run on DuckDB) and the streaming test agree.

Rules: a patient is a candidate when a Condition, Observation or Procedure of hers carries a
pregnancy, loss or RPL-relevant code of the shipped list (exact codes; ICD-10 O0x and Z37 by
prefix); codes of other systems or other meanings do not count; the SQL-on-FHIR views plus
CANDIDATES_SQL select exactly the patients the per-resource test selects.
"""

from __future__ import annotations

import duckdb
import pytest

from rplcare.interop.fhir.bulk import read_patients
from rplcare.screening.candidates import (
    CANDIDATE_TYPES,
    CANDIDATES_SQL,
    code_list,
    is_candidate_resource,
    load_view,
)
from rplcare.screening.viewdef import run_view, to_duckdb, validate_view

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"


def _res(rtype: str, system: str, code: str, pid: str = "p") -> dict:
    return {
        "resourceType": rtype,
        "id": f"{rtype}-{code}",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": system, "code": code}]},
    }


# (resource type, system, code, candidate?) written by hand from the code list's sources
TABLE = [
    ("Condition", SCT, "19169002", True),  # miscarriage in first trimester (Synthea)
    ("Condition", SCT, "35999006", True),  # blighted ovum
    ("Condition", SCT, "72892002", True),  # normal pregnancy (Synthea's episode)
    ("Condition", SCT, "102878001", True),  # recurrent miscarriage
    ("Procedure", SCT, "386394001", True),  # pregnancy termination care
    ("Condition", ICD, "O03.9", True),  # spontaneous abortion, ICD-10-CM with the dot
    ("Condition", ICD, "O039", True),  # … and without
    ("Condition", ICD, "O02.1", True),  # missed abortion
    ("Condition", ICD, "Z37.1", True),  # single stillbirth
    ("Condition", ICD, "O99.0", False),  # anaemia in pregnancy: not in O00–O09
    ("Observation", LOINC, "82810-3", True),  # pregnancy status
    ("Observation", LOINC, "11996-6", True),  # [#] pregnancies
    ("Condition", SCT, "44054006", False),  # type 2 diabetes
    ("Observation", LOINC, "3016-3", False),  # TSH
    ("Condition", "http://example.org/local", "19169002", False),  # right code, wrong system
    ("MedicationRequest", SCT, "19169002", False),  # not a type the views read
]


@pytest.mark.parametrize(("rtype", "system", "code", "want"), TABLE)
def test_candidate_codes_table(rtype: str, system: str, code: str, want: bool) -> None:
    assert is_candidate_resource(_res(rtype, system, code)) is want


def test_shipped_views_are_valid() -> None:
    for name in [*CANDIDATE_TYPES.values(), "rpl_patients"]:
        assert validate_view(load_view(name)) == [], name


def _views_select(resources: list[dict]) -> set[str]:
    con = duckdb.connect()
    rows = []
    for rtype, name in CANDIDATE_TYPES.items():
        view = load_view(name)
        rows += run_view(view, [r for r in resources if r["resourceType"] == rtype])
    to_duckdb(con, "codes", load_view("rpl_condition_codes"), rows)
    con.execute("CREATE TABLE candidate_codes (system VARCHAR, code VARCHAR, prefix BOOLEAN)")
    con.executemany("INSERT INTO candidate_codes VALUES (?, ?, ?)", code_list().rows())
    try:
        return {r[0] for r in con.execute(CANDIDATES_SQL).fetchall()}
    finally:
        con.close()


def test_views_on_duckdb_select_the_table_rows() -> None:
    resources = [_res(t, s, c, pid=f"p{i}") for i, (t, s, c, _) in enumerate(TABLE)]
    want = {f"p{i}" for i, (_t, _s, _c, w) in enumerate(TABLE) if w}
    assert _views_select(resources) == want


def test_views_and_streaming_test_agree_on_synthea(bulk_type, synthea_bundles) -> None:
    resources = [r for res in synthea_bundles.values() for r in res]
    by_views = _views_select(resources)
    streamed = {g.key for g in read_patients([bulk_type], mark=is_candidate_resource) if g.marked}
    # every Synthea sample woman has a coded first-trimester miscarriage (19169002; README)
    assert by_views == streamed == set(synthea_bundles)
