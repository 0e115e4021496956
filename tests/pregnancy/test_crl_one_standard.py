"""Issue 9 §5, dating: one continuous CRL standard per choice, no jump where formulas meet.

Rule: GA-for-CRL comes from ONE standard over that standard's own range
(`dating.crl_standard`: BMUS-Robinson, Loughna 2009, to 84 mm; or INTERGROWTH-21st,
Papageorghiou 2014, 15-95 mm). Mixing them (Robinson below 15 mm, INTERGROWTH from 15 mm) made
a 14.9 mm embryo 55 days and a 15 mm one 59 days (models.md §4.5: 55.49 vs 58.59), so a 0.1 mm
difference moved the EDD by 3 days and could flip an ACOG CO 700 redating decision. A CRL
outside the chosen standard's range is not used for dating, and the dating says so.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rplcare.knowledge import KnowledgeBase, get_kb
from rplcare.pregnancy.dating import crl_range_mm, crl_to_ga_days, date_pregnancy
from rplcare.pregnancy.inputs import ScanInput

KB = get_kb()
STANDARDS = ["bmus_robinson", "intergrowth"]


def kb_with_standard(standard: str) -> KnowledgeBase:
    p = KB.parameters["dating.crl_standard"]
    return replace(
        KB,
        parameters={
            **KB.parameters,
            "dating.crl_standard": p.model_copy(update={"value": standard}),
        },
    )


def _scan(day: date, crl: float, heartbeat: bool | None = True) -> ScanInput:
    return ScanInput(day, "intrauterine", None, True, True, crl, heartbeat, None)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(
    standard=st.sampled_from(STANDARDS),
    a=st.floats(1.0, 95.0, allow_nan=False),
    step=st.floats(0.0, 0.1, allow_nan=False),
)
def test_crl_to_ga_is_continuous_and_monotone_within_one_standard(standard, a, step):
    # a CRL up to 0.1 mm longer dates the same or later, and by at most 1 day (the steepest
    # slope, BMUS-Robinson at 1 mm, is 8.052*sqrt(1.037)/(2*sqrt(1)) = 4.1 days/mm)
    kb = kb_with_standard(standard)
    lo, hi = crl_range_mm(kb)
    b = a + step
    if not (a >= lo and b <= hi):
        return
    ga_a, ga_b = crl_to_ga_days(a, kb=kb), crl_to_ga_days(b, kb=kb)
    assert 0 <= ga_b - ga_a <= 1.0


@pytest.mark.parametrize("standard", STANDARDS)
def test_no_jump_at_15mm_where_intergrowth_starts(standard):
    kb = kb_with_standard(standard)
    lo, _hi = crl_range_mm(kb)
    below, at = 14.9, 15.0
    if below < lo:  # INTERGROWTH: 14.9 mm is outside its range, not dated by another formula
        with pytest.raises(ValueError, match="outside 15–95 mm"):
            crl_to_ga_days(below, kb=kb)
        return
    assert crl_to_ga_days(at, kb=kb) - crl_to_ga_days(below, kb=kb) < 0.2


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(
    standard=st.sampled_from(STANDARDS),
    tenths=st.integers(10, 940),
)
def test_crl_only_dating_never_jumps_between_neighbouring_crls(standard, tenths):
    # CRL-only dating (no LMP, no ART): a 0.1 mm longer CRL on the same day moves the EDD
    # earlier by 0 or 1 day, never later and never by more
    kb = kb_with_standard(standard)
    scan_day, today = date(2026, 11, 2), date(2026, 11, 23)
    a, b = tenths / 10, (tenths + 1) / 10
    lo, hi = crl_range_mm(kb)
    if not (a >= lo and b <= hi):
        return
    da = date_pregnancy(today, None, None, None, None, [_scan(scan_day, a)], kb=kb)
    db = date_pregnancy(today, None, None, None, None, [_scan(scan_day, b)], kb=kb)
    assert da is not None and db is not None
    assert 0 <= (da.edd - db.edd).days <= 1


@pytest.mark.parametrize(
    ("standard", "crl"),
    [("intergrowth", 10.0), ("intergrowth", 14.9), ("bmus_robinson", 90.0)],
)
def test_crl_outside_the_chosen_standard_is_not_used_and_the_dating_says_so(standard, crl):
    # INTERGROWTH starts at 15 mm; BMUS-Robinson ends at 84 mm: the LMP dates, with a warning
    kb = kb_with_standard(standard)
    lmp = date(2026, 9, 1)
    scan = lmp + timedelta(days=60)
    d = date_pregnancy(scan, lmp, 28, None, None, [_scan(scan, crl)], kb=kb)
    assert d is not None and d.basis == "lmp" and d.crl_scan_date is None
    assert any(f"CRL {crl:g} mm" in w and "not used for dating" in w for w in d.warnings)
    only = date_pregnancy(scan, None, None, None, None, [_scan(scan, crl)], kb=kb)
    assert only is None  # missing is missing: no other formula fills in


def test_default_standard_is_bmus_robinson_and_cited():
    p = KB.parameters["dating.crl_standard"]
    assert p.value == "bmus_robinson" and p.source == "bmus2009"
    assert KB.param("dating.robinson_max_crl_mm") == 84


def test_unknown_standard_is_an_error_naming_the_choices():
    with pytest.raises(ValueError, match="bmus_robinson or intergrowth"):
        crl_to_ga_days(20, kb=kb_with_standard("hadlock"))
