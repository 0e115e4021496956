"""Shared pieces of the benchmarks: the machine, medians, floors, and docs/performance.md.

Each bench script owns one section of docs/performance.md, between the markers
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; `write_section` replaces that section (or
appends it) and leaves the others as they are, so the scripts can run one at a time or all
together (`make bench`). Every section carries the machine it ran on and the load average,
because these machines are shared: the figures that compare across runs are the ratios to a
floor measured in the same run (a bare interpreter start, an orjson parse of the same input),
not the absolute times.

Common options (`add_common_args`): ``--quick`` (tiny sizes, for the smoke test: the figures
mean nothing) and ``--report PATH`` (default docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "performance.md"

HEADER = """# Performance

Figures written by `make bench` (each `benchmarks/bench_*.py` replaces its own section; the
text between the markers is generated, edit the scripts instead). The machines are shared, so
read the ratios to the floor measured in the same run (a bare `python -c pass` start, an orjson
parse of the same input) before the absolute times, and look at the load average of the run.
A section written with `--quick` says so: its figures only show that the script still runs.
"""


def add_common_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--quick", action="store_true", help="tiny run for tests; figures meaningless")
    ap.add_argument("--report", type=Path, default=REPORT, help="markdown file to update")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    return {
        "nproc": nproc(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg": loadavg(),
    }


def machine_line(m: dict[str, Any] | None = None, load_before: Sequence[float] = ()) -> str:
    m = m or machine()
    load = f"load average {m['loadavg'][0]}" if m["loadavg"] else "load average n/a"
    if load_before:
        load = f"load average {load_before[0]} before, {m['loadavg'][0]} after"
    return f"Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['date']}, {load}."


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Wall seconds of `repeat` calls (one warm-up call first)."""
    fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def rate(fn: Callable[[int], Any], seconds: float) -> float:
    """Calls per second of fn(i) over about `seconds` (one warm-up call first)."""
    fn(0)
    n, t0 = 0, time.perf_counter()
    while True:
        fn(n)
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return n / elapsed


def wall(cmd: list[str], repeat: int, env: dict[str, str] | None = None) -> list[float]:
    """Wall seconds of `repeat` runs of a command (checked, output captured)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=ROOT)
        out.append(time.perf_counter() - t)
    return out


def bare_start(repeat: int) -> float:
    """The floor of every CLI figure: median wall time of `python -c pass`."""
    return median(wall([sys.executable, "-c", "pass"], repeat))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def skipped_row(name: str, result: dict[str, Any], width: int) -> tuple[Any, ...] | None:
    """The table row of a backend the run skipped (its reason, blanks to `width` cells), or None."""
    if "skipped" not in result:
        return None
    return (name, "skipped: " + str(result["skipped"]), *[""] * (width - 2))


def section(title: str, load_before: Sequence[float], *paragraphs: str) -> str:
    """A section body: its heading, the machine line, then the paragraphs, a blank line between."""
    return "\n\n".join([f"## {title}", machine_line(load_before=load_before), *paragraphs])


def _markers(name: str) -> tuple[str, str]:
    if not re.fullmatch(r"[a-z0-9_-]+", name):
        raise ValueError(f"section name {name!r}: use [a-z0-9_-]")
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def write_section(name: str, body: str, *, path: Path = REPORT, quick: bool = False) -> None:
    """Replace (or append) the section `name` of the report with `body` (markdown)."""
    start, end = _markers(name)
    if quick:
        body = "*Written by a `--quick` run: the figures only show that the script runs.*\n\n" + (
            body
        )
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    tmp.replace(path)


def read_section(name: str, path: Path = REPORT) -> str | None:
    """The body of section `name`, or None (used by the smoke test)."""
    start, end = _markers(name)
    if not path.exists():
        return None
    m = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), path.read_text(), re.S)
    return m.group(1) if m else None
