"""The command line: output formats, exit codes, errors on stderr only, and a light --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rplcare.cli import app

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args))


def test_assess_json_is_the_assessment_format():
    r = cli("assess", str(EX / "aps-three-losses.yaml"), "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["format"] == "rplcare.assessment/1"
    assert d["knowledge_base"]["definition"] == "eshre2022"


def test_assess_echoes_definition_and_luteal_policy():
    r = cli(
        "assess",
        str(EX / "bleeding-early-pregnancy.yaml"),
        "-f",
        "json",
        "--definition",
        "rcog2023",
        "--luteal-policy",
        "article",
    )
    d = json.loads(r.stdout)
    assert d["knowledge_base"]["definition"] == "rcog2023"
    assert d["knowledge_base"]["luteal_policy"] == "article"
    assert d["classification"]["rpl"] is False  # two losses are not RPL under RCOG 2023


def test_assess_text_fits_80_columns_and_has_every_section():
    r = cli("assess", str(EX / "thyroid-two-losses.yaml"))
    assert r.exit_code == 0
    for heading in (
        "Classification",
        "Findings",
        "Do now",
        "Consider",
        "Not recommended",
        "Sources",
    ):
        assert heading in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    assert "Decision support, not diagnosis" in r.stdout


def test_bad_case_exits_2_with_path_errors_on_stderr_and_nothing_on_stdout(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "results:\n  - {test: progesterone, value: 5, unit: mg, date: 2026-01-01}\n"
        "patient: {bmi: 5}\n"
    )
    p = subprocess.run(
        [sys.executable, "-m", "rplcare.cli", "assess", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert "results[0].unit: 'mg' is not a unit of progesterone (nmol/L, ng/mL)" in lines
    assert any(line.startswith("patient.bmi:") for line in lines)


def test_missing_file_is_a_clean_error():
    r = cli("assess", "/nonexistent/case.yaml")
    assert r.exit_code == 2 and "cannot read" in r.stderr


def test_hcg_quick_calculator_json_is_the_assessment_block():
    r = cli("hcg", "2026-11-10=1000", "2026-11-12=1700", "--format", "json")
    assert r.exit_code == 0, r.output
    (pair,) = json.loads(r.stdout)["hcg"]["pairs"]
    assert pair["change_48h_pct"] == pytest.approx(70.0)  # models.md §1.5 row 1
    assert pair["doubling_hours"] == pytest.approx(62.7, abs=0.05)
    assert pair["nice"] == "likely_intrauterine"


def test_hcg_quick_calculator_bad_sample_exit_2():
    r = cli("hcg", "2026-11-10=abc", "2026-11-12=1700")
    assert r.exit_code == 2 and r.stderr.startswith("samples[0]:")


def test_date_quick_calculator_art_day5_edd_plus_261():
    r = cli(
        "date",
        "--transfer",
        "2024-03-01",
        "--embryo-day",
        "5",
        "--today",
        "2024-03-20",
        "--format",
        "json",
    )
    d = json.loads(r.stdout)["dating"]
    assert (d["basis"], d["edd"]) == ("art", "2024-11-17")  # models.md §4.2


def test_date_quick_calculator_lmp_cycle_35():
    r = cli("date", "--lmp", "2024-01-01", "--cycle", "35", "--today", "2024-02-15", "-f", "json")
    assert json.loads(r.stdout)["dating"]["edd"] == "2024-10-14"  # models.md §4.1


def test_date_quick_calculator_crl_by_the_default_standard():
    r = cli("date", "--crl", "30", "--on", "2026-11-01", "-f", "json")
    assert json.loads(r.stdout)["dating"]["ga"] == "9+6"  # BMUS-Robinson 68.64 d (models.md §4.5)


def test_date_quick_calculator_crl_outside_the_standard_is_exit_2():
    # the default standard (BMUS-Robinson) ends at 84 mm: 90 mm is refused, not dated by another
    r = cli("date", "--crl", "90", "--on", "2026-11-01", "-f", "json")
    assert r.exit_code == 2
    assert "--crl: 90 mm is outside 0-84 mm" in r.output


def test_schedule_writes_an_icalendar_file(tmp_path):
    out = tmp_path / "plan.ics"
    r = cli("schedule", str(EX / "bleeding-early-pregnancy.yaml"), "--ics", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith("BEGIN:VCALENDAR") and "Stop luteal support (16+0)" in text


def test_kb_list_and_show():
    r = cli("kb", "list")
    assert "treat.lymphocyte_immunotherapy" in r.stdout
    r = cli("kb", "show", "treat.lymphocyte_immunotherapy")
    assert r.exit_code == 0 and "cochrane-lit2014" in r.stdout
    assert cli("kb", "show", "nope.nothing").exit_code == 2


def test_schema_case_is_json_schema():
    d = json.loads(cli("schema", "case").stdout)
    assert d["title"] == "Case" and "results" in d["properties"]


HEAVY = (
    "pydantic",
    "yaml",
    "fastapi",
    "sqlalchemy",
    "matplotlib",
    "weasyprint",
    "fhir",
    "jwt",
    "httpx",
    "rplcare.reasoning",
    "rplcare.knowledge",
)


def test_help_imports_no_heavy_module():
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom rplcare.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}]\n"
        "print(heavy)"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def test_today_before_assessed_on_is_a_clean_error_for_assess_and_schedule():
    for cmd in ("assess", "schedule"):
        r = cli(cmd, str(EX / "bleeding-early-pregnancy.yaml"), "--today", "2026-01-01")
        assert r.exit_code == 2, (cmd, r.output)
        assert r.stderr.startswith("assessed_on:") and r.stdout == ""


# --- exit-code registry and the one top-level handler (issue 8 §5) ---------------------------


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from rplcare.cli import main

    monkeypatch.setattr(sys, "argv", ["rplcare", *args])
    monkeypatch.delenv("RPLCARE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out.out, out.err


def test_an_unexpected_error_is_one_line_with_a_support_hint_and_its_own_exit_code(
    monkeypatch, capsys
):
    from rplcare.errors import ExitCode

    def boom(*a, **kw):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("rplcare.reasoning.assess.assess", boom)
    code, out, err = _main(monkeypatch, capsys, "assess", str(EX / "aps-three-losses.yaml"))
    assert code == ExitCode.UNEXPECTED == 70
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unexpected error (RuntimeError: boom)" in err and "report it" in err


def test_a_broken_knowledge_base_exits_with_its_code(monkeypatch, capsys):
    from rplcare.errors import ExitCode
    from rplcare.knowledge import KnowledgeError

    def broken():
        raise KnowledgeError(["findings.yaml: finding x.text: unknown parameter 'y'", "second"])

    monkeypatch.setattr("rplcare.reasoning.assess.get_kb", broken)
    code, _, err = _main(monkeypatch, capsys, "assess", str(EX / "aps-three-losses.yaml"))
    assert code == ExitCode.KNOWLEDGE_BASE == 4
    assert err.strip() == (
        "rplcare: the knowledge base does not load: findings.yaml: finding x.text: unknown "
        "parameter 'y' (+1 more)"
    )


def test_invalid_input_through_main_is_exit_2_with_paths(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: rplcare.case/1\npatient: {age_years: 300}\n", encoding="utf-8")
    code, out, err = _main(monkeypatch, capsys, "assess", str(bad))
    assert code == 2 and out == "" and err.startswith("patient.age_years:")


def test_every_exit_code_is_documented_in_the_readme():
    from rplcare.errors import ExitCode

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Exit codes") :]
    for code in ExitCode:
        assert f"| {int(code)} | `{code.name.lower()}` |" in table, code
