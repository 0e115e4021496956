"""Rule (issue 8 §5, issue 9 §3): every warning carries a field path, in the structure of the
input errors (`case.errors`: (path, message) pairs, `PATH: message` lines, `[{"path",
"message"}]` in JSON). The case reader and the whole-record checks keep warnings as pairs; the
assessment JSON lists them under `warnings_at`; the CLI prints `PATH: message`; the API returns
the pairs with the assessment.

Each warning-producing code path of src/rplcare/case/ is triggered below by a case written by
hand for it, with the path expected written by hand from the field that makes it odd; a
structural check fails when a new emission site appears in src/rplcare/case/ without a path or
without a trigger here. Assessment-level warnings (calculators, prognosis) are triggered by hand
too, and every warning of every example and of the golden corpus must carry a path that names
a part of the record.
"""

from __future__ import annotations

import ast
import gzip
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from casebuilder import TODAY, case, run
from rplcare.case.loader import load_case
from rplcare.case.model import Case

ROOT = Path(__file__).resolve().parents[2]
CASE_SRC = ROOT / "src" / "rplcare" / "case"
GOLDEN = ROOT / "tests" / "reasoning" / "golden" / "outputs.json.gz"
PATH_RE = re.compile(r"^[a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*$")


def _lmp(ga_days: int) -> str:
    return (TODAY - timedelta(days=ga_days)).isoformat()


# (name, case changes, path expected) -- one per emission site of src/rplcare/case/
CASE_TRIGGERS: list[tuple[str, dict[str, Any], str]] = [
    (
        "medication alias (patient.medications)",
        {"patient": {"age_years": 32, "medications": ["Xarelto"]}},
        "patient.medications[0]",
    ),
    (
        "mistranslation of dydrogesterone (current_pregnancy.treatments)",
        {"current_pregnancy": {"lmp": _lmp(42), "treatments": ["dextroprogesterone"]}},
        "current_pregnancy.treatments[0]",
    ),
    (
        "medication alias in draft orders (proposed.medications)",
        {"proposed": {"medications": ["enoxaparin", "Xarelto"]}},
        "proposed.medications[1]",
    ),
    (
        "ART conception without a transfer date",
        {"current_pregnancy": {"lmp": _lmp(42), "conception": "ivf"}},
        "current_pregnancy.transfer_date",
    ),
    (
        "BMI outside the plausible range",
        {"patient": {"age_years": 32, "bmi": 55}},
        "patient.bmi",
    ),
    (
        "age outside the plausible range (age given)",
        {"patient": {"age_years": 52}},
        "patient.age_years",
    ),
    (
        "age outside the plausible range (birth date given)",
        {"patient": {"birth_date": "1974-01-01"}},
        "patient.birth_date",
    ),
]


def _emission_sites() -> list[tuple[str, int, ast.Call]]:
    """Calls that add a warning in src/rplcare/case/: `_warn(...)` and `warnings.append(...)`."""
    sites = []
    for path in sorted(CASE_SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if (isinstance(f, ast.Name) and f.id == "_warn") or (
                isinstance(f, ast.Attribute)
                and f.attr == "append"
                and isinstance(f.value, ast.Name)
                and f.value.id == "warnings"
            ):
                sites.append((path.name, node.lineno, node))
    return sites


def test_every_emission_site_passes_a_path_and_has_a_trigger() -> None:
    sites = _emission_sites()
    assert sites, "no warning emission site found: the structural check is looking wrongly"
    for name, line, call in sites:
        if isinstance(call.func, ast.Name):  # _warn(info, path, message)
            assert len(call.args) == 3, f"{name}:{line}: _warn needs (info, path, message)"
        else:  # warnings.append((path, message))
            (arg,) = call.args
            assert isinstance(arg, ast.Tuple) and len(arg.elts) == 2, (
                f"{name}:{line}: a warning is a (path, message) pair"
            )
    # two _warn sites in _medications (alias, mistranslation) serve three fields: a new site
    # must come with a trigger above
    assert len(CASE_TRIGGERS) >= len(sites), (len(CASE_TRIGGERS), [s[:2] for s in sites])


@pytest.mark.parametrize(
    ("why", "changes", "path"), CASE_TRIGGERS, ids=[t[0] for t in CASE_TRIGGERS]
)
def test_case_warning_carries_its_field_path(why: str, changes: dict[str, Any], path: str) -> None:
    lines: list[str] = []
    c = load_case(case(**changes), today=TODAY, warnings=lines)
    paths = [p for p, _ in c.warning_items]
    assert path in paths, (why, c.warning_items)
    for p, message in c.warning_items:
        assert p and PATH_RE.match(p) and message, (p, message)
    # the same structure as the errors: `PATH: message` lines, [{"path", "message"}] in JSON
    assert c.warnings == [f"{p}: {m}" for p, m in c.warning_items] == lines
    a = run(case(**changes)).to_dict()
    assert {"path": path, "message": dict(c.warning_items)[path]} in a["warnings_at"]


# (name, case changes, path expected, a word of the message)
ASSESSMENT_TRIGGERS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "hCG of 0 (a negative test)",
        {
            "results": [
                {"test": "hcg", "value": 900, "unit": "IU/L", "date": "2026-11-19"},
                {"test": "hcg", "value": 0, "unit": "IU/L", "date": "2026-11-23"},
            ],
            "current_pregnancy": {"lmp": "2026-10-12"},
        },
        "results[1]",
        "negative test",
    ),
    (
        "prognosis not shown with donor eggs",
        {
            "pregnancies": [
                {"outcome": "miscarriage", "ga": g, "year": 2023 + i}
                for i, g in enumerate(["7+0", "8+0", "9+0"])
            ],
            "current_pregnancy": {
                "lmp": _lmp(45),
                "conception": "donor_egg",
                "transfer_date": (TODAY - timedelta(days=45 - 19)).isoformat(),
                "embryo_age_days": 5,
            },
        },
        "current_pregnancy.conception",
        "Brigham",
    ),
    (
        "prognosis not shown past the first trimester",
        {"current_pregnancy": {"lmp": _lmp(20 * 7), "fetuses": 1}},
        "current_pregnancy",
        "first trimester",
    ),
    (
        "prognosis outside the model's age range",
        {"patient": {"age_years": 49}},
        "patient.age_years",
        "",
    ),
    (
        "a scan without the sac size or embryo recorded",
        {
            "current_pregnancy": {
                "lmp": _lmp(35),
                "scans": [{"date": TODAY.isoformat(), "location": "intrauterine"}],
            }
        },
        "current_pregnancy.scans",
        "not recorded",
    ),
]


@pytest.mark.parametrize(
    ("why", "changes", "path", "word"), ASSESSMENT_TRIGGERS, ids=[t[0] for t in ASSESSMENT_TRIGGERS]
)
def test_assessment_warning_carries_its_field_path(
    why: str, changes: dict[str, Any], path: str, word: str
) -> None:
    d = run(case(**changes)).to_dict()
    hits = [w for w in d["warnings_at"] if w["path"] == path and word in w["message"]]
    assert hits, (why, d["warnings_at"])
    _all_have_paths(d)


def _all_have_paths(d: dict[str, Any]) -> None:
    """Every warning line has its pair, and every pair a path naming a part of the record."""
    fields = set(Case.model_fields)
    messages = {w["message"] for w in d["warnings_at"]}
    for w in d["warnings_at"]:
        assert PATH_RE.match(w["path"]), w
        assert re.split(r"[.\[]", w["path"])[0] in fields, w
    for line in d["warnings"]:
        _head, _, rest = line.partition(": ")
        assert line in messages or rest in messages, (line, d["warnings_at"])


def test_every_warning_of_the_examples_and_the_golden_corpus_has_a_path() -> None:
    """Over the examples and the golden corpus (159 cases, generated ones included)."""
    cases = json.loads(gzip.decompress(GOLDEN.read_bytes()))["cases"]
    warned = 0
    for data in cases.values():
        d = run(data).to_dict() if isinstance(data, dict) else None
        if d is None:
            continue
        _all_have_paths(d)
        warned += bool(d["warnings"])
    assert warned >= 10, warned  # the corpus does exercise the warnings


def test_cli_prints_path_colon_message(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rplcare.cli import app

    f = tmp_path / "c.json"
    f.write_text(json.dumps(case(patient={"age_years": 32, "bmi": 55})))
    out = CliRunner().invoke(app, ["assess", str(f), "--today", TODAY.isoformat()]).output
    assert "patient.bmi: 55 is outside" in out
