"""`rplcare import-fhir` on Bulk output: one case per patient, bad lines reported and skipped.

Rules: a folder or NDJSON files are read as a Bulk export; every case written loads with
`load_case`; `--patient` picks one; a bad line is reported `file:line` and the rest is imported;
both layouts give the same cases.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import orjson
import yaml
from tests.screening.conftest import export_cases as _export
from typer.testing import CliRunner

from rplcare.case.loader import load_case
from rplcare.cli import app
from rplcare.interop.fhir.bulk_import import import_bulk

TODAY_S = "2026-11-23"


CASES = [
    {
        "id": "a",
        "assessed_on": "2026-11-01",
        "patient": {"age_years": 34},
        "pregnancies": [
            {"outcome": "miscarriage", "ga": "8+0", "year": 2024},
            {"outcome": "miscarriage", "ga": "9+0", "year": 2025},
        ],
    },
    {
        "id": "b",
        "assessed_on": "2026-11-01",
        "patient": {"age_years": 29},
        "pregnancies": [{"outcome": "live_birth", "ga": "39+0", "year": 2023}],
    },
]


def test_import_fhir_folder_writes_one_valid_case_per_patient(tmp_path: Path) -> None:
    src = _export(tmp_path / "export", CASES)
    out_dir = tmp_path / "cases"
    err = io.StringIO()
    assert import_bulk([src], None, out_dir, None, err=err) == 0, err.getvalue()
    files = sorted(out_dir.glob("*.yaml"))
    assert len(files) == 2
    ids = set()
    for f in files:
        case = load_case(yaml.safe_load(f.read_text()))
        ids.add(case.id)
    assert ids == {"a", "b"}
    assert "2 patient(s) imported, 0 not, 0 bad line(s)" in err.getvalue()


def test_import_fhir_bad_line_is_reported_and_the_rest_imported(tmp_path: Path) -> None:
    src = _export(tmp_path / "export", CASES)
    cond = src / "Condition.ndjson"
    lines = cond.read_bytes().splitlines(keepends=True)
    cond.write_bytes(lines[0] + b'{"resourceType": "Condition", broken\n' + b"".join(lines[1:]))
    result = CliRunner().invoke(app, ["import-fhir", str(src), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert f"{cond}:2: not valid JSON" in result.output
    assert len(list((tmp_path / "out").glob("*.yaml"))) == 2


def test_import_fhir_patient_option_picks_one(tmp_path: Path) -> None:
    src = _export(tmp_path / "export", CASES)
    pid = next(
        orjson.loads(line)["id"]
        for line in (src / "Patient.ndjson").read_bytes().splitlines()
        if b'"a"' in line
    )
    out = io.StringIO()
    assert import_bulk([src], pid, None, None, out=out, err=io.StringIO()) == 0
    assert yaml.safe_load(out.getvalue())["id"] == "a"
    err = io.StringIO()
    assert import_bulk([src], "nobody", None, None, out=io.StringIO(), err=err) == 2
    assert "no Patient with id 'nobody'" in err.getvalue()


def test_import_fhir_several_patients_without_output_folder_is_an_error(tmp_path: Path) -> None:
    src = _export(tmp_path / "export", CASES)
    out, err = io.StringIO(), io.StringIO()
    assert import_bulk([src], None, None, None, out=out, err=err) == 2
    assert "give -o FOLDER or --patient ID" in err.getvalue()
    assert out.getvalue() == ""


def test_import_fhir_synthea_both_layouts_give_the_same_cases(
    tmp_path: Path, bulk_type: Path, bulk_patient_gz: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    day = date(2020, 1, 1)
    import_bulk([bulk_type], None, a, day, err=io.StringIO(), out=io.StringIO())
    import_bulk([bulk_patient_gz], None, b, day, err=io.StringIO(), out=io.StringIO())
    fa = {f.name: f.read_text() for f in a.glob("*.yaml")}
    fb = {f.name: f.read_text() for f in b.glob("*.yaml")}
    assert fa and fa == fb
