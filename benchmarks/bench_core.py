"""Core engine benchmarks (issue 2): CLI wall time vs a bare `import yaml`, in-process
`assess()` throughput on one core, and peak memory.

Run: `make bench` or `.venv/bin/python benchmarks/bench_core.py [--repeat 15] [--seconds 5]`.
Prints a JSON summary and writes benchmarks/results/core.json. Medians, not means: the machine
is shared, and a median with a ratio to a baseline measured in the same run is what compares.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def wall(cmd: list[str], repeat: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=ROOT)
        out.append(time.perf_counter() - t)
    return out


def throughput(seconds: float) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "src"))
    from rplcare.case.loader import load_case
    from rplcare.reasoning.assess import assess

    raw = [load_case(p, today=date(2026, 11, 23)).model_dump(mode="json") for p in EXAMPLES]
    # two measures: assess() on validated cases, and load+assess+JSON (what a face does)
    cases = [load_case(r, today=date(2026, 11, 23)) for r in raw]
    out: dict[str, float] = {}
    for name, fn in (
        ("assess_only", lambda i: assess(cases[i % len(cases)])),
        (
            "load_assess_json",
            lambda i: assess(load_case(raw[i % len(raw)], today=date(2026, 11, 23))).to_json(),
        ),
    ):
        fn(0)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn(n)
            n += 1
        out[f"{name}_cases_per_s"] = round(n / (time.perf_counter() - t0), 1)
    tracemalloc.start()
    for i in range(200):
        assess(load_case(raw[i % len(raw)], today=date(2026, 11, 23))).to_json()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["tracemalloc_peak_kib_200_cases"] = round(peak / 1024, 1)
    import resource

    out["process_max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def per_case(seconds: float) -> dict[str, dict[str, float]]:
    """Cases/s of `assess()` and of `assess().to_json()` for each example and the large case
    (20 pregnancies, 60 results, 10 scans: tests/reasoning/golden/make_golden.py), each the
    median of five slices of `seconds` / 5, with the floor of the same run: `orjson.loads` of
    the case as JSON (issue 12 §1, §4)."""
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "tests" / "reasoning" / "golden"))
    import make_golden
    import orjson

    from rplcare.case.loader import load_case
    from rplcare.reasoning.assess import assess

    day = date(2026, 11, 23)
    inputs: dict[str, object] = {p.stem: p for p in EXAMPLES}
    inputs["large"] = make_golden.large_case()

    def rate(fn) -> float:
        fn()
        slices = []
        for _ in range(5):
            n, t0 = 0, time.perf_counter()
            while (el := time.perf_counter() - t0) < seconds / 5:
                fn()
                n += 1
            slices.append(n / el)
        return round(statistics.median(slices), 1)

    out: dict[str, dict[str, float]] = {}
    for name, src in inputs.items():
        case = load_case(src, today=day)
        raw = orjson.dumps(case.model_dump(mode="json", exclude_none=True))
        out[name] = {
            "assess_per_s": rate(lambda c=case: assess(c, today=day)),
            "assess_json_per_s": rate(lambda c=case: assess(c, today=day).to_json()),
            "floor_orjson_loads_per_s": rate(lambda r=raw: orjson.loads(r)),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument(
        "--per-case-only", action="store_true", help="only the per-case cases/s (no CLI runs)"
    )
    args = ap.parse_args()
    if args.per_case_only:
        print(json.dumps({"per_case": per_case(args.seconds)}, indent=2))
        return
    py = sys.executable
    case = str(EXAMPLES[0])
    base = wall([py, "-c", "import yaml"], args.repeat)
    cli_json = wall([py, "-m", "rplcare.cli", "assess", case, "--format", "json"], args.repeat)
    cli_text = wall([py, "-m", "rplcare.cli", "assess", case], args.repeat)
    helpt = wall([py, "-m", "rplcare.cli", "--help"], args.repeat)
    med = statistics.median
    result = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "baseline_import_yaml_median_s": round(med(base), 4),
        "cli_assess_json_median_s": round(med(cli_json), 4),
        "cli_assess_text_median_s": round(med(cli_text), 4),
        "cli_help_median_s": round(med(helpt), 4),
        "ratio_assess_json_to_import_yaml": round(med(cli_json) / med(base), 2),
        "ratio_assess_text_to_import_yaml": round(med(cli_text) / med(base), 2),
        "ratio_help_to_import_yaml": round(med(helpt) / med(base), 2),
        **throughput(args.seconds),
        "per_case": per_case(args.seconds),
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "core.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
