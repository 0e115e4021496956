"""The SQL-on-FHIR v2 conformance suite (shared/sql-on-fhir-v2-tests), every file, every test.

Rule: a runner passes a test when its rows equal `expect` (order-insensitive; the rows and
columns are the specification's, not ours) and an `expectError` test raises. Known failures
are listed in KNOWN_FAILURES with the reason and run as xfail(strict=True), so a fix shows up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rplcare.screening.viewdef import ViewError, column_names, run_view

SUITE = Path(__file__).resolve().parents[3] / "shared" / "sql-on-fhir-v2-tests" / "tests"
if not SUITE.exists():  # worktrees live beside shared/
    SUITE = Path("/work/shared/sql-on-fhir-v2-tests/tests")

#: (file, test title) -> why the runner does not pass it yet
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _cases() -> list:
    out = []
    for f in sorted(SUITE.glob("*.json")):
        data = json.loads(f.read_text())
        for t in data["tests"]:
            key = (f.name, t["title"])
            marks = []
            if key in KNOWN_FAILURES:
                marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[key], strict=True))
            out.append(
                pytest.param(data["resources"], t, id=f"{f.stem}: {t['title']}", marks=marks)
            )
    return out


def _canon(row: dict) -> str:
    return json.dumps(row, sort_keys=True)


@pytest.mark.parametrize(("resources", "test"), _cases())
def test_sql_on_fhir_v2_conformance(resources: list, test: dict) -> None:
    if "expectError" in test:
        with pytest.raises(ViewError):
            run_view(test["view"], resources)
        return
    rows = run_view(test["view"], resources)
    if "expectColumns" in test:
        assert [n for s in test["view"]["select"] for n in column_names(s)] == test["expectColumns"]
    assert sorted(map(_canon, rows)) == sorted(map(_canon, test["expect"]))
