"""Scaling of `assess()` + JSON with the size of the case (issue 12 §4).

Three curves, each from the same base case: n results (a mix of tests on distinct dates),
n past pregnancies, and n clustered antiphospholipid positives (all within 30 days, the case
that made the persistence check quadratic). For each n the median of several timed runs is
reported, with the cost per item and the ratio of the largest size's cost per item to the
smallest's: a linear curve keeps that ratio near 1 (constant per-item cost); quadratic growth
makes it grow with n.

Run: `.venv/bin/python benchmarks/bench_scaling.py [--repeat 7]`. Prints JSON and writes
benchmarks/results/scaling.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 23)
SIZES = (1, 10, 100, 1000)
PREG_SIZES = (1, 5, 20, 50)

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


def _median_seconds(data: dict[str, Any], repeat: int) -> float:
    from rplcare.case.loader import load_case
    from rplcare.reasoning.assess import assess

    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        assess(load_case(data, today=TODAY)).to_json()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def curve(make, sizes: tuple[int, ...], repeat: int) -> dict[str, Any]:
    points = []
    for n in sizes:
        sec = _median_seconds(make(n), repeat)
        points.append({"n": n, "median_ms": round(sec * 1000, 3)})

    # per-item cost between the two largest sizes vs between the two smallest: ~1 when linear
    def slope(a: dict[str, Any], b: dict[str, Any]) -> float:
        return (b["median_ms"] - a["median_ms"]) / (b["n"] - a["n"])

    lo, hi = slope(points[0], points[1]), slope(points[-2], points[-1])
    return {
        "points": points,
        "marginal_ms_per_item_small": round(lo, 4),
        "marginal_ms_per_item_large": round(hi, 4),
        "large_over_small": round(hi / lo, 2) if lo > 0 else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    out = {
        "results": curve(results_case, SIZES, args.repeat),
        "pregnancies": curve(pregnancies_case, PREG_SIZES, args.repeat),
        "clustered_apl_positives": curve(clustered_apl_case, SIZES, args.repeat),
    }
    text = json.dumps(out, indent=2)
    print(text)
    res = ROOT / "benchmarks" / "results"
    res.mkdir(exist_ok=True)
    (res / "scaling.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
