"""Scaling of load + `assess()` + JSON with the size of the case (issue 12 §4).

Three curves, each from the same base case: n results (a mix of tests on distinct dates),
n past pregnancies, and n clustered antiphospholipid positives (all within 30 days, the case
that made the persistence check quadratic). For each n: the median of several timed runs of
`assess(load_case(data)).to_json()`, and as a floor from the same run the orjson parse of the
same case as JSON.

Linearity: the cost added by the items, t(n) - t(n_min), is fitted against n - n_min on log-log
axes; the slope is ~1 for a linear curve and ~2 for a quadratic one. The cost per added item
at the largest size over the one at the second size (`per-item ratio`) says the same without a
fit: ~1 when linear, ~n when quadratic. A curve passes at slope <= 1.25 and ratio <= 3.

Run: `.venv/bin/python benchmarks/bench_scaling.py [--repeat 7] [--quick]`. Prints the table,
writes benchmarks/results/scaling.json and its section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _report  # noqa: E402

TODAY = date(2026, 11, 23)
SIZES = (1, 10, 30, 100, 300, 1000)
PREG_SIZES = (3, 10, 20, 50, 100)  # from 3: every size is recurrent loss (same rules)
QUICK_SIZES = (1, 10, 30)
QUICK_PREG_SIZES = (3, 5, 10)
SLOPE_MAX = 1.25
RATIO_MAX = 3.0

BASE: dict[str, Any] = {
    "format": "rplcare.case/1",
    "id": "scale",
    "assessed_on": TODAY.isoformat(),
    "patient": {"age_years": 33, "bmi": 23, "smoking": False},
    "pregnancies": [
        {"outcome": "miscarriage", "ga": "7+0", "year": 2023},
        {"outcome": "miscarriage", "ga": "8+0", "year": 2024},
    ],
    "results": [],
}
ROTATION = [
    {"test": "tsh", "value": 2.0, "unit": "mIU/L"},
    {"test": "anticardiolipin_igg", "value": 3, "unit": "GPL"},
    {"test": "hba1c", "value": 36, "unit": "mmol/mol"},
    {"test": "tpo_antibodies", "value": "negative"},
]


def _day(i: int) -> str:
    return (date(2000, 1, 1) + timedelta(days=i)).isoformat()


def results_case(n: int) -> dict[str, Any]:
    rs = [{**ROTATION[i % len(ROTATION)], "date": _day(i)} for i in range(n)]
    return {**BASE, "results": rs}


def pregnancies_case(n: int) -> dict[str, Any]:
    ps = [{"outcome": "miscarriage", "ga": "7+0", "year": 1980 + (i % 46)} for i in range(n)]
    return {**BASE, "pregnancies": ps}


def clustered_apl_case(n: int) -> dict[str, Any]:
    start = date(2026, 1, 1)
    rs = [
        {
            "test": "lupus_anticoagulant",
            "value": "positive",
            "date": (start + timedelta(days=i % 30)).isoformat(),
        }
        for i in range(n)
    ]
    return {**BASE, "results": rs}


def _median_seconds(data: dict[str, Any], repeat: int, budget_s: float) -> tuple[float, float]:
    """Median seconds of load + assess + JSON, and of an orjson parse of the same input.

    At least `repeat` runs, more for small cases (about `budget_s` of runs per point), so the
    small sizes, where the items add tenths of a millisecond, are not lost in noise."""
    import orjson

    from rplcare.case.loader import load_case
    from rplcare.reasoning.assess import assess

    def run() -> None:
        assess(load_case(data, today=TODAY)).to_json()

    raw = orjson.dumps(data)
    once = _report.timed(run, 1)[0]
    reps = max(repeat, min(300, int(budget_s / max(once, 1e-6))))
    work = _report.median(_report.timed(run, reps))
    floor = _report.median(_report.timed(lambda: orjson.loads(raw), 200))
    return work, floor


def call_count(data: dict[str, Any]) -> int:
    """Python function calls of one load + assess + JSON (cProfile): a cost that does not move
    with the machine's load, so its growth with n is the deterministic linearity check."""
    import cProfile
    import pstats

    from rplcare.case.loader import load_case
    from rplcare.reasoning.assess import assess

    prof = cProfile.Profile()
    prof.enable()
    assess(load_case(data, today=TODAY)).to_json()
    prof.disable()
    return sum(v[1] for v in pstats.Stats(prof).stats.values())  # type: ignore[attr-defined]


def fit_slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log y against log x (points with x, y > 0)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def curve(make, sizes: tuple[int, ...], repeat: int, budget_s: float) -> dict[str, Any]:
    points = []
    for n in sizes:
        sec, floor = _median_seconds(make(n), repeat, budget_s)
        points.append(
            {
                "n": n,
                "calls": call_count(make(n)),
                "median_ms": round(sec * 1000, 3),
                "orjson_parse_ms": round(floor * 1000, 4),
                "x_orjson_parse": round(sec / floor, 1) if floor else None,
            }
        )
    base = points[0]
    added = [(p["n"] - base["n"], p["median_ms"] - base["median_ms"], p) for p in points[1:]]
    for dn, dt, p in added:
        p["added_ms_per_item"] = round(dt / dn, 4)
    for _dn, _dt, p in added:
        p["added_calls_per_item"] = round((p["calls"] - base["calls"]) / (p["n"] - base["n"]), 1)
    slope = fit_slope([a[0] for a in added], [a[1] for a in added])
    per_item = [a[1] / a[0] for a in added]
    ratio = per_item[-1] / per_item[0] if len(per_item) > 1 and per_item[0] > 0 else None
    calls_slope = fit_slope(
        [a[0] for a in added], [float(a[2]["calls"] - base["calls"]) for a in added]
    )
    calls_per_item = [a[2]["added_calls_per_item"] for a in added]
    calls_ratio = (
        calls_per_item[-1] / calls_per_item[0]
        if len(calls_per_item) > 1 and calls_per_item[0] > 0
        else None
    )
    return {
        "points": points,
        "loglog_slope_added_cost": round(slope, 2) if slope is not None else None,
        "per_item_ratio_largest_over_smallest": round(ratio, 2) if ratio is not None else None,
        "loglog_slope_added_calls": round(calls_slope, 2) if calls_slope is not None else None,
        "calls_per_item_ratio": round(calls_ratio, 2) if calls_ratio is not None else None,
        # the verdict from the call counts (deterministic); the times are shown beside them
        "linear": bool(
            calls_slope is not None
            and calls_slope <= SLOPE_MAX
            and calls_ratio is not None
            and calls_ratio <= RATIO_MAX
        ),
        "time_linear": bool(
            slope is not None and slope <= SLOPE_MAX and ratio is not None and ratio <= RATIO_MAX
        ),
    }


CURVES = (
    ("results", "results (mixed tests, distinct dates)", results_case, SIZES, QUICK_SIZES),
    ("pregnancies", "past pregnancies", pregnancies_case, PREG_SIZES, QUICK_PREG_SIZES),
    (
        "clustered_apl_positives",
        "clustered antiphospholipid positives (30 days)",
        clustered_apl_case,
        SIZES,
        QUICK_SIZES,
    ),
)


def markdown(out: dict[str, Any], load_before: list[float]) -> str:
    parts = [
        "## Scaling: load + assess + JSON against the size of the case",
        "",
        _report.machine_line(load_before=load_before),
        "",
        "`python benchmarks/bench_scaling.py`: median of repeated runs per size; the floor is an "
        "orjson parse of the same case as JSON. *slope* is the log-log slope of the cost the "
        "items add (t(n) - t(n_min) against n - n_min): 1 = linear, 2 = quadratic. *per-item "
        "ratio* is the added cost per item at the largest size over the smallest. The same two "
        "figures are computed from the Python function calls of one run (cProfile), which do "
        "not move with the machine's load; the verdict is taken from those (a curve is linear "
        f"at slope <= {SLOPE_MAX} and ratio <= {RATIO_MAX}), the times are beside them (on a "
        "loaded machine a per-item time also steps up when the case outgrows the CPU caches).",
        "",
        _report.table(
            [
                "curve",
                "calls: slope",
                "calls: per-item ratio",
                "time: slope",
                "time: per-item ratio",
                "linear",
            ],
            [
                (
                    label,
                    out[key]["loglog_slope_added_calls"],
                    out[key]["calls_per_item_ratio"],
                    out[key]["loglog_slope_added_cost"],
                    out[key]["per_item_ratio_largest_over_smallest"],
                    "yes" if out[key]["linear"] else "**no**",
                )
                for key, label, *_ in CURVES
            ],
        ),
        "",
    ]
    for key, label, *_ in CURVES:
        parts += [
            f"**{label}**",
            "",
            _report.table(
                [
                    "n",
                    "median ms",
                    "added ms per item",
                    "calls",
                    "added calls per item",
                    "orjson parse ms",
                    "x orjson parse",
                ],
                [
                    (
                        p["n"],
                        p["median_ms"],
                        p.get("added_ms_per_item", "-"),
                        p["calls"],
                        p.get("added_calls_per_item", "-"),
                        p["orjson_parse_ms"],
                        p["x_orjson_parse"],
                    )
                    for p in out[key]["points"]
                ],
            ),
            "",
        ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "scaling.json")
    _report.add_common_args(ap)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    repeat = 2 if args.quick else args.repeat
    load_before = _report.loadavg()
    out: dict[str, Any] = {
        key: curve(make, quick if args.quick else sizes, repeat, 0.02 if args.quick else 0.5)
        for key, _label, make, sizes, quick in CURVES
    }
    out["machine"] = _report.machine()
    text = markdown(out, load_before)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2) + "\n")
    _report.write_section("scaling", text, path=args.report, quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
