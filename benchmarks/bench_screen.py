"""Population screening benchmarks (issue 14): patients/s against the orjson parse floor.

Run: `.venv/bin/python benchmarks/bench_screen.py [--patients 10000] [--spark]`.
Generates (once, under benchmarks/data/, never committed) a Bulk export scaled from the
Synthea samples with scripts/scale_bulk.py, then measures in the same run:

- floor: orjson parsing every line of the export with no other work (one core);
- local engine, 1 and 2 workers: whole-population patients/s, its ratio to the floor, and
  candidate assessments/s/core (candidates ÷ (wall time × workers) is a lower bound: the
  parse of the whole export is in the same wall time);
- the per-patient function alone on the candidates (assessments/s on one core);
- peak memory (max RSS of the run's process tree, from getrusage) of each run;
- with --spark: the Spark start, local[1] and local[2];
- with --relevance: the relevance filter's effect, the local engine on 1 worker with and
  without it (`relevance=False` keeps every resource up to the per-patient function), as
  seconds per 1,000 patients of the whole population (only this mode runs).

Prints JSON and writes benchmarks/results/screen.json. The machine is shared: the ratios to
the floor measured in the same run are what compare, not the absolute rates.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA = ROOT.parent / "shared" / "fhir-samples" / "synthea"
if not SYNTHEA.exists():
    SYNTHEA = Path("/work/shared/fhir-samples/synthea")
TODAY = "2026-11-23"


def export_for(n: int, data: Path | None = None) -> Path:
    out = (data or ROOT / "benchmarks" / "data") / f"bulk-{n}"
    if not (out / "manifest.json").exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "scale_bulk.py"),
                str(SYNTHEA),
                str(out),
                "--patients",
                str(n),
            ],
            check=True,
        )
    return out


def floor(export: Path) -> dict[str, float]:
    import orjson

    t, c = time.perf_counter(), time.process_time()
    lines = 0
    for f in sorted(export.glob("*.ndjson")):
        with open(f, "rb") as fh:
            for line in fh:
                orjson.loads(line)
                lines += 1
    return {
        "seconds": time.perf_counter() - t,
        "cpu_seconds": time.process_time() - c,
        "lines": lines,
    }


def run_child(code: str) -> dict:
    """Run code in a fresh interpreter; returns its JSON plus the peak RSS of its tree."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    data = json.loads(p.stdout.strip().splitlines()[-1])
    data["peak_rss_mb"] = round(max(after, before) / 1024, 1)
    data["load_average_after"] = round(os.getloadavg()[0], 1)
    return data


LOCAL = """
import json, resource, time, tempfile
from datetime import date
from pathlib import Path
from rplcare.screening.local import screen_local
def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime
out = Path(tempfile.mkdtemp()) / "rows.ndjson"
t, c = time.perf_counter(), cpu()
s = screen_local([Path({export!r})], out, date.fromisoformat({today!r}), workers={workers},
                 relevance={relevance})
dt = time.perf_counter() - t
print(json.dumps({{"seconds": dt, "cpu_seconds": cpu() - c, "patients": s.patients_read,
                  "candidates": s.candidates, "screened": s.screened}}))
"""

PER_PATIENT = """
import gc, json, time
from datetime import date
from pathlib import Path
import orjson
from rplcare.interop.fhir.bulk import read_patients
from rplcare.interop.fhir.read import readable_case
from rplcare.case.errors import CaseError
from rplcare.knowledge import get_kb
from rplcare.reasoning.assess import assess
from rplcare.screening.candidates import is_candidate_resource
from rplcare.screening.fastmap import fast_case
from rplcare.screening.local import _warm
from rplcare.screening.patient import screen_patient
from rplcare.screening.relevance import is_relevant
day = date.fromisoformat({today!r})
groups = [g for g in read_patients([Path({export!r})], mark=is_candidate_resource,
                                   keep=is_relevant) if g.marked]
groups = groups[:300]
_warm()  # what the pool's workers do once (knowledge base, patterns, first chart)
screen_patient(groups[0].key, groups[0].lines, day, marked=True)
t, c = time.perf_counter(), time.process_time()
for g in groups:
    screen_patient(g.key, g.lines, day, marked=True)
dt, dc = time.perf_counter() - t, time.process_time() - c
# the split of the same work (wall ns, GC off as screen_patient has it): parse, mapping,
# case model (load_case), assess(); the rest of the function (row, freeing the chart) is
# the total's remainder
kb, ns = get_kb(), time.perf_counter_ns
split = dict.fromkeys(("parse", "map", "case_model", "assess"), 0)
gc.disable()
for g in groups:
    t0 = ns(); res = [orjson.loads(x) for x in g.lines]
    t1 = ns(); m = fast_case(res, g.key, day)
    t2 = ns()
    try:
        case, _ = readable_case(m.case, dict(m.sources), today=day)
        t3 = ns(); assess(case, today=day, kb=kb)
    except CaseError:
        t3 = ns()
    t4 = ns()
    for k, a, b in (("parse", t0, t1), ("map", t1, t2), ("case_model", t2, t3), ("assess", t3, t4)):
        split[k] += b - a
    del res, m
gc.enable()
ms = {{k: round(v / 1e6 / len(groups), 4) for k, v in split.items()}}
ms["rest"] = round(1000 * dt / len(groups) - sum(ms.values()), 4)
print(json.dumps({{"seconds": dt, "cpu_seconds": dc, "assessed": len(groups),
                  "lines_per_candidate": sum(len(g.lines) for g in groups) / len(groups),
                  "ms_per_candidate_wall_split": ms}}))
"""

SPARK = """
import json, time, tempfile
from datetime import date
from pathlib import Path
t = time.perf_counter()
from rplcare.screening.spark import spark_session, screen_spark
s = spark_session({master!r})
s.sparkContext.parallelize(range(4), 2).count()
start = time.perf_counter() - t
out = Path(tempfile.mkdtemp()) / "rows.parquet"
t = time.perf_counter()
r = screen_spark([Path({export!r})], out, date.fromisoformat({today!r}), spark=s,
                 prefilter={prefilter!r})
dt = time.perf_counter() - t
s.stop()
print(json.dumps({{"start_seconds": start, "seconds": dt, "patients": r.patients_read}}))
"""


def relevance_ab(export: Path, patients: int) -> None:
    res: dict = {"patients": patients, "workers": 1}
    for name, flag in (("without_filter", False), ("with_filter", True)):
        r = run_child(LOCAL.format(export=str(export), today=TODAY, workers=1, relevance=flag))
        r["ms_per_patient"] = 1000 * r["seconds"] / r["patients"]
        r["patients_per_s"] = r["patients"] / r["seconds"]
        res[name] = r
    res["speedup"] = res["without_filter"]["seconds"] / res["with_filter"]["seconds"]
    print(json.dumps(res, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "screen_relevance.json").write_text(json.dumps(res, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--spark", action="store_true")
    ap.add_argument("--spark-only", action="store_true", help="the floor and Spark only")
    ap.add_argument("--workers", default="1,2", help="local runs, e.g. 2,1")
    ap.add_argument("--prefilter", default="views", choices=("views", "codes"), help="Spark's")
    ap.add_argument(
        "--no-per-patient", action="store_true", help="skip the per-patient function alone"
    )
    ap.add_argument("--relevance", action="store_true", help="only the relevance-filter A/B")
    ap.add_argument(
        "--data", type=Path, help="folder of the generated exports (default benchmarks/data)"
    )
    a = ap.parse_args()
    export = export_for(a.patients, a.data)
    if a.relevance:
        relevance_ab(export, a.patients)
        return
    fl = floor(export)
    res: dict = {
        "patients": a.patients,
        "export_mb": round(sum(f.stat().st_size for f in export.glob("*.ndjson")) / 2**20, 1),
    }
    res["floor"] = {
        **fl,
        "lines_per_s": fl["lines"] / fl["seconds"],
        "patients_per_s": a.patients / fl["seconds"],
    }
    print(json.dumps({"floor": res["floor"]}), flush=True)
    for w in [int(x) for x in a.workers.split(",")] if not a.spark_only else ():
        r = run_child(LOCAL.format(export=str(export), today=TODAY, workers=w, relevance=True))
        r["patients_per_s"] = r["patients"] / r["seconds"]
        r["ratio_to_floor"] = r["patients_per_s"] / res["floor"]["patients_per_s"]
        # on a shared machine: CPU time of the run (all processes) against the floor's
        r["cpu_ratio_to_floor"] = res["floor"]["cpu_seconds"] / r["cpu_seconds"]
        r["patients_per_cpu_s"] = r["patients"] / r["cpu_seconds"]
        res[f"local_{w}"] = r
        print(json.dumps({f"local_{w}": r}), flush=True)  # each run as it ends
    if not (a.spark_only or a.no_per_patient):
        r = run_child(PER_PATIENT.format(export=str(export), today=TODAY))
        r["assessments_per_s_one_core"] = r["assessed"] / r["seconds"]
        r["assessments_per_cpu_s"] = r["assessed"] / r["cpu_seconds"]
        res["per_patient_function"] = r
    if a.spark or a.spark_only:
        for m in ("local[1]", "local[2]"):
            res[f"spark_{m}"] = run_child(
                SPARK.format(export=str(export), today=TODAY, master=m, prefilter=a.prefilter)
            )
    print(json.dumps(res, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    name = f"screen-{a.patients}{'-spark' if a.spark_only else ''}.json"
    (out / name).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
