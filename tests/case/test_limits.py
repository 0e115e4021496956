"""Limits before parsing (issue 10 §1): size, nesting depth, list/string lengths, integer
digits and YAML alias expansion are checked on a stream before anything recursive runs; over
a limit is one `PATH: message` naming the limit (413 for size, 422 otherwise, exit 2 in the
CLI). Impossible YAML dates are reported at their path instead of raising."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case, read_mapping
from rplcare.util.limits import ENV, LimitError, Limits, check_tree, scan_json, scan_yaml

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


def test_size_list_and_string_limits():
    with pytest.raises(LimitError) as err:
        read_mapping("a: " + "x" * 1_000_001)
    assert err.value.status == 413 and ENV["body_bytes"] in err.value.problems[0][1]
    with pytest.raises(LimitError) as err:
        scan_json('{"r": [' + ", ".join(["1"] * 11) + "]}", Limits(items=10))
    assert err.value.problems[0][0] == "r"
    with pytest.raises(LimitError) as err:
        scan_yaml("r:\n" + "".join(f"  - {i}\n" for i in range(11)), Limits(items=10))
    assert err.value.problems[0][0] == "r[10]"
    with pytest.raises(LimitError) as err:
        check_tree({"p": {"note": "y" * 11}}, Limits(string_chars=10))
    assert err.value.problems[0][0] == "p.note"


def test_limits_come_from_the_environment():
    assert Limits.from_env({ENV["depth"]: "10"}).depth == 10
    with pytest.raises(ValueError, match=ENV["depth"]):
        Limits.from_env({ENV["depth"]: "zero"})


def test_cli_nesting_bomb_exits_2_with_the_path(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("format: rplcare.case/1\npatient: " + "[" * NEST + "]" * NEST + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run(
        [sys.executable, "-m", "rplcare.cli", "assess", str(bomb)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert "patient[0]" in r.stderr and "RPLCARE_MAX_DEPTH" in r.stderr
    assert "Traceback" not in r.stderr
