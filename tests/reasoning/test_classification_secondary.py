"""Rule: primary vs secondary RPL by the order of the pregnancies (ESHRE; wording in
shared/clinical/guidelines.md 1.2: "secondary = RPL after one or more pregnancies beyond 22
weeks", primary = no previous viable pregnancy; the ESHRE 2022 update keeps the ESHRE
terminology). Secondary means the losses came AFTER a live birth or a pregnancy that reached
22+0: a birth that came only after every loss leaves the RPL primary; a birth between losses
makes it secondary. "After" is by the dates recorded (full dates, else years), and only where
the record cannot tell, by the list order the case format defines (past pregnancies oldest
first).

Expected types are written by hand from that wording (22+0 = 154 days, the mark); the
property test computes its oracle from the generated dates alone, never from the engine.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casebuilder import TODAY, case
from rplcare.case.loader import load_case
from rplcare.knowledge import get_kb
from rplcare.reasoning.classification import classify


def _m(when: str, ga: str = "8+0") -> dict[str, Any]:
    return {"outcome": "miscarriage", "ga": ga, **_when(when)}


def _lb(when: str | None, ga: str = "39+0") -> dict[str, Any]:
    return {"outcome": "live_birth", "ga": ga, **_when(when)}


def _when(when: str | None) -> dict[str, Any]:
    if when is None:
        return {}
    return {"year": int(when)} if len(when) == 4 else {"date": when}


def _type(pregnancies: list[dict[str, Any]], definition: str = "eshre2022") -> str | None:
    c = load_case(case(pregnancies=pregnancies), today=TODAY)
    return classify(c, definition, get_kb()).type


TABLE = [
    # (why, pregnancies, expected type)
    ("birth before the losses", [_lb("2019"), _m("2022"), _m("2023")], "secondary"),
    ("birth only after all losses", [_m("2019"), _m("2020"), _lb("2022")], "primary"),
    ("birth between the losses", [_m("2019"), _lb("2021"), _m("2023")], "secondary"),
    ("losses only", [_m("2021"), _m("2022")], "primary"),
    (
        "stillbirth at 30+0 before the losses",
        [{"outcome": "stillbirth", "ga": "30+0", "year": 2018}, _m("2021"), _m("2022")],
        "secondary",
    ),
    (
        "stillbirth at 30+0 only after the losses",
        [_m("2018"), _m("2019"), {"outcome": "stillbirth", "ga": "30+0", "year": 2021}],
        "primary",
    ),
    (
        "termination at 22+0 (reached the mark) before the losses",
        [{"outcome": "termination", "ga": "22+0", "year": 2017}, _m("2020"), _m("2021")],
        "secondary",
    ),
    (
        "termination at 21+6 (below the mark) before the losses",
        [{"outcome": "termination", "ga": "21+6", "year": 2017}, _m("2020"), _m("2021")],
        "primary",
    ),
    (
        "termination with no GA, seen ongoing past 24 weeks (reached_weeks 24), before the losses",
        [{"outcome": "termination", "reached_weeks": 24, "year": 2017}, _m("2020"), _m("2021")],
        "secondary",
    ),
    (
        "termination with no GA, seen ongoing past 12 weeks only, before the losses",
        [{"outcome": "termination", "reached_weeks": 12, "year": 2017}, _m("2020"), _m("2021")],
        "primary",
    ),
    (
        "preterm live birth at 23+0 before the losses",
        [_lb("2016", ga="23+0"), _m("2020"), _m("2021")],
        "secondary",
    ),
    (
        "ectopic before the losses is no viable pregnancy",
        [{"outcome": "ectopic", "year": 2017}, _m("2020"), _m("2021")],
        "primary",
    ),
    (
        "dates, not list order: the birth is listed last but dated first",
        [_m("2023-05-01"), _m("2024-02-01"), _lb("2020-06-01")],
        "secondary",
    ),
    (
        "dates, not list order: the birth is listed first but dated last",
        [_lb("2025-01-10"), _m("2021-03-01"), _m("2022-04-01")],
        "primary",
    ),
    (
        "full dates decide within a year",
        [_m("2024-09-01"), _lb("2024-01-15"), _m("2024-11-20", ga="6+0")],
        "secondary",
    ),
    ("undated: the list order (oldest first)", [_lb(None), _m(None), _m(None)], "secondary"),
    ("undated, birth listed last", [_m(None), _m(None), _lb(None)], "primary"),
    ("same year, year only: the list order", [_m("2024"), _m("2024"), _lb("2024")], "primary"),
    (
        "biochemical loss after the birth counts as a loss (ESHRE)",
        [_m("2018"), _lb("2020"), {"outcome": "biochemical", "year": 2022}],
        "secondary",
    ),
    ("no loss: no type", [_lb("2020"), _lb("2022")], None),
]


@pytest.mark.parametrize(("why", "pregnancies", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_primary_or_secondary_by_what_came_before_the_losses(
    why: str, pregnancies: list[dict[str, Any]], expected: str | None
) -> None:
    assert _type(pregnancies) == expected, why


@pytest.mark.parametrize("definition", ["asrm2012", "rcog2023"])
def test_type_is_the_same_under_every_definition(definition: str) -> None:
    """The type describes the history, not the counting rule."""
    assert _type([_m("2019"), _m("2020"), _lb("2022")], definition) == "primary"
    assert _type([_lb("2019"), _m("2021"), _m("2022")], definition) == "secondary"


# -- property: the type follows the dates, whatever order the list is in ----------------------

# (outcome, GA in days or None, reached the mark by hand: live birth or GA >= 154 days)
KINDS = [
    ("miscarriage", 56, False),
    ("miscarriage", 100, False),
    ("biochemical", None, False),
    ("live_birth", 273, True),
    ("live_birth", 200, True),
    ("stillbirth", 210, True),
    ("termination", 70, False),
    ("ectopic", None, False),
]
LOSS = {"miscarriage", "biochemical"}
FIRST_DAY = date(2012, 1, 1)


def _ga(days: int) -> str:
    return f"{days // 7}+{days % 7}"


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n = draw(st.integers(min_value=1, max_value=6))
    offsets = draw(
        st.lists(st.integers(min_value=0, max_value=5000), min_size=n, max_size=n, unique=True)
    )
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n))
    pregs = []
    for off, (outcome, ga, _) in zip(offsets, kinds, strict=True):
        p: dict[str, Any] = {"outcome": outcome, "date": (FIRST_DAY + timedelta(off)).isoformat()}
        if ga is not None:
            p["ga"] = _ga(ga)
        pregs.append(p)
    shuffled = draw(st.permutations(pregs))
    return pregs, list(shuffled)


def _oracle(pregs: list[dict[str, Any]]) -> str | None:
    """By hand from the wording: a loss dated after a pregnancy that reached the mark."""
    reached_days = {(o, _ga(g) if g is not None else None) for o, g, r in KINDS if r}
    losses = [p["date"] for p in pregs if p["outcome"] in LOSS]
    if not losses:
        return None
    marks = [p["date"] for p in pregs if (p["outcome"], p.get("ga")) in reached_days]
    return "secondary" if marks and min(marks) < max(losses) else "primary"


@settings(max_examples=300, deadline=None)
@given(histories())
def test_type_follows_the_dates_not_the_list_order(
    pair: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    listed, shuffled = pair
    expected = _oracle(listed)
    assert _type(listed) == expected
    assert _type(shuffled) == expected
