"""The Spark engine (PySpark local[2], no extra JARs) gives the local engine's rows.

Rule: both engines call the same per-patient function; the Spark engine pre-filters with the
SQL-on-FHIR ViewDefinitions in Spark SQL, the local engine with the per-resource test, so the
same rows (in any order) also show the two pre-filters agree. One Spark session for the module
(its start is most of the cost).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from tests.screening.conftest import export_cases
from tests.screening.test_screen import ONE_LOSS, OTHERS, RPL

from rplcare.screening.local import screen_local

if shutil.which("java") is None:
    pytest.skip("no Java runtime (scripts/system-deps.sh installs it)", allow_module_level=True)

DAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def spark():
    from rplcare.screening.spark import spark_session

    s = spark_session("local[2]")
    yield s
    s.stop()


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: r["patient_id"])


def _ndjson(p: Path) -> list[dict]:
    return [orjson.loads(line) for line in p.read_bytes().splitlines()]


def test_spark_and_local_engines_give_identical_rows(
    spark, tmp_path: Path, bulk_type: Path
) -> None:
    from rplcare.screening.spark import screen_spark

    hand = export_cases(tmp_path / "hand", [RPL, ONE_LOSS], OTHERS)
    (hand / "Condition.ndjson").write_bytes(b"{broken\n" + (hand / "Condition.ndjson").read_bytes())
    bad: list = []
    for i, (src, day) in enumerate([(hand, DAY), (bulk_type, date(2020, 1, 1))]):
        local_out, spark_out = tmp_path / f"l{i}.ndjson", tmp_path / f"s{i}.parquet"
        ls = screen_local([src], local_out, day)
        ss = screen_spark([src], spark_out, day, spark=spark, on_bad=bad.append)
        want = _ndjson(local_out)
        assert want, "no rows to compare"
        assert _sorted(pq.read_table(spark_out).to_pylist()) == _sorted(want)
        assert ss.to_json() == ls.to_json()
    assert [(b.file, b.line) for b in bad] == [(str(hand / "Condition.ndjson"), 1)]


def test_spark_only_candidates_to_ndjson(spark, tmp_path: Path) -> None:
    from rplcare.screening.spark import screen_spark

    hand = export_cases(tmp_path / "hand", [RPL, ONE_LOSS], OTHERS)
    out = tmp_path / "c.ndjson"
    s = screen_spark([hand], out, DAY, spark=spark, only_candidates=True)
    rows = _ndjson(out)
    assert len(rows) == 2 and all(r["candidate"] for r in rows)
    assert (s.patients_read, s.candidates, s.screened) == (4, 2, 2)


def test_spark_relevance_filter_changes_no_row(spark, tmp_path: Path, bulk_type: Path) -> None:
    """Rule: the Spark engine drops the types the mapping does not read before the shuffle
    (the local engine's `relevance.is_relevant`); the rows are those of the local engine and
    of Spark without the filter, and a patient known only by resources of such types
    (here an Encounter of "ghost", who has no Patient resource) still has her row. The
    code-test pre-filter (`prefilter="codes"`) gives the same rows as the views."""
    from rplcare.screening.spark import screen_spark

    src = tmp_path / "src"
    shutil.copytree(bulk_type, src)
    ghost = {
        "resourceType": "Encounter",
        "id": "e-ghost",
        "subject": {"reference": "Patient/ghost"},
    }
    with open(src / "Encounter.ndjson", "ab") as fh:
        fh.write(orjson.dumps(ghost) + b"\n")
    day = date(2020, 1, 1)
    screen_local([src], tmp_path / "l.ndjson", day)
    want = _sorted(_ndjson(tmp_path / "l.ndjson"))
    assert "ghost" in {r["patient_id"] for r in want}
    for flag, prefilter in ((True, "views"), (False, "views"), (True, "codes")):
        out = tmp_path / f"s-{flag}-{prefilter}.ndjson"
        screen_spark([src], out, day, spark=spark, relevance=flag, prefilter=prefilter)
        assert _sorted(_ndjson(out)) == want, (flag, prefilter)
