"""Robinson & Fleming in its BMUS (Loughna 2009) form, the default CRL standard: models.md §4.5."""

import pytest

from rplcare.knowledge import get_kb
from rplcare.pregnancy.dating import crl_to_ga_days
from rplcare.pregnancy.gestation import format_ga

KB = get_kb()


@pytest.mark.parametrize(
    ("crl", "days", "wd"),
    [(5, 42.06, "6+0"), (7, 45.42, "6+3"), (10, 49.66, "7+1")],
)
def test_bmus_robinson_below_15mm_matches_worked_examples(crl, days, wd):
    assert crl_to_ga_days(crl, kb=KB) == pytest.approx(days, abs=0.005)
    assert format_ga(round(crl_to_ga_days(crl, kb=KB))) == wd


def test_bmus_robinson_is_used_alone_on_both_sides_of_15mm():
    # issue 9 §5 (one continuous standard per choice): BMUS-Robinson at 14.9 and 15 mm, no
    # switch to INTERGROWTH (which would add ~3 days: 55.49 -> 58.59, models.md §4.5)
    assert crl_to_ga_days(14.9, kb=KB) == pytest.approx(8.052 * (1.037 * 14.9) ** 0.5 + 23.73)
    assert crl_to_ga_days(15, kb=KB) == pytest.approx(55.49, abs=0.005)


@pytest.mark.parametrize(
    ("crl", "days"), [(15, 55.49), (20, 60.40), (30, 68.64), (45, 78.73), (60, 87.24), (84, 98.88)]
)
def test_bmus_robinson_matches_models_4_5_to_84mm(crl, days):
    assert crl_to_ga_days(crl, kb=KB) == pytest.approx(days, abs=0.005)


@pytest.mark.parametrize("crl", [0, -1, 84.1, 95.1, float("nan")])
def test_crl_outside_formula_range_is_rejected(crl):
    with pytest.raises(ValueError, match="CRL"):
        crl_to_ga_days(crl, kb=KB)
