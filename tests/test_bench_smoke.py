"""The benchmark scripts still run (issue 12 §4): each one with --quick writes its section of
the performance report. Nothing here is timed; the figures of a --quick run mean nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _report  # noqa: E402

# script -> the section it owns in docs/performance.md, and extra arguments for the test
SCRIPTS = {
    "bench_core.py": ("core", []),
    "bench_cds.py": ("cds", []),
    "bench_scaling.py": ("scaling", []),
    "bench_web.py": ("web", ["--out"]),
    "bench_outcomes.py": ("outcomes", ["--out"]),
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_bench_script_quick_run_writes_its_section(script: str, tmp_path: Path) -> None:
    """Rule (benchmarks/_report.py): every bench script replaces its own marked section and
    leaves the rest of the report as it was."""
    section, out_flag = SCRIPTS[script]
    report = tmp_path / "performance.md"
    report.write_text(
        _report.HEADER
        + "\nhand-written note\n\n<!-- bench:other -->\nkept\n<!-- /bench:other -->\n"
    )
    out = ["--out" if out_flag else "--output", str(tmp_path / "result.json")]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for _ in range(2):  # the second run replaces the section, it does not add another
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / script),
                "--quick",
                "--report",
                str(report),
                *out,
            ],
            check=True,
            capture_output=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
    text = report.read_text()
    body = _report.read_section(section, report)
    assert body is not None and "--quick" in body and "Machine: " in body
    assert text.count(f"<!-- bench:{section} -->") == 1
    assert "hand-written note" in text and _report.read_section("other", report) == "kept"
    assert (tmp_path / "result.json").stat().st_size > 0


def test_write_section_replaces_only_its_own_block(tmp_path: Path) -> None:
    """Rule (benchmarks/_report.py write_section): markers per section; new sections append."""
    path = tmp_path / "p.md"
    _report.write_section("a", "first", path=path)
    _report.write_section("b", "second", path=path)
    _report.write_section("a", "third", path=path)
    text = path.read_text()
    assert text.startswith("# Performance")
    assert _report.read_section("a", path) == "third"
    assert _report.read_section("b", path) == "second"
    assert text.index("bench:a -->") < text.index("bench:b -->")
