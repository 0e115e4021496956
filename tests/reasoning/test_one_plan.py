"""One plan (issue 9 §1): no assessment ever holds both sides of a conflict the knowledge base
declares (knowledge/data/populations.yaml `conflicts`), and every recommendation fires only in
its declared population.

The property runs over generated cases: a bounded number in `make test` (500), 10,000 in the
long run (`RPLCARE_LONG=1 pytest -m slow tests/reasoning/test_one_plan.py`, `make test-long`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from casebuilder import TODAY, drawn_case
from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.knowledge import get_kb
from rplcare.knowledge.loader import conflict_side_holds
from rplcare.reasoning.assess import assess
from rplcare.reasoning.engine import population_holds

CONDITIONS = [
    "diabetes_type1",
    "hypothyroidism",
    "hyperthyroidism",
    "pcos",
    "sle",
    "antiphospholipid_syndrome",
    "thrombophilia_inherited",
    "venous_thromboembolism",
    "arterial_thrombosis",
    "cervical_insufficiency",
    "chronic_endometritis",
    "chronic_hypertension",
]
MEDS = [
    "vaginal_progesterone",
    "oral_dydrogesterone",
    "low_dose_aspirin",
    "lmwh",
    "levothyroxine",
    "metformin",
    "warfarin",
    "apixaban",
    "prednisolone",
    "lymphocyte_immunotherapy",
    "bed_rest",
]
GA = st.integers(min_value=5 * 7, max_value=40 * 7).map(lambda d: f"{d // 7}+{d % 7}")


@st.composite
def past_pregnancy(draw: Any) -> dict[str, Any]:
    outcome = draw(st.sampled_from(["miscarriage", "biochemical", "live_birth", "ectopic"]))
    p: dict[str, Any] = {"outcome": outcome, "year": draw(st.integers(2012, 2026))}
    if outcome == "miscarriage":
        d = draw(st.integers(5 * 7, 23 * 7 + 6))
        p["ga"] = f"{d // 7}+{d % 7}"
        if d >= 84:
            p["painless_cervical_dilation"] = draw(st.booleans())
    elif outcome == "live_birth":
        d = draw(st.integers(24 * 7, 41 * 7))
        p["ga"] = f"{d // 7}+{d % 7}"
        if d < 37 * 7:
            p["preterm_cause"] = draw(
                st.sampled_from(["spontaneous", "preeclampsia", "placental_insufficiency"])
            )
    return p


@st.composite
def results(draw: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    first = TODAY - timedelta(days=draw(st.integers(130, 400)))
    second = first + timedelta(days=draw(st.sampled_from([30, 90, 120])))
    for day in [first] + ([second] if draw(st.booleans()) else []):
        if draw(st.booleans()):
            out.append(
                {
                    "test": "lupus_anticoagulant",
                    "value": draw(st.sampled_from(["positive", "negative"])),
                    "date": day.isoformat(),
                }
            )
        if draw(st.booleans()):
            out.append(
                {
                    "test": "anticardiolipin_igg",
                    "value": draw(st.sampled_from([5, 60, "positive"])),
                    "date": day.isoformat(),
                }
            )
            if not isinstance(out[-1]["value"], str):
                out[-1]["unit"] = "GPL"
    if draw(st.booleans()):
        out.append(
            {
                "test": "tsh",
                "value": draw(st.sampled_from([0.1, 1.5, 3.0, 6.0, 12.0])),
                "unit": "mIU/L",
                "date": first.isoformat(),
            }
        )
        out.append(
            {
                "test": "tpo_antibodies",
                "value": draw(st.sampled_from(["positive", "negative"])),
                "date": first.isoformat(),
            }
        )
        if draw(st.booleans()):
            out.append(
                {
                    "test": "free_t4",
                    "value": draw(st.sampled_from([8, 15, 30])),
                    "unit": "pmol/L",
                    "reference_low": 10,
                    "reference_high": 22,
                    "date": first.isoformat(),
                }
            )
    if draw(st.booleans()):
        out.append(
            {
                "test": "uterine_imaging",
                "method": "3d_ultrasound",
                "finding": draw(
                    st.sampled_from(
                        ["normal", "septate_uterus", "submucosal_fibroid", "adenomyosis"]
                    )
                ),
                "date": first.isoformat(),
            }
        )
    return out


@st.composite
def current_pregnancy(draw: Any) -> dict[str, Any] | None:
    if not draw(st.booleans()):
        return None
    ga_days = draw(st.integers(4 * 7, 30 * 7))
    lmp = TODAY - timedelta(days=ga_days)
    conception = draw(
        st.sampled_from([None, "natural", "iui", "ivf", "frozen_transfer", "donor_egg"])
    )
    cp: dict[str, Any] = {
        "lmp": lmp.isoformat(),
        "fetuses": draw(st.sampled_from([1, 1, 2])),
        "symptoms": draw(st.lists(st.sampled_from(["bleeding", "pain"]), unique=True)),
        "treatments": draw(
            st.lists(st.sampled_from(["vaginal_progesterone", "oral_dydrogesterone"]), unique=True)
        ),
    }
    if conception:
        cp["conception"] = conception
    if conception in ("ivf", "frozen_transfer", "donor_egg"):
        cp["transfer_date"] = (lmp + timedelta(days=19)).isoformat()
        cp["embryo_age_days"] = 5
    if conception == "frozen_transfer":
        prep = draw(st.sampled_from([None, "artificial", "natural"]))
        if prep:
            cp["endometrial_preparation"] = prep
    scan_kind = draw(st.sampled_from(["none", "unknown", "intrauterine"]))
    if scan_kind != "none":
        scan: dict[str, Any] = {"date": TODAY.isoformat(), "location": scan_kind}
        if scan_kind == "intrauterine":
            scan.update({"embryo": True, "heartbeat": True})
            if ga_days >= 16 * 7:
                scan["cervical_length_mm"] = draw(st.sampled_from([18, 25, 35]))
        cp["scans"] = [scan]
    return cp


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    cp = draw(current_pregnancy())
    data = drawn_case(draw, [18, 23, 31, 37])
    data["patient"]["conditions"] = draw(
        st.lists(st.sampled_from(CONDITIONS), unique=True, max_size=3)
    )
    data["patient"]["medications"] = draw(st.lists(st.sampled_from(MEDS), unique=True, max_size=3))
    data["gestational_carrier"] = bool(cp) and draw(st.booleans()) and draw(st.booleans())
    data["pregnancies"] = draw(st.lists(past_pregnancy(), min_size=0, max_size=5))
    data["results"] = draw(results())
    if cp:
        data["current_pregnancy"] = cp
        if cp.get("symptoms") or draw(st.booleans()):
            data["results"].append(
                {
                    "test": "hcg",
                    "value": draw(st.sampled_from([0, 800, 2000, 4000])),
                    "unit": "IU/L",
                    "date": TODAY.isoformat(),
                }
            )
    return data


def _check_one_plan(data: dict[str, Any]) -> None:
    try:
        case = load_case(data, today=TODAY)
    except CaseError:
        return  # the generator may build a record the whole-record checks reject
    a = assess(case)
    kb = get_kb()
    statuses = {r.id: r.status for r in a.recommendations}
    for c in kb.conflicts:
        both = all(conflict_side_holds(side, statuses) for side in c.between)
        assert not both, f"conflict {c.between} ({c.why}) in one plan: {data}"
    # population rule: every recommendation shown is inside its declared population
    for r in a.recommendations:
        assert population_holds(kb.recommendations[r.id].population, a.population), r.id
    # urgent first: the action list is sorted by urgency
    order = ("immediate", "same_day", "within_24h", "routine")
    ranks = [order.index(x.urgency) for x in a.actions]
    assert ranks == sorted(ranks)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(cases())
def test_no_assessment_holds_both_sides_of_a_declared_conflict(data):
    """Rule: knowledge/data/populations.yaml `conflicts` (one plan, issue 9 §1), 500 cases."""
    _check_one_plan(data)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("RPLCARE_LONG"), reason="long run: set RPLCARE_LONG=1")
@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(cases())
def test_no_conflict_in_10000_generated_assessments(data):
    """The same rule over 10,000 generated cases (the issue's done-when figure)."""
    _check_one_plan(data)


def test_generated_cases_are_mostly_valid_and_reach_the_conflicting_recommendations():
    """The generator exercises both sides of the declared conflicts (a property over cases that
    never reach them proves nothing). Derandomised: the same 400 cases on every run, so the
    coverage figure cannot flake (a random draw of 300 once reached only 7 of 12 sides)."""
    seen: set[str] = set()
    tried = {"valid": 0, "all": 0}

    @settings(
        max_examples=400,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    @given(cases())
    def collect(data):
        tried["all"] += 1
        try:
            case = load_case(data, today=TODAY)
        except CaseError:
            return
        tried["valid"] += 1
        seen.update(r.id for r in assess(case).recommendations)

    collect()
    assert tried["valid"] >= tried["all"] * 2 // 3, tried
    sides = {side.partition(":")[0] for c in get_kb().conflicts for side in c.between}
    reached = sides & seen
    assert len(reached) >= len(sides) - 3, sorted(sides - seen)


def test_conflict_declaration_with_unknown_id_fails_at_load(tmp_path):
    """Rule: conflicts name existing recommendations and statuses (checked at load)."""
    import shutil

    from rplcare.knowledge import KnowledgeError, load_kb
    from rplcare.knowledge.loader import DATA_DIR

    d = tmp_path / "kb"
    shutil.copytree(DATA_DIR, d)
    f = d / "populations.yaml"
    f.write_text(
        f.read_text(encoding="utf-8")
        + "  - between: [treat.no_such_thing, 'treat.folic_acid:not_recommended']\n"
        + "    why: test\n",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError) as exc:
        load_kb(d)
    text = str(exc.value)
    assert "unknown recommendation 'treat.no_such_thing'" in text
    assert "treat.folic_acid never has status 'not_recommended'" in text


def test_every_recommendation_declares_a_population(tmp_path):
    """Rule: each recommendation states its population (issue 9 §1); a missing entry fails."""
    import shutil

    from rplcare.knowledge import KnowledgeError, load_kb
    from rplcare.knowledge.loader import DATA_DIR

    d = tmp_path / "kb"
    shutil.copytree(DATA_DIR, d)
    f = d / "populations.yaml"
    f.write_text(
        f.read_text(encoding="utf-8").replace("  advice.mental_health: {}\n", ""), encoding="utf-8"
    )
    with pytest.raises(KnowledgeError, match=r"advice\.mental_health: no population declared"):
        load_kb(d)
