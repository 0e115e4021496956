"""The type-layout reader on a process pool gives what the one-process reader gives.

Rules checked (screening/pread.py): the groups, their order, the order of each group's lines,
the marks, the statistics and the bad lines (file, line number, why) of
`read_type_layout_parallel` are those of `bulk.read_patients` (type layout), with the files cut
into several chunks and the export spread over several spill files; gzip files are read
whole; `unmarked_lines=False` only empties the lines of unmarked groups. The expected side is
the one-process reader: the rule is their equality.
"""

from __future__ import annotations

import gzip
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson
import pytest

from rplcare.interop.fhir.bulk import BulkStats, read_patients
from rplcare.screening.candidates import is_candidate_resource
from rplcare.screening.pread import read_type_layout_parallel
from rplcare.screening.relevance import is_relevant


@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(max_workers=2) as p:
        yield p


def _both(paths, pool, **kw):
    bad1: list = []
    bad2: list = []
    st1, st2 = BulkStats(), BulkStats()
    one = [
        (g.key, g.lines, g.marked)
        for g in read_patients(paths, layout="type", stats=st1, on_bad=bad1.append, **kw)
    ]
    two = [
        (g.key, g.lines, g.marked)
        for g in read_type_layout_parallel(
            paths, pool, stats=st2, on_bad=bad2.append, chunk_bytes=50_000, **kw
        )
    ]
    return (one, st1, bad1), (two, st2, bad2)


def _same_stats(a: BulkStats, b: BulkStats) -> None:
    for name in ("files", "lines", "resources", "bad_lines", "patients", "not_about_a_patient"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.by_type == b.by_type
    assert a.not_relevant == b.not_relevant


def test_parallel_reader_gives_the_same_groups_in_the_same_order(bulk_type: Path, pool) -> None:
    (one, st1, bad1), (two, st2, bad2) = _both(
        [bulk_type], pool, mark=is_candidate_resource, keep=is_relevant, bucket_bytes=300_000
    )
    assert st1.spill_files > 1
    assert len(one) == 12 and any(m for _k, _l, m in one)
    assert two == one
    _same_stats(st1, st2)
    assert bad1 == bad2 == []


def test_bad_lines_keep_their_file_and_line_across_chunks(
    bulk_type: Path, tmp_path: Path, pool
) -> None:
    """A bad line deep in a file cut into chunks, and a gzip file cut short."""
    src = bulk_type / "Observation.ndjson"
    lines = src.read_bytes().splitlines(keepends=True)
    lines[700] = b"{not json\n"
    lines[1100] = b'["a list"]\n'
    (tmp_path / "Observation.ndjson").write_bytes(b"".join(lines))
    shutil.copy(bulk_type / "Patient.ndjson", tmp_path / "Patient.ndjson")
    data = gzip.compress((bulk_type / "Condition.ndjson").read_bytes())
    (tmp_path / "Condition.ndjson.gz").write_bytes(data[: len(data) // 2])
    (one, st1, bad1), (two, st2, bad2) = _both([tmp_path], pool, mark=is_candidate_resource)
    assert two == one
    _same_stats(st1, st2)
    assert [(b.file, b.line) for b in bad2] == [(b.file, b.line) for b in bad1]
    assert [b.why for b in bad2] == [b.why for b in bad1]
    lines_of = {b.line for b in bad2 if b.file.endswith("Observation.ndjson")}
    assert lines_of == {701, 1101}  # 1-based, counted by hand from the edit above
    assert any(b.file.endswith(".gz") for b in bad2)


def test_unmarked_lines_false_only_empties_unmarked_groups(bulk_type: Path, pool) -> None:
    full = list(read_type_layout_parallel([bulk_type], pool, mark=is_candidate_resource))
    part = list(
        read_type_layout_parallel(
            [bulk_type], pool, mark=is_candidate_resource, unmarked_lines=False
        )
    )
    assert [g.key for g in part] == [g.key for g in full]
    for a, b in zip(full, part, strict=True):
        assert b.lines == (a.lines if a.marked else [])
    assert all(orjson.loads(g.lines[0])["resourceType"] == "Patient" for g in part if g.marked)
