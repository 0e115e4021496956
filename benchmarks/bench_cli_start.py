"""CLI start (issue 12 §2): `rplcare assess CASE --format json` against the bare floor
`python -c "import yaml"`, measured in the same run, as ratios of medians.

For each command: the median wall time and the median CPU time (user + system of the child,
which moves less with the load of a shared machine than wall time) over `--repeat` runs,
interleaved so a load spike hits every command alike; with `--instructions`, the instruction
count of one run of each (valgrind callgrind, when installed), which does not move with load
at all. Also measured: the floor with pydantic imported (`import yaml, orjson, pydantic`, and
the plugin loader the first pydantic validator imports): what any path that validates a case
with pydantic cannot go under.

The .pyc files are written first (`compileall`, as `make install` does), and the user's caches
(the knowledge base, the compiled dataclass and forward-reference code) are warmed by one run
of each command: a measured run is a second start. Every example is run in both formats (json,
text; the pregnant one is `bleeding-early-pregnancy.yaml`).

Run: `.venv/bin/python benchmarks/bench_cli_start.py [--repeat 21] [--instructions]`.
Prints JSON, writes benchmarks/results/cli_start.json and its section (`cli-start`) of
docs/performance.md (`--report PATH` for another file; `--quick`: 1 run, the figures mean
nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _report  # noqa: E402

EXAMPLES = ROOT / "examples"
CASE = EXAMPLES / "aps-three-losses.yaml"
PREGNANT = EXAMPLES / "bleeding-early-pregnancy.yaml"
#: the other examples, each in both formats (every CLI assess path stays under the limit)
OTHERS = {"carrier": "carrier-frozen-transfer.yaml", "thyroid": "thyroid-two-losses.yaml"}


def commands(py: str) -> dict[str, list[str]]:
    cli = [py, "-m", "rplcare.cli", "assess"]
    out = {
        "floor_import_yaml": [py, "-c", "import yaml"],
        # what a case path without pydantic could not go under (read YAML, write JSON)
        "floor_yaml_orjson": [py, "-c", "import yaml, orjson"],
        "floor_pydantic": [
            py,
            "-c",
            "import yaml, orjson, pydantic; from pydantic import BaseModel; "
            "import pydantic.plugin._loader",
        ],
        "assess_json": [*cli, str(CASE), "--format", "json"],
        "assess_json_pregnant": [*cli, str(PREGNANT), "--format", "json"],
        "assess_text": [*cli, str(CASE)],
        "assess_text_pregnant": [*cli, str(PREGNANT)],
    }
    for name, file in OTHERS.items():
        out[f"assess_json_{name}"] = [*cli, str(EXAMPLES / file), "--format", "json"]
        out[f"assess_text_{name}"] = [*cli, str(EXAMPLES / file)]
    out["help"] = [py, "-m", "rplcare.cli", "--help"]
    return out


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def one(cmd: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env(), cwd=ROOT)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def instructions(cmd: list[str]) -> int | None:
    if shutil.which("valgrind") is None:
        return None
    p = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
    )
    m = re.search(r"refs:\s+([\d,]+)", p.stderr)
    return int(m.group(1).replace(",", "")) if m else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--instructions", action="store_true", help="also count (valgrind)")
    _report.add_common_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.repeat = 1
    load_before = _report.loadavg()
    py = sys.executable
    subprocess.run([py, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    cmds = commands(py)
    for cmd in cmds.values():  # warm: .pyc, the knowledge-base cache, the page cache
        one(cmd)
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(args.repeat):
        for name, cmd in cmds.items():
            w, c = one(cmd)
            walls[name].append(w)
            cpus[name].append(c)
    med = statistics.median
    floor_w, floor_c = med(walls["floor_import_yaml"]), med(cpus["floor_import_yaml"])
    result: dict[str, object] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "repeat": args.repeat,
    }
    for name in cmds:
        result[f"{name}_wall_median_s"] = round(med(walls[name]), 4)
        result[f"{name}_cpu_median_s"] = round(med(cpus[name]), 4)
        result[f"ratio_wall_{name}"] = round(med(walls[name]) / floor_w, 2)
        result[f"ratio_cpu_{name}"] = round(med(cpus[name]) / floor_c, 2) if floor_c else None
    if args.instructions:
        counts = {name: instructions(cmd) for name, cmd in cmds.items()}
        base = counts["floor_import_yaml"]
        for name, n in counts.items():
            result[f"{name}_instructions"] = n
            result[f"ratio_instructions_{name}"] = round(n / base, 2) if n and base else None
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cli_start.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    _report.write_section(
        "cli-start", markdown(result, cmds, load_before, args), path=args.report, quick=args.quick
    )


GOAL_RATIO = 2.0  # issue 12 §2: assess --format json <= 2x `python -c "import yaml"`
LIMIT_RATIO = 5.0


def markdown(
    result: dict[str, object], cmds: dict[str, list[str]], load_before: list[float], args: Any
) -> str:
    """The docs/performance.md section: per command the medians and, with --instructions,
    the instruction counts, each as a ratio to `import yaml` measured in the same run."""
    counted = bool(args.instructions)
    headers = ["command", "wall median ms", "x wall", "CPU median ms", "x CPU"]
    if counted:
        headers += ["instructions (M)", 'x "import yaml"']
    rows = []
    for name, cmd in cmds.items():
        shown = " ".join(["python", *(Path(c).name if c.endswith(".yaml") else c for c in cmd[1:])])
        row: list[Any] = [
            f"`{shown}`",
            float(result[f"{name}_wall_median_s"]) * 1000,  # type: ignore[arg-type]
            result[f"ratio_wall_{name}"],
            float(result[f"{name}_cpu_median_s"]) * 1000,  # type: ignore[arg-type]
            result[f"ratio_cpu_{name}"],
        ]
        if counted:
            n = result.get(f"{name}_instructions")
            row += [round(n / 1e6, 1) if isinstance(n, int) else "n/a"]
            row += [result.get(f"ratio_instructions_{name}")]
        rows.append(row)
    flag = " --instructions" if counted else ""
    lead = (
        f"`python benchmarks/bench_cli_start.py --repeat {args.repeat}{flag}`: each command "
        f"run {args.repeat} times, interleaved, after `compileall` and one warming run (the "
        "user's caches filled: knowledge base, compiled dataclass code); ratios to the floor "
        '`python -c "import yaml"` of the same run. Instruction counts (valgrind callgrind, '
        "one run each) do not move with the load of the machine: they are the figure to "
        "compare across runs. Goal for "
        f"`assess --format json`: <= {GOAL_RATIO:g}x, limit <= {LIMIT_RATIO:g}x (issue 12 §2)."
    )
    return _report.section(
        "CLI start: `rplcare assess` against `import yaml`",
        load_before,
        lead,
        _report.table(headers, rows),
    )


if __name__ == "__main__":
    main()
