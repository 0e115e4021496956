"""Write tests/reasoning/golden/outputs.json.gz: the golden digests that
tests/reasoning/test_byte_identical.py compares every run with.

For each case of the corpus, under each definition and each luteal policy, the SHA-256 of
- `Assessment.to_json()` (the assessment JSON every face returns),
- the FHIR assessment Bundle (`interop.fhir.export.assessment_json`, Provenance.recorded fixed),
- the CDS patient-view cards (JSON of the Card models, keys sorted),
as of the frozen date of tests/conftest.py (TODAY, with the process in Pacific/Auckland and the
clock moved to CLOCK, as in the suite).

The corpus is stored in the file itself (the case inputs, not only their digests), so the test
does not depend on a generator's draws: the examples in examples/, a deterministic generated
corpus (the one-plan strategy of tests/reasoning/test_one_plan.py, derandomized, no database),
the scaling shapes of benchmarks/bench_scaling.py at small sizes, and a large case (20
pregnancies, 60 results, 10 scans).

The digests are the output of the code as it was when they were written (first: main before the
speed work). An optimisation must leave them unchanged. When a change is MEANT to alter an
output (a knowledge-base edit, a new field), regenerate and say so in the commit message:

    cd <worktree> && PYTHONPATH=$PWD/src .venv/bin/python tests/reasoning/golden/make_golden.py

When the file exists its stored case inputs are kept and only the digests are recomputed;
`--fresh-corpus` redraws the corpus (examples, generated cases) as well.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent / "outputs.json.gz"
TODAY = date(2026, 11, 23)
RECORDED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
POLICIES = ("guideline", "article")
GENERATED = 150  # valid generated cases kept


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def large_case() -> dict[str, Any]:
    """20 pregnancies, 60 results, 10 scans (the issue's large case)."""
    lmp = TODAY - timedelta(days=9 * 7)
    tests = [
        ("lupus_anticoagulant", "positive", None),
        ("anticardiolipin_igg", 45, "GPL"),
        ("tsh", 3.1, "mIU/L"),
        ("tpo_antibodies", "positive", None),
        ("hba1c", 38, "mmol/mol"),
        ("anticardiolipin_igm", 4, "MPL"),
    ]
    results: list[dict[str, Any]] = []
    for i in range(60):
        test, value, unit = tests[i % len(tests)]
        r: dict[str, Any] = {
            "test": test,
            "value": value,
            "date": (TODAY - timedelta(days=700 - 11 * i)).isoformat(),
        }
        if unit:
            r["unit"] = unit
        results.append(r)
    scans = []
    for i in range(10):
        day = lmp + timedelta(days=5 * 7 + 3 * i)
        scan: dict[str, Any] = {"date": day.isoformat(), "location": "intrauterine"}
        if i >= 3:
            scan.update({"embryo": True, "heartbeat": True})
        scans.append(scan)
    pregs = []
    for i in range(20):
        if i % 4 == 3:
            pregs.append({"outcome": "live_birth", "ga": "39+0", "year": 2000 + i})
        else:
            pregs.append({"outcome": "miscarriage", "ga": f"{6 + i % 5}+{i % 7}", "year": 2000 + i})
    return {
        "format": "rplcare.case/1",
        "id": "large",
        "assessed_on": TODAY.isoformat(),
        "patient": {"age_years": 38, "bmi": 24, "smoking": False},
        "pregnancies": pregs,
        "results": results,
        "current_pregnancy": {"lmp": lmp.isoformat(), "fetuses": 1, "scans": scans},
    }


def draw_generated(n: int) -> list[dict[str, Any]]:
    """n valid cases from the one-plan strategy, derandomized (the same on every machine)."""
    sys.path.insert(0, str(ROOT))
    from hypothesis import HealthCheck, Phase, given, settings
    from tests.reasoning.test_one_plan import cases

    from rplcare.case.errors import CaseError
    from rplcare.case.loader import load_case

    kept: list[dict[str, Any]] = []

    @settings(
        max_examples=n * 2,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    @given(cases())
    def collect(data: dict[str, Any]) -> None:
        if len(kept) >= n:
            return
        try:
            load_case(data, today=TODAY)
        except CaseError:
            return
        kept.append(json.loads(json.dumps(data)))

    collect()
    for i, c in enumerate(kept):
        c["id"] = f"gen-{i:03d}"
    return kept


def corpus(fresh: bool) -> dict[str, Any]:
    """name -> case input (a mapping; an example is kept as its YAML text)."""
    if OUT.exists() and not fresh:
        return json.loads(gzip.decompress(OUT.read_bytes()))["cases"]
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_scaling as sc

    out: dict[str, Any] = {}
    for p in sorted((ROOT / "examples").glob("*.yaml")):
        out[f"example/{p.stem}"] = p.read_text(encoding="utf-8")  # the YAML text, as read
    out["large"] = large_case()
    out["scaling/results-100"] = sc.results_case(100)
    out["scaling/pregnancies-20"] = sc.pregnancies_case(20)
    out["scaling/clustered-apl-50"] = sc.clustered_apl_case(50)
    out["scaling/clustered-apl-50-late"] = sc.clustered_apl_case(50)
    out["scaling/clustered-apl-50-late"]["results"].append(
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-05-01"}
    )
    for i, c in enumerate(draw_generated(GENERATED)):
        out[f"generated/{i:03d}"] = c
    return out


def digests(name: str, data: Any, definition: str, policy: str) -> dict[str, str]:
    from rplcare.case.loader import load_case
    from rplcare.interop.cds.cards import _CardFactory, _Issued, patient_view_cards
    from rplcare.interop.fhir.export import assessment_json
    from rplcare.reasoning.assess import assess

    case = load_case(data, today=TODAY)
    a = assess(case, today=TODAY, definition=definition, luteal_policy=policy)
    cards = patient_view_cards(a, _CardFactory(_Issued(), f"golden:{name}", "patient-1"))
    cards_json = json.dumps(
        [c.model_dump(mode="json", exclude_none=True) for c in cards],
        sort_keys=True,
        ensure_ascii=False,
    )
    return {
        "assessment": _sha(a.to_json()),
        "assessment_compact": _sha(a.to_json(indent=None)),
        "fhir": _sha(assessment_json(a, case, recorded=RECORDED)),
        "cards": _sha(cards_json),
    }


def compute(cases: dict[str, Any]) -> dict[str, dict[str, str]]:
    from rplcare.reasoning.classification import DEFINITIONS

    out = {}
    for name, data in cases.items():
        for definition in sorted(DEFINITIONS):
            for policy in POLICIES:
                out[f"{name}|{definition}|{policy}"] = digests(name, data, definition, policy)
    return out


def frozen() -> Any:
    """The suite's clock and zone (tests/conftest.py), for a run outside pytest."""
    import time_machine

    os.environ["TZ"] = "Pacific/Auckland"
    time.tzset()
    from zoneinfo import ZoneInfo

    return time_machine.travel(datetime(2027, 2, 14, 0, 30, tzinfo=ZoneInfo("Pacific/Auckland")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fresh-corpus", action="store_true", help="redraw the case inputs")
    args = ap.parse_args()
    with frozen():
        cases = corpus(args.fresh_corpus)
        doc = {
            "format": "rplcare.golden/1",
            "today": TODAY.isoformat(),
            "cases": cases,
            "digests": compute(cases),
        }
    OUT.write_bytes(gzip.compress(json.dumps(doc, sort_keys=True).encode(), mtime=0))
    print(f"{OUT}: {len(cases)} cases, {len(doc['digests'])} digests")


if __name__ == "__main__":
    main()
