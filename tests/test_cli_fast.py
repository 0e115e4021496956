"""Rule (issue 12 §2): a plain `rplcare assess` line runs without typer and prints, to the
byte, what the typer app prints for it (stdout, stderr, exit code); any other line is parsed
by typer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rplcare import cli_assess
from rplcare.cli_app import Definition, Fmt, Policy, app

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
APS = str(EX / "aps-three-losses.yaml")


def test_the_fast_parser_offers_the_typer_choices():
    assert tuple(f.value for f in Fmt) == cli_assess.FORMATS
    assert tuple(d.value for d in Definition) == cli_assess.DEFINITIONS
    assert tuple(p.value for p in Policy) == cli_assess.POLICIES


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([APS], cli_assess.Options(Path(APS))),
        (
            [APS, "--format", "json", "--definition", "rcog2023"],
            cli_assess.Options(Path(APS), "json", "rcog2023"),
        ),
        (["--format=fhir", APS], cli_assess.Options(Path(APS), "fhir")),
        (["-f", "json", "-f", "text", APS], cli_assess.Options(Path(APS), "text")),  # last wins
        (
            [APS, "--luteal-policy", "article", "--today", "2026-12-01"],
            cli_assess.Options(Path(APS), luteal_policy="article", today="2026-12-01"),
        ),
        ([APS, "--today", "not-a-date"], cli_assess.Options(Path(APS), today="not-a-date")),
    ],
)
def test_plain_lines_are_parsed(args, expected):
    assert cli_assess.parse(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        [APS, "--help"],
        [APS, APS],
        [APS, "--format", "yaml"],  # not a choice: typer words the error
        [APS, "--format"],
        [APS, "-fjson"],
        [APS, "-f=json"],
        [APS, "--form", "json"],  # no prefix matching in click
        [APS, "--", "x"],
        [APS, "--today", "-1"],
        [""],
    ],
)
def test_other_lines_go_to_typer(args):
    assert cli_assess.parse(args) is None


LINES = [
    [APS, "--format", "json"],
    [APS],
    [str(EX / "bleeding-early-pregnancy.yaml"), "-f", "fhir", "--today", "2026-12-01"],
    [str(EX / "carrier-frozen-transfer.yaml"), "--definition=asrm2012", "--luteal-policy=article"],
    [str(EX / "thyroid-two-losses.yaml"), "--format", "json", "--definition", "rcog2023"],
    [str(EX / "bleeding-early-pregnancy.yaml"), "--today", "2026-01-01"],  # before assessed_on
    [APS, "--today", "2026-13-01"],
    [str(EX / "missing.yaml"), "--format", "json"],
]


def _run(cmd: list[str]) -> tuple[int, str, str]:
    p = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "TZ": "Pacific/Auckland"},
    )
    # a FHIR Bundle carries the time it was made (to the second): not what is compared
    return p.returncode, _STAMP.sub("<time>", p.stdout), p.stderr


_STAMP = re.compile(r'"(timestamp|recorded)": "[^"]*"')


@pytest.mark.parametrize("args", LINES)
def test_the_fast_path_prints_what_typer_prints(args, tmp_path):
    fast = _run([sys.executable, "-m", "rplcare.cli", "assess", *args])
    typer_only = _run(
        [sys.executable, "-c", "from rplcare.cli_app import app; app()", "assess", *args]
    )
    assert fast == typer_only
    assert fast[0] in (0, 2)


def test_a_bad_case_is_the_same_through_both_paths(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: rplcare.case/1\npatient: {age_years: 300}\n", encoding="utf-8")
    fast = _run([sys.executable, "-m", "rplcare.cli", "assess", str(bad)])
    r = CliRunner().invoke(app, ["assess", str(bad)])
    assert fast[0] == r.exit_code == 2
    assert fast[1] == r.stdout == ""
    assert fast[2] == r.stderr and fast[2].startswith("patient.age_years:")


def test_the_fast_path_imports_neither_typer_nor_click_nor_package_metadata():
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['rplcare', 'assess', {APS!r}, '--format', 'json']\n"
        "from rplcare.cli import _fast_assess\n"
        "try:\n    _fast_assess(sys.argv[1:])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click')\n"
        "               or m == 'importlib.metadata')\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    rc, _, err = _run([sys.executable, "-c", code])
    assert rc == 0 and err == "[]"


def test_the_plugin_loader_stand_in_answers_as_pydantic_does_with_plugins_disabled():
    code = (
        "import os, sys\n"
        "os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
        "from rplcare.cli import _no_plugin_loader\n"
        "_no_plugin_loader()\n"
        "import pydantic.plugin\n"
        "from pydantic.plugin._loader import get_plugins\n"
        "assert tuple(get_plugins()) == ()\n"
        "from pydantic import BaseModel\n"
        "class M(BaseModel):\n    x: int\n"
        "assert M(x='1').x == 1\n"
        "assert 'importlib.metadata' not in sys.modules\n"
        "loader = sys.modules['pydantic.plugin._loader']\n"
        "assert loader.PYDANTIC_ENTRY_POINT_GROUP == 'pydantic'  # any other name: the real one\n"
    )
    rc, _, err = _run([sys.executable, "-c", code])
    assert rc == 0, err
