"""Intervals and tests against published known answers (never against the code itself)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rplcare.outcomes import stats

# Newcombe 1998 (Stat Med 17:857), Table II, method 3 (Wilson score without continuity correction)
NEWCOMBE_1998_WILSON = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("x", "n", "low", "high"), NEWCOMBE_1998_WILSON)
def test_wilson_interval_matches_newcombe_1998(x, n, low, high):
    lo, hi = stats.wilson(x, n)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


def test_wilson_has_no_interval_without_a_denominator():
    assert stats.wilson(0, 0) is None


# Exact (Garwood 1936) 95 % limits of a Poisson count, as tabulated e.g. by Ulm 1990
# (Am J Epidemiol 131:373) and in every epidemiology text
GARWOOD_95 = [
    (0, 0.0, 3.689),
    (1, 0.0253, 5.572),
    (5, 1.6235, 11.668),
    (10, 4.795, 18.390),
]


@pytest.mark.parametrize(("count", "low", "high"), GARWOOD_95)
def test_exact_poisson_interval_matches_the_garwood_table(count, low, high):
    lo, hi = stats.poisson_exact(count)
    assert lo == pytest.approx(low, abs=5e-4)
    assert hi == pytest.approx(high, abs=5e-4)


def test_o_e_divides_the_count_interval_by_the_expected_count():
    got = stats.o_e(10, 8.0)
    assert got["value"] == pytest.approx(1.25)
    assert got["ci95"] == pytest.approx([4.795 / 8, 18.390 / 8], abs=1e-4)


def test_binomial_p_is_the_lower_tail_sum_written_out():
    from math import comb

    x, n, p0 = 7, 12, 0.85
    by_hand = sum(comb(n, k) * p0**k * (1 - p0) ** (n - k) for k in range(x + 1))
    assert stats.binomial_p_lower(x, n, p0) == pytest.approx(by_hand, rel=1e-12)


def test_funnel_limits_bracket_the_target_and_narrow_with_n():
    widths = []
    for n in (20, 80, 320):
        lo, hi = stats.funnel_limit(n, 0.7, 0.025), stats.funnel_limit(n, 0.7, 0.975)
        assert lo < 0.7 < hi
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]
    # normal approximation at large n: 0.7 ± 1.96·sqrt(0.7·0.3/n)
    n = 2000
    half = 1.959964 * (0.7 * 0.3 / n) ** 0.5
    assert stats.funnel_limit(n, 0.7, 0.975) == pytest.approx(0.7 + half, abs=2e-3)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_is_inside_0_1_and_holds_the_estimate(xn):
    """Property: 0 ≤ low ≤ x/n ≤ high ≤ 1, and the interval is symmetric under x ↔ n − x."""
    x, n = xn
    lo, hi = stats.wilson(x, n)
    assert 0.0 <= lo <= x / n + 1e-12 and x / n - 1e-12 <= hi <= 1.0
    lo2, hi2 = stats.wilson(n - x, n)
    assert lo2 == pytest.approx(1 - hi, abs=1e-12) and hi2 == pytest.approx(1 - lo, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 400), st.floats(0.5, 500))
def test_o_e_interval_holds_the_ratio(observed, expected):
    got = stats.o_e(observed, expected)
    lo, hi = got["ci95"]
    assert lo <= got["value"] <= hi


@settings(max_examples=100, deadline=None)
@given(st.integers(10, 300).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_the_claim_p_value_falls_as_the_claim_rises(xn):
    """Property: the same result is less compatible with a higher claimed rate."""
    x, n = xn
    ps = [stats.binomial_p_lower(x, n, p0) for p0 in (0.5, 0.7, 0.85, 0.95)]
    assert ps == sorted(ps, reverse=True)
