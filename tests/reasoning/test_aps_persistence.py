"""Rule: an antiphospholipid test is persistently positive when two positives are at least
`aps.persistence_days` apart (Sydney 2006, Miyakis et al. J Thromb Haemost 2006: "on 2 or more
occasions at least 12 weeks apart"). Checked against the definition itself: some pair of
positives at least that far apart, by brute force over every pair."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import combinations
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from rplcare.reasoning.aps import LabCriterion

BASE = date(2020, 1, 1)


def _criterion(offsets: list[int]) -> LabCriterion:
    return LabCriterion(
        family="la",
        positives=[
            (i, SimpleNamespace(day=BASE + timedelta(days=o))) for i, o in enumerate(offsets)
        ],
    )


@settings(max_examples=400, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 400), max_size=12),
    days=st.integers(1, 200),
)
def test_persistence_matches_the_pairwise_definition(offsets: list[int], days: int) -> None:
    found = _criterion(offsets).persistent(days)
    any_pair = any(abs(a - b) >= days for a, b in combinations(offsets, 2))
    assert (found is not None) == any_pair
    if found is not None:
        first, last = found
        assert offsets[last] - offsets[first] >= days
        # the pair reported spans the whole series: earliest and latest positive
        assert offsets[first] == min(offsets) and offsets[last] == max(offsets)


def test_clustered_positives_are_not_persistent_and_one_late_positive_makes_them() -> None:
    # 1,000 positives within 30 days: no pair is 84 days apart ...
    offsets = [i % 30 for i in range(1000)]
    assert _criterion(offsets).persistent(84) is None
    # ... until one positive 84 days after the first
    assert _criterion([*offsets, 84]).persistent(84) == (0, 1000)


def test_ties_keep_entry_order() -> None:
    # two positives on the first day and two on the last: first entered, last entered
    assert _criterion([0, 0, 90, 90]).persistent(84) == (0, 3)
