"""Rule (issue 12 §1): each optimisation of the hot path gives what the code before it gave,
on every example and on generated cases (the one-plan strategy of test_one_plan.py):

- rules compiled once per knowledge base: `recommend()` gives the recommendations of the
  rule-by-rule evaluation it replaced (kept here as the oracle, as it was);
- finding ids kept between additions: always the ids of the set;
- the case's read views taken from pydantic's private store: what pydantic's attribute
  lookup gives;
- the knowledge base kept between runs (util/cache.py): the same assessment JSON as one
  loaded from the files.
The whole outputs are also pinned byte for byte by test_byte_identical.py.
"""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoning.test_one_plan import cases
from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.knowledge import KnowledgeBase, get_kb, load_kb
from rplcare.knowledge.loader import DATA_DIR
from rplcare.knowledge.model import Recommendation
from rplcare.reasoning import engine
from rplcare.reasoning.assess import assess
from rplcare.reasoning.findings import FindingSet

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 23)
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
KB = get_kb()
FRESH_KB = load_kb(DATA_DIR)
PICKLED_KB: KnowledgeBase = pickle.loads(pickle.dumps(FRESH_KB, pickle.HIGHEST_PROTOCOL))
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def reference_evaluate(
    rec: Recommendation, fs: FindingSet, kb: KnowledgeBase, population: Any
) -> engine.Rec | None:
    """`engine.evaluate` as it was before the rules were compiled (issue 12)."""
    present = frozenset(f.id for f in fs)
    ctx = population or engine.PopulationContext.from_findings(fs)
    if not engine.population_holds(rec.population, ctx):
        return None
    for i, rule in enumerate(rec.rules):
        if not rule.when.holds(present) or not engine.population_holds(rule.population, ctx):
            continue
        refs = [engine._ref_json(kb, r) for r in rule.sources]
        verified = all(v for _, v in refs)
        text = rule.text or rec.text
        patient_text = rule.patient_text or rec.patient_text
        urgency, timing = rule.urgency, rule.timing
        wp = rule.when_pregnant
        if wp is None and rule.text is None and rec.population is not None:
            wp = rec.population.when_pregnant
        if ctx.stage == "pregnant" and wp is not None:
            text = wp.text or text
            patient_text = wp.patient_text or patient_text
            urgency = wp.urgency or urgency
            timing = wp.timing or timing
        if not verified:
            unverified = ", ".join(dict.fromkeys(r["id"] for r, v in refs if not v))
            text = f"{text} {engine.UNVERIFIED_NOTE[:-1]}: {unverified})"
        return engine.Rec(
            id=rec.id,
            kind=rec.kind,
            status=rule.status,
            because=list(rule.when.all) + [f for f in rule.when.any if f in present],
            sources=[r for r, _ in refs],
            text=text,
            patient_text=patient_text,
            title=rec.title,
            prominent=rule.prominent,
            verified=verified,
            rule_index=i,
            urgency=urgency,
            timing=timing,
        )
    return None


def _check_case(case: Any) -> None:
    a = assess(case, today=TODAY, kb=KB)
    for rec in KB.recommendations.values():
        assert engine.evaluate(rec, a.findings, KB, a.population) == reference_evaluate(
            rec, a.findings, KB, a.population
        ), rec.id
    satisfied = KB.param("workup.satisfied_by")
    expected = [
        r
        for rec in KB.recommendations.values()
        if (r := reference_evaluate(rec, a.findings, KB, a.population)) is not None
        and not (r.status != "not_recommended" and satisfied.get(rec.id) in a.findings)
    ]
    assert engine.recommend(a.findings, KB, a.population) == expected
    assert a.findings.ids == frozenset(f.id for f in a.findings)
    for r in case.results:
        private = r.__pydantic_private__
        assert (r.code, r.si, r.bound_si, r.ref_high_si, r.ref_low_si, r.qualitative) == (
            private["_code"],
            private["_si"],
            private["_bound_si"],
            private["_ref_high_si"],
            private["_ref_low_si"],
            private["_qual"],
        )
        assert r.above_reference_high == private["_above_ref"]
    for definition in ("eshre2022", "asrm2012", "rcog2023"):
        outs = {
            assess(case, today=TODAY, definition=definition, kb=kb).to_json()
            for kb in (FRESH_KB, PICKLED_KB)
        }
        assert len(outs) == 1, definition


def test_every_example_takes_the_fast_paths_to_the_same_plan():
    for p in EXAMPLES:
        _check_case(load_case(p, today=TODAY))


@SETTINGS
@given(cases())
def test_generated_cases_take_the_fast_paths_to_the_same_plan(data):
    try:
        case = load_case(data, today=TODAY)
    except CaseError:
        return
    _check_case(case)


finding_ids = st.sampled_from(sorted(KB.findings))


@SETTINGS
@given(st.lists(finding_ids, max_size=30), st.lists(st.integers(0, 30), max_size=10))
def test_finding_ids_follow_every_addition(ids, reads_at):
    fs = FindingSet()
    for i, fid in enumerate(ids):
        if i in reads_at:
            assert fs.ids == frozenset(f.id for f in fs)
        fs.add(fid, "text", [f"e{i}"])
    assert fs.ids == frozenset(ids)


@SETTINGS
@given(st.frozensets(finding_ids, max_size=40))
def test_a_compiled_condition_holds_where_the_rule_does(present):
    for rec in KB.recommendations.values():
        for rule in rec.rules:
            compiled = engine._compile_rule(KB, rule)
            assert compiled.holds(present) == rule.when.holds(present), rec.id
