"""`rplcare screen`, local engine: rows per patient, gaps, formats, workers, resume.

Rules: a woman with three first-trimester miscarriages meets the ESHRE 2022 definition (two
or more losses) and, with no antiphospholipid result on record, has that test as a care gap
(RCOG 2023: offer LA and aCL testing); lymphocyte immunotherapy on record is listed as advised
against (Choosing Wisely Canada 2022; ESHRE 2022); a patient without any candidate code is
listed, not assessed; the output does not depend on the number of workers or the format; a
stopped run resumes from its journal without assessing again the patients already written.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from tests.screening.conftest import export_cases
from typer.testing import CliRunner

from rplcare.cli import app
from rplcare.screening.local import screen_local
from rplcare.screening.output import journal_path
from rplcare.screening.patient import ROW_FIELDS

DAY = date(2026, 11, 23)

RPL = {
    "id": "rpl-lit",
    "assessed_on": "2026-11-01",
    "patient": {"age_years": 35, "medications": ["lymphocyte_immunotherapy"]},
    "pregnancies": [
        {"outcome": "miscarriage", "ga": "7+0", "year": 2022},
        {"outcome": "miscarriage", "ga": "8+0", "year": 2024},
        {"outcome": "miscarriage", "ga": "9+0", "year": 2025},
    ],
}
ONE_LOSS = {
    "id": "one-loss",
    "assessed_on": "2026-11-01",
    "patient": {"age_years": 30},
    "pregnancies": [{"outcome": "miscarriage", "ga": "8+0", "year": 2025}],
}
#: two patients with no candidate code: a man with diabetes, a woman with a TSH result
OTHERS = [
    {"resourceType": "Patient", "id": "man1", "gender": "male", "birthDate": "1970-01-01"},
    {
        "resourceType": "Condition",
        "id": "dm",
        "subject": {"reference": "Patient/man1"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
    },
    {"resourceType": "Patient", "id": "w2", "gender": "female", "birthDate": "1990-01-01"},
    {
        "resourceType": "Observation",
        "id": "tsh",
        "status": "final",
        "subject": {"reference": "Patient/w2"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]},
        "valueQuantity": {"value": 2.1, "unit": "mIU/L"},
    },
]


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return export_cases(tmp_path / "export", [RPL, ONE_LOSS], OTHERS)


def _rows(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _by_case(rows: list[dict], export: Path) -> dict[str, dict]:
    """Rows keyed by the case id of the patient (the Patient resource names it)."""
    names = {}
    for line in (export / "Patient.ndjson").read_bytes().splitlines():
        p = orjson.loads(line)
        case_id = next((i["value"] for i in p.get("identifier") or []), p["id"])
        names[p["id"]] = case_id
    return {names[r["patient_id"]]: r for r in rows}


def test_rows_classification_gaps_and_advised_against(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.ndjson"
    s = screen_local([export], out, DAY)
    rows = _by_case(_rows(out), export)
    assert set(rows) == {"rpl-lit", "one-loss", "man1", "w2"}
    r = rows["rpl-lit"]
    assert r["candidate"] and r["screened"] and r["error"] is None
    assert (r["definition"], r["rpl"], r["losses_counted"]) == ("eshre2022", True, 3)
    assert r["pregnant"] is False
    assert "test.antiphospholipid_antibodies" in {g["id"] for g in r["gaps"]}
    assert r["advised_against"] == ["treat.lymphocyte_immunotherapy"]
    one = rows["one-loss"]
    assert one["screened"] and one["rpl"] is False and one["losses_counted"] == 1
    assert "test.antiphospholipid_antibodies" not in {g["id"] for g in one["gaps"]}
    for pid in ("man1", "w2"):
        assert rows[pid]["candidate"] is False and rows[pid]["screened"] is False
    assert (s.patients_read, s.candidates, s.screened) == (4, 2, 2)
    assert s.gaps["test.antiphospholipid_antibodies"] == 1
    assert s.advised_against == {"treat.lymphocyte_immunotherapy": 1}
    assert not journal_path(out).exists()


def test_only_candidates(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.ndjson"
    screen_local([export], out, DAY, only_candidates=True)
    assert set(_by_case(_rows(out), export)) == {"rpl-lit", "one-loss"}


def test_two_workers_give_the_same_rows_as_one(export: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    screen_local([export], a, DAY, workers=1)
    screen_local([export], b, DAY, workers=2)
    assert _rows(a) == _rows(b)


def test_formats_hold_the_same_rows(export: Path, tmp_path: Path) -> None:
    nd, cs, pa = tmp_path / "r.ndjson", tmp_path / "r.csv", tmp_path / "r.parquet"
    for p in (nd, cs, pa):
        screen_local([export], p, DAY)
    rows = _rows(nd)
    assert pq.read_table(pa).to_pylist() == rows
    with open(cs, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == list(ROW_FIELDS)
    assert [t["patient_id"] for t in table] == [r["patient_id"] for r in rows]
    lit = next(t for t in table if t["advised_against"])
    assert lit["advised_against"] == "treat.lymphocyte_immunotherapy"
    assert "test.antiphospholipid_antibodies:" in lit["gaps"]


def test_a_stopped_run_resumes_from_its_journal(export: Path, tmp_path: Path) -> None:
    full = tmp_path / "full.ndjson"
    screen_local([export], full, DAY)
    want = _rows(full)
    out = tmp_path / "resumed.ndjson"
    # a run stopped after two rows, the third cut off half-way
    kept = [dict(r, kb_version="from-the-journal") for r in want[:2]]
    journal_path(out).write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in kept) + orjson.dumps(want[2])[:25]
    )
    s = screen_local([export], out, DAY)
    got = _rows(out)
    assert s.resumed == 2
    assert got[:2] == kept  # not assessed again
    assert sorted(got[2:], key=str) == sorted(want[2:], key=str)


def test_cli_screen_and_its_errors(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.csv"
    res = CliRunner().invoke(
        app,
        [
            "screen",
            str(export),
            "--today",
            "2026-11-23",
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "patients read: 4" in res.output and "candidates (pre-filter): 2" in res.output
    assert "test.antiphospholipid_antibodies: 1" in res.output
    res = CliRunner().invoke(
        app,
        [
            "screen",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "x.txt"),
            "--engine",
            "hadoop",
        ],
    )
    assert res.exit_code == 2
    for part in ("PATH:", "--out:", "--engine:"):
        assert part in res.output
    assert "Traceback" not in res.output


def test_bad_line_in_screening_is_reported_and_skipped(export: Path, tmp_path: Path) -> None:
    f = export / "Condition.ndjson"
    f.write_bytes(b"oops\n" + f.read_bytes())
    err = io.StringIO()
    from rplcare.screening.commands import run_screen

    assert run_screen([export], tmp_path / "o.ndjson", DAY, workers=1, progress=False, err=err) == 0
    assert f"bad line skipped: {f}:1: not valid JSON" in err.getvalue()
    assert "bad lines skipped: 1" in err.getvalue()
