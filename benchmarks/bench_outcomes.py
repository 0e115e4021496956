"""Outcomes registry at scale: the figures for N generated patients on SQLite and PostgreSQL.

The store is filled in bulk (cases, one case version each, and the registry rows derived by
`rplcare.outcomes.facts.derive` from the generated cases — causes from the generator instead of
running `assess()` 100,000 times), then the registry report is computed `--repeat` times:
overall, by age band and by cause. Reported: the median wall time of each, and the peak
Python memory (tracemalloc) of one computation, plus the process's max RSS.

    .venv/bin/python benchmarks/bench_outcomes.py --patients 100000

Prints JSON and writes benchmarks/results/outcomes.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _report  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from rplcare.outcomes import cohort, facts, registry  # noqa: E402
from rplcare.store import pgtemp  # noqa: E402
from rplcare.store.db import Store  # noqa: E402
from rplcare.store.models import CaseRecord, CaseVersion  # noqa: E402

TODAY = date(2026, 11, 23)
CAUSE_FINDING = {
    "APS": ["cause.antiphospholipid_syndrome"],
    "thyroid": ["cause.subclinical_hypothyroidism"],
    "uterine": ["cause.septate_uterus"],
    "parental karyotype": ["cause.parental_structural_rearrangement"],
    "unexplained": ["cause.unexplained"],
    "none": [],
}


@functools.cache
def expected(age: int | None, n: int) -> float | None:
    return facts.brigham_expected(age, n)


def fill(store: Store, n: int, seed: int) -> float:
    rng = random.Random(seed)
    t0 = time.perf_counter()
    chunk = 5000
    for start in range(0, n, chunk):
        patients = [
            cohort.patient(rng, i, TODAY, (2015, 2025)) for i in range(start, min(n, start + chunk))
        ]
        with store.write() as s:
            s.execute(insert(CaseRecord), [{"id": p.case_id} for p in patients])
            rows = s.execute(
                insert(CaseVersion).returning(CaseVersion.id, CaseVersion.case_id),
                [
                    {"case_id": p.case_id, "n": 1, "data": p.versions[-1], "event": "imported"}
                    for p in patients
                ],
            ).all()
            vid = {cid: v for v, cid in rows}
            items = []
            for p in patients:
                treatments = {f"medication: {m}" for q in p.pregnancies for m in q.treatments}
                items.append(
                    (
                        p.case_id,
                        facts.derive(
                            p.versions[0],
                            p.versions[-1],
                            first_written=p.index_date,
                            latest_written=p.index_date,
                            version_id=vid[p.case_id],
                            clinician=p.clinician,
                            causes=CAUSE_FINDING[p.cause],
                            treatments=treatments,
                            expected=expected,
                        ),
                    )
                )
            facts.write_facts(s, items)
    return time.perf_counter() - t0


def measure(store: Store, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for by in (None, "age", "cause"):
        opts = registry.Options(today=TODAY, by=by, claim=0.85)
        registry.report_for(store, opts)  # warm: imports, statement cache, page cache
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            report = registry.report_for(store, opts)
            times.append(time.perf_counter() - t)
        tracemalloc.start()
        registry.report_for(store, opts)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[by or "overall"] = {
            "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3),
            "tracemalloc_peak_kib": round(peak / 1024, 1),
            "patients": report["patients"],
        }
    return out


def run(name: str, url: str, n: int, repeat: int, seed: int) -> dict[str, Any]:
    store = Store(url)
    try:
        fill_s = fill(store, n, seed)
        if store.engine.dialect.name == "postgresql":
            with store.engine.connect() as c:
                c.exec_driver_sql("ANALYZE")
        else:
            with store.engine.connect() as c:
                c.exec_driver_sql("ANALYZE")
        result = {"fill_s": round(fill_s, 1), **measure(store, repeat)}
    finally:
        store.dispose()
    result["process_max_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    return result


def markdown(report: dict[str, Any], load_before: list[float]) -> str:
    headers = ["backend", "fill s", "report by", "median s", "max s", "peak KiB"]
    rows = []
    for name, r in report["results"].items():
        if skipped := _report.skipped_row(name, r, len(headers)):
            rows.append(skipped)
            continue
        for by in ("overall", "age", "cause"):
            v = r.get(by) or {}
            fill = r.get("fill_s") if by == "overall" else ""
            rows.append(
                (name, fill, by, v.get("median_s"), v.get("max_s"), v.get("tracemalloc_peak_kib"))
            )
    return _report.section(
        "Outcomes registry at scale",
        load_before,
        f"`python benchmarks/bench_outcomes.py --patients {report['patients']} --repeat "
        f"{report['repeat']}`: the store filled in bulk, then the registry report computed "
        "repeatedly (median and worst of the repeats, peak traced memory of one).",
        _report.table(headers, rows),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "outcomes.json")
    _report.add_common_args(ap)
    args = ap.parse_args(argv)
    if args.quick:
        args.patients, args.repeat, args.backends = 200, 1, "sqlite"
    load_before = _report.loadavg()
    report: dict[str, Any] = {
        "benchmark": "outcomes registry report (overall, by age, by cause)",
        "patients": args.patients,
        "repeat": args.repeat,
        "machine": _report.machine(),
        "results": {},
    }
    for name in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix=f"rplcare-bench-outcomes-{name}-") as tmp:
            if name == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
                report["results"][name] = run(name, url, args.patients, args.repeat, args.seed)
            elif name == "postgres":
                reason = pgtemp.unavailable_reason()
                if reason:
                    report["results"][name] = {"skipped": reason}
                    continue
                with pgtemp.TempPostgres() as pg:
                    url = pg.create_database("bench")
                    report["results"][name] = run(name, url, args.patients, args.repeat, args.seed)
            else:
                ap.error(f"unknown backend {name!r}")
        print(json.dumps({name: report["results"][name]}), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    text = markdown(report, load_before)
    _report.write_section("outcomes", text, path=args.report, quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
