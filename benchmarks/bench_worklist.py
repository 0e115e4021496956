"""The worklist (issue 11 §3): one page of the case list, cold and warm, on SQLite and PostgreSQL.

Loads `--cases` cases (the examples with new ids, each with patient details), then times, in
one process against the store (no HTTP):

1. cold: the first list, which assesses and stores every case once and builds its row;
2. warm: the same list again (no assessment: rows read from the `worklist` table), a filtered
   and sorted third page, and a name search — each the median of `--repeat` runs;
3. for comparison, the list as it was before the worklist table (`list_cases` + the stored
   assessment of every case read and its badges computed in Python).

    python benchmarks/bench_worklist.py [--cases 1000] [--repeat 5] [--backends sqlite,postgres]

Prints JSON and writes benchmarks/results/worklist.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rplcare.store import patients, pgtemp  # noqa: E402
from rplcare.store import repository as repo  # noqa: E402
from rplcare.store import worklist as wl  # noqa: E402
from rplcare.store.db import Store  # noqa: E402


def _ms(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return round(1000 * (time.perf_counter() - t0), 1)


def run(url: str, n: int, repeat: int) -> dict[str, Any]:
    examples = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "examples").glob("*.yaml"))]
    store = Store(url)
    try:
        with store.write() as s:
            user = repo.create_user(s, "clin", "clinician", None)
            for i in range(n):
                case = {**examples[i % len(examples)], "id": f"c{i:05d}"}
                repo.create_case(s, case, user)
                who = {"name": f"Patient {i}", "mrn": f"M{i:05d}"}
                patients.set_identity(s, case["id"], who, user)

        def page(query: wl.Query) -> Any:
            def go() -> None:
                with store.write() as s:
                    wl.worklist(s, query)

            return go

        def old_list() -> None:
            with store.write() as s:
                for _, v in repo.list_cases(s, limit=n):
                    repo.case_status(repo.assessment_for(s, v))

        out: dict[str, Any] = {"cold_first_page_ms": _ms(page(wl.Query()))}
        views = {
            "warm_first_page_ms": wl.Query(),
            "warm_pregnant_by_name_page_3_ms": wl.Query(status=("pregnant",), sort="name", page=3),
            "warm_search_name_ms": wl.Query(q="patient 17"),
        }
        for key, query in views.items():
            out[key] = statistics.median(_ms(page(query)) for _ in range(repeat))
        out["before_whole_list_ms"] = statistics.median(_ms(old_list) for _ in range(repeat))
        return out
    finally:
        store.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "worklist.json")
    args = ap.parse_args()
    report: dict[str, Any] = {
        "benchmark": "worklist page (cold, warm, filtered, search) vs the list before it",
        "cases": args.cases,
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "results": {},
    }
    for name in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix=f"rplcare-bench-worklist-{name}-") as tmp:
            if name == "sqlite":
                report["results"][name] = run(
                    f"sqlite:///{Path(tmp) / 'bench.db'}", args.cases, args.repeat
                )
            elif name == "postgres":
                reason = pgtemp.unavailable_reason()
                if reason:
                    report["results"][name] = {"skipped": reason}
                    continue
                with pgtemp.TempPostgres() as pg:
                    url = pg.create_database("bench")
                    report["results"][name] = run(url, args.cases, args.repeat)
            else:
                ap.error(f"unknown backend {name!r}")
        print(json.dumps({name: report["results"][name]}), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
