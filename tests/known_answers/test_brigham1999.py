"""Brigham 1999 table (guidelines.md §5.1) and our logistic interpolation (models.md §6.1)."""

import pytest

from rplcare.knowledge import get_kb
from rplcare.prognosis.brigham import brigham1999

KB = get_kb()

VERIFIED = [
    (20, 2, 92),
    (20, 3, 90),
    (25, 2, 89),
    (30, 2, 84),
    (30, 3, 80),
    (30, 5, 71),
    (35, 2, 77),
    (40, 2, 69),
    (45, 3, 54),
]
UNVERIFIED = [
    (20, 4, 88),
    (20, 5, 85),
    (25, 3, 86),
    (25, 4, 82),
    (25, 5, 79),
    (30, 4, 76),
    (35, 3, 73),
    (35, 4, 68),
    (35, 5, 62),
    (40, 3, 64),
    (40, 4, 58),
    (40, 5, 52),
    (45, 2, 60),
    (45, 4, 48),
    (45, 5, 42),
]


@pytest.mark.parametrize(("age", "n", "pct"), VERIFIED)
def test_brigham1999_verified_cells_exact(age, n, pct):
    block, warnings = brigham1999(age, n, kb=KB)
    assert warnings == []
    assert block.next_pregnancy_success_pct == pct
    assert block.exact_table_cell and block.verified_cell and not block.interpolated
    assert "Youssef" in block.caveat


@pytest.mark.parametrize(("age", "n", "pct"), UNVERIFIED)
def test_brigham1999_other_cells_exact_but_labelled_unverified(age, n, pct):
    block, _ = brigham1999(age, n, kb=KB)
    assert block.next_pregnancy_success_pct == pct
    assert block.exact_table_cell and not block.verified_cell
    assert "unverified" in block.note


@pytest.mark.parametrize(("age", "n", "pct"), [(33, 3, 76.0), (38, 2, 72.9), (28, 4, 78.9)])
def test_brigham1999_interpolated_ages_use_our_logistic_fit_and_say_so(age, n, pct):
    block, _ = brigham1999(age, n, kb=KB)
    # models.md rounds from unrounded coefficients; the 4-decimal fit differs by ≤ 0.15 pp
    assert block.next_pregnancy_success_pct == pytest.approx(pct, abs=0.15)
    assert block.interpolated and not block.exact_table_cell and not block.verified_cell
    assert "not published" in block.note


@pytest.mark.parametrize(("age", "n"), [(19, 3), (46, 3), (30, 1), (30, 6), (None, 3)])
def test_brigham1999_outside_20_45_years_or_2_5_miscarriages_returns_none_with_warning(age, n):
    block, warnings = brigham1999(age, n, kb=KB)
    assert block is None and len(warnings) == 1
