"""Core engine benchmarks (issues 2 and 12): CLI start against a bare interpreter, in-process
`assess()` throughput against an orjson parse of the same input, peak memory.

Floors measured in the same run, so the ratios compare across loads and machines:
- CLI: `python -c pass` (bare start) and `python -c "import yaml"` (the issue's reference);
  `rplcare assess CASE --format json` and `--help` as multiples of both;
- engine: per example and for a large case (20 pregnancies, 60 results, 10 scans), cases/s of
  `assess()` on a loaded case, of `assess().to_json()` and of load + assess + JSON from a
  mapping (what a face does), each with the orjson parse of the same case JSON as floor.

Run: `make bench` or `.venv/bin/python benchmarks/bench_core.py [--repeat 15] [--seconds 2]
[--quick]`. Prints the tables, writes benchmarks/results/core.json and its section of
docs/performance.md. Medians, not means: the machine is shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _report  # noqa: E402

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TODAY = date(2026, 11, 23)
GOAL_CASES_PER_S = 2000  # issue 12: assess() >= 2,000 cases/s on one core
GOAL_CLI_RATIO = 2.0  # issue 12: CLI assess --format json <= 2x `python -c "import yaml"`


def large_case() -> dict[str, Any] | None:
    """The golden corpus' large case (tests/reasoning/golden/make_golden.py), if present."""
    path = ROOT / "tests" / "reasoning" / "golden" / "make_golden.py"
    try:
        spec = importlib.util.spec_from_file_location("_golden_cases", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return dict(mod.large_case())
    except Exception:  # a benchmark without the large case still measures the rest
        return None


def cli(repeat: int) -> dict[str, Any]:
    py = sys.executable
    case = str(EXAMPLES[0])
    med = _report.median
    bare = med(_report.wall([py, "-c", "pass"], repeat))
    yaml_ = med(_report.wall([py, "-c", "import yaml"], repeat))
    runs = {
        "assess --format json": [py, "-m", "rplcare.cli", "assess", case, "--format", "json"],
        "assess (text)": [py, "-m", "rplcare.cli", "assess", case],
        "--help": [py, "-m", "rplcare.cli", "--help"],
    }
    out: dict[str, Any] = {
        "case": Path(case).name,
        "bare_start_s": round(bare, 4),
        "import_yaml_s": round(yaml_, 4),
        "commands": {},
    }
    for name, cmd in runs.items():
        t = med(_report.wall(cmd, repeat))
        out["commands"][name] = {
            "median_s": round(t, 4),
            "x_bare_start": round(t / bare, 2),
            "x_import_yaml": round(t / yaml_, 2),
        }
    return out


def engine(seconds: float) -> dict[str, Any]:
    import orjson

    from rplcare.case.loader import load_case
    from rplcare.reasoning.assess import assess

    inputs: dict[str, dict[str, Any]] = {
        p.stem: load_case(p, today=TODAY).model_dump(mode="json", exclude_none=True)
        for p in EXAMPLES
    }
    large = large_case()
    if large is not None:
        inputs["large (20 pregnancies, 60 results, 10 scans)"] = large
    out: dict[str, Any] = {}
    for name, data in inputs.items():
        raw = orjson.dumps(data)
        case = load_case(data, today=TODAY)
        floor = _report.rate(lambda _i, raw=raw: orjson.loads(raw), seconds / 4)
        row = {"orjson_parse_per_s": round(floor, 0)}
        for key, fn in (
            ("assess", lambda _i, c=case: assess(c)),
            ("assess_to_json", lambda _i, c=case: assess(c).to_json()),
            (
                "load_assess_json",
                lambda _i, d=data: assess(load_case(d, today=TODAY)).to_json(),
            ),
        ):
            r = _report.rate(fn, seconds)
            row[f"{key}_per_s"] = round(r, 1)
            row[f"{key}_x_orjson_parse"] = round(floor / r, 1)
        out[name] = row
    tracemalloc.start()
    datas = list(inputs.values())
    for i in range(50):
        assess(load_case(datas[i % len(datas)], today=TODAY)).to_json()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "cases": out,
        "tracemalloc_peak_kib_50_cases": round(peak / 1024, 1),
        "process_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def markdown(res: dict[str, Any], load_before: list[float], args: argparse.Namespace) -> str:
    c, e = res["cli"], res["engine"]
    lines = [
        "## Core: CLI start and assess() throughput",
        "",
        _report.machine_line(load_before=load_before),
        "",
        f"`python benchmarks/bench_core.py --repeat {args.repeat} --seconds {args.seconds}`. "
        f"CLI on `{c['case']}`, median of {args.repeat} runs; floors in the same run: bare "
        f"start `python -c pass` {c['bare_start_s'] * 1000:.0f} ms, "
        f'`python -c "import yaml"` {c["import_yaml_s"] * 1000:.0f} ms '
        f"(goal: `assess --format json` <= {GOAL_CLI_RATIO:g}x the latter).",
        "",
        _report.table(
            ["command", "median ms", "x bare start", 'x "import yaml"'],
            [
                (name, v["median_s"] * 1000, v["x_bare_start"], v["x_import_yaml"])
                for name, v in c["commands"].items()
            ],
        ),
        "",
        "Engine, one process (one core), cases/s over about "
        f"{args.seconds:g} s each; floor: orjson parse of the same case as JSON (x = how many "
        f"parses one call costs). Goal: assess() >= {GOAL_CASES_PER_S:,}/s.",
        "",
        _report.table(
            [
                "case",
                "assess/s",
                "assess+to_json/s",
                "load+assess+JSON/s",
                "orjson parse/s",
                "assess x parse",
                "load+assess+JSON x parse",
            ],
            [
                (
                    name,
                    v["assess_per_s"],
                    v["assess_to_json_per_s"],
                    v["load_assess_json_per_s"],
                    v["orjson_parse_per_s"],
                    v["assess_x_orjson_parse"],
                    v["load_assess_json_x_orjson_parse"],
                )
                for name, v in e["cases"].items()
            ],
        ),
        "",
        f"Peak traced memory over 50 load+assess+JSON calls: "
        f"{e['tracemalloc_peak_kib_50_cases']:,} KiB; process max RSS "
        f"{e['process_max_rss_mib']} MiB.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=15, help="runs per CLI command")
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds per throughput figure")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "core.json")
    _report.add_common_args(ap)
    args = ap.parse_args(argv)
    if args.quick:
        args.repeat, args.seconds = 2, 0.05
    sys.path.insert(0, str(ROOT / "src"))
    load_before = _report.loadavg()
    res = {"machine": _report.machine(), "cli": cli(args.repeat), "engine": engine(args.seconds)}
    text = markdown(res, load_before, args)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(res, indent=2) + "\n")
    _report.write_section("core", text, path=args.report, quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
