"""Serial hCG worked examples of models.md §1.5 (NICE NG126, Barnhart 2004/2016, Morse 2012)."""

from datetime import datetime, timedelta

import pytest

from rplcare.knowledge import get_kb
from rplcare.pregnancy.hcg import analyse_series
from rplcare.pregnancy.inputs import HcgSample

KB = get_kb()

T0 = datetime(2026, 11, 10, 9, 0)

# h1, h2, hours, pct48, doubling (+) or half-life (-), NICE, Barnhart 2004, Barnhart 2016, warn
ROWS = [
    (1000, 1700, 48, 70.0, 62.70, "likely_intrauterine", True, True, False),
    (1000, 1530, 48, 53.0, 78.24, "review_within_24h", True, True, False),
    (1000, 1200, 48, 20.0, 182.49, "review_within_24h", False, False, False),
    (1000, 400, 48, -60.0, -36.31, "unlikely_to_continue", None, None, False),
    (1000, 500, 48, -50.0, -48.00, "review_within_24h", None, None, False),
    (1000, 2000, 48, 100.0, 48.00, "likely_intrauterine", True, True, False),
    (1000, 1300, 72, 19.11, 190.22, "review_within_24h", False, False, True),
    (500, 600, 24, 44.0, 91.24, "review_within_24h", False, False, True),
    (2000, 2900, 48, 45.0, 89.5, "review_within_24h", False, True, False),
    (4000, 5400, 48, 35.0, 110.9, "review_within_24h", False, True, False),
]


def pair(h1, h2, hours):
    [p] = analyse_series([HcgSample(T0, h1), HcgSample(T0 + timedelta(hours=hours), h2)], kb=KB)
    return p


@pytest.mark.parametrize(("h1", "h2", "hours", "pct", "td", "nice", "b04", "b16", "warn"), ROWS)
def test_models_1_5_hcg_worked_example(h1, h2, hours, pct, td, nice, b04, b16, warn):
    p = pair(h1, h2, hours)
    assert p.hours == hours
    assert p.change_48h_pct == pytest.approx(pct, abs=0.06)
    if td > 0:
        assert p.doubling_hours == pytest.approx(td, abs=0.06) and p.half_life_hours is None
    else:
        assert p.half_life_hours == pytest.approx(-td, abs=0.06) and p.doubling_hours is None
    assert p.nice == nice
    assert p.barnhart2004_min_rise_met is b04
    assert p.barnhart_min_rise_met is b16
    assert (p.interval_warning is not None) is warn


def test_nice_ng126_rise_over_63pct_is_likely_intrauterine():
    assert pair(1000, 1640, 48).nice == "likely_intrauterine"


def test_nice_ng126_rise_of_exactly_63pct_is_review_within_24h():
    assert pair(1000, 1630, 48).nice == "review_within_24h"
    assert pair(100, 163, 48).nice == "review_within_24h"


def test_nice_ng126_fall_over_50pct_is_unlikely_to_continue():
    assert pair(1000, 490, 48).nice == "unlikely_to_continue"


def test_nice_ng126_fall_of_exactly_50pct_is_review_within_24h():
    assert pair(1000, 500, 48).nice == "review_within_24h"


def test_barnhart2004_53pct_limit_met_at_exactly_1530_despite_floating_point():
    p = pair(1000, 1530, 48)
    assert p.barnhart2004_min_rise_met is True
    assert pair(1000, 1529, 48).barnhart2004_min_rise_met is False


@pytest.mark.parametrize(
    ("first", "limit"),
    [(1499, 49), (1500, 40), (3000, 40), (3001, 33)],
)
def test_barnhart2016_stratum_is_chosen_on_the_first_value(first, limit):
    assert pair(first, first * 2, 48).barnhart_min_rise_pct == limit


@pytest.mark.parametrize(
    ("first", "ok", "bad"),
    [(1000, 1.49, 1.48), (2000, 1.40, 1.39), (4000, 1.33, 1.32)],
)
def test_barnhart2016_minimal_rise_at_each_stratum_limit(first, ok, bad):
    assert pair(first, first * ok, 48).barnhart_min_rise_met is True
    assert pair(first, first * bad, 48).barnhart_min_rise_met is False


def test_morse2012_35pct_minimal_rise_met_by_4000_to_5400():
    assert pair(4000, 5400, 48).morse2012_min_rise_met is True
    assert pair(4000, 5300, 48).morse2012_min_rise_met is False


def test_barnhart2004_decline_fall_slower_than_21pct_suggests_retained_tissue_or_ectopic():
    p = pair(1000, 850, 48)
    assert p.expected_fall is not None
    assert p.expected_fall.assessment == "slower_than_expected"
    assert p.expected_fall.expected_min_fall_2d_pct == (21, 35)


def test_barnhart2004_decline_between_endpoints_is_not_interpolated():
    assert pair(1000, 700, 48).expected_fall.assessment == "depends_on_initial_hcg"
    assert pair(1000, 600, 48).expected_fall.assessment == "as_expected"


def test_cameron2016_fall_over_85pct_within_4_days():
    assert pair(1000, 140, 96).cameron2016_fall_met is True
    assert pair(1000, 160, 96).cameron2016_fall_met is False
    assert pair(1000, 40, 168).cameron2016_fall_met is True
