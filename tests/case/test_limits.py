"""Limits before parsing (issue 10 §1): size, nesting depth, list/string lengths, integer
digits and YAML alias expansion are checked on a stream before anything recursive runs; over
a limit is one `PATH: message` naming the limit (413 for size, 422 otherwise, exit 2 in the
CLI). Impossible YAML dates are reported at their path instead of raising."""

from __future__ import annotations

from pathlib import Path

import pytest

from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case, read_mapping
from rplcare.util.limits import ENV, LimitError, Limits, scan_yaml

ROOT = Path(__file__).resolve().parents[2]
NEST = 25_000  # the nesting bomb of the security test: 50 KB of brackets


def _problem(exc: CaseError) -> tuple[str, str]:
    assert len(exc.problems) == 1
    return exc.problems[0]


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * NEST + "]" * NEST,  # YAML flow sequences
        "a: " + "{b: " * NEST + "}" * NEST,  # YAML flow mappings
        "a:\n" + "- " * NEST + "x\n",  # YAML block sequences on one line
        '{"a": ' + "[" * NEST + "]" * NEST + "}",  # JSON
    ],
    ids=["yaml-flow-seq", "yaml-flow-map", "yaml-block-seq", "json"],
)
def test_nesting_bomb_is_refused_at_the_depth_limit(text):
    with pytest.raises(CaseError) as err:
        read_mapping(text)
    path, msg = _problem(err.value)
    assert path.startswith("a") and "levels" in path
    assert "nesting deeper than 64" in msg and ENV["depth"] in msg


def test_alias_bomb_is_refused_by_expanded_size():
    lol = 'a: &a ["' + "lol" * 3 + '"' + ', "lol"' * 8 + "]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=False):
        lol += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    with pytest.raises(LimitError) as err:
        scan_yaml(lol, Limits(aliases=10_000))
    assert "expands to more than 2,000,000" in err.value.problems[0][1]


def test_one_anchor_used_300_times_is_refused():
    big = "x" * 3000
    text = f'a: &x "{big}"\nb: [' + ", ".join(["*x"] * 300) + "]\n"
    with pytest.raises(LimitError) as err:
        read_mapping(text)
    assert err.value.problems[0] == (
        "b[100]",
        f"more than 100 aliases, over the limit of 100 ({ENV['aliases']})",
    )
    # with a higher alias allowance the expanded size still stops it
    with pytest.raises(LimitError) as err:
        scan_yaml(
            f'a: &x "{"x" * 10_000}"\nb: [' + ", ".join(["*x"] * 300) + "]\n", Limits(aliases=1000)
        )
    assert "expands" in err.value.problems[0][1]


def test_a_few_aliases_are_fine():
    data = read_mapping("a: &k {x: 1}\nb: *k\nc: *k\n")
    assert data == {"a": {"x": 1}, "b": {"x": 1}, "c": {"x": 1}}


@pytest.mark.parametrize(
    "text",
    [
        "patient:\n  age_years: " + "9" * 5000 + "\n",
        '{"patient": {"age_years": ' + "9" * 5000 + "}}",
    ],
    ids=["yaml", "json"],
)
def test_integer_digits_are_limited(text):
    with pytest.raises(LimitError) as err:
        read_mapping(text)
    path, msg = err.value.problems[0]
    assert path == "patient.age_years" and "5,000 digits" in msg and ENV["int_digits"] in msg


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("assessed_on", "2026-13-45", "month"),
        ("assessed_on", "2026-02-30", "day"),
        ("assessed_on", "2026-01-01 25:00:00", "hour"),
    ],
)
def test_impossible_yaml_dates_are_reported_at_their_path(field, value, needle):
    with pytest.raises(CaseError) as err:
        load_case(f"format: rplcare.case/1\n{field}: {value}\n")
    path, msg = err.value.problems[0]
    assert path == field and value in msg and needle in msg


# The class `make fuzz` found on 2026-12-03 (text mutation: `!!timestamp ` inserted before the
# first key): a scalar with an explicit tag its PyYAML constructor cannot read raised
# AttributeError / KeyError / IndexError, a traceback in `rplcare assess`. Rule (issue 10 §2):
# the scalar stays the string that was written, and the case validation reports it at its path.
@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("format: rplcare.case/1\nassessed_on: !!timestamp format\n", "assessed_on"),
        ("format: rplcare.case/1\nassessed_on: !!timestamp ''\n", "assessed_on"),
        ("format: rplcare.case/1\ngestational_carrier: !!bool maybe\n", "gestational_carrier"),
        ("format: rplcare.case/1\ngestational_carrier: !!bool ''\n", "gestational_carrier"),
        ("format: rplcare.case/1\npatient: {age_years: !!int ''}\n", "patient.age_years"),
        ("format: rplcare.case/1\npatient: {bmi: !!float ''}\n", "patient.bmi"),
    ],
)
def test_explicit_tags_their_constructor_cannot_read_are_problems_at_their_path(text, path):
    with pytest.raises(CaseError) as err:
        load_case(text)
    paths = [p for p, _ in err.value.problems]
    assert any(p == path or p.startswith(path) for p in paths), err.value.problems


def test_explicit_timestamp_tag_on_a_key_is_the_key_as_written(tmp_path):
    # the fuzz input itself: the key stays `format`, the case is read, no traceback
    from typer.testing import CliRunner

    from rplcare.case.loader import read_mapping
    from rplcare.cli import app

    assert read_mapping("!!timestamp format: rplcare.case/1\n") == {"format": "rplcare.case/1"}
    case = tmp_path / "c.yaml"
    case.write_text(
        "!!timestamp format: rplcare.case/1\nid: x\npatient: {age_years: 30}\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(app, ["assess", str(case), "--today", "2026-11-23"])
    assert r.exception is None and r.exit_code == 0, r.output
