"""Intervals and tests for registry figures (scipy.stats for the distributions).

- Wilson score interval for a proportion (Wilson 1927; Brown, Cai & DasGupta 2001 recommend it
  over the Wald interval for small n).
- Exact binomial one-sided p-value for a claimed rate: P(X ≤ x | n, p0).
- Exact Poisson interval for an observed count O (Garwood 1936, through the chi-square
  relationship): [χ²(α/2; 2O)/2, χ²(1−α/2; 2O+2)/2]; O/E divides it by the expected count E,
  treated as fixed (indirect standardisation).
- Funnel plot limits for a proportion (Spiegelhalter 2005, exact binomial with the
  interpolation of his Appendix A.1.1).
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of x/n (None when n is 0)."""
    if n <= 0:
        return None
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_p_lower(x: int, n: int, p0: float) -> float:
    """One-sided exact binomial p-value: the chance of x or fewer successes if the rate is p0."""
    from scipy.stats import binom

    return float(binom.cdf(x, n, p0))


def binomial_p_upper(x: int, n: int, p0: float) -> float:
    """The chance of x or more successes if the rate is p0."""
    from scipy.stats import binom

    return float(binom.sf(x - 1, n, p0))


def poisson_exact(count: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson mean from an observed count."""
    from scipy.stats import chi2

    low = 0.0 if count == 0 else float(chi2.ppf(alpha / 2, 2 * count)) / 2
    high = float(chi2.ppf(1 - alpha / 2, 2 * count + 2)) / 2
    return low, high


def o_e(observed: int, expected: float, alpha: float = 0.05) -> dict[str, object] | None:
    """Observed / expected with the exact Poisson interval of O divided by E."""
    if expected <= 0:
        return None
    low, high = poisson_exact(observed, alpha)
    return {"value": observed / expected, "ci95": [low / expected, high / expected]}


def funnel_limit(n: int, p: float, q: float) -> float:
    """The q-quantile of a proportion over n at rate p (exact binomial, interpolated)."""
    from scipy.stats import binom

    r = float(binom.ppf(q, n, p))
    f_r, f_below = float(binom.cdf(r, n, p)), float(binom.cdf(r - 1, n, p))
    a = (f_r - q) / (f_r - f_below) if f_r > f_below else 0.0
    return (r - a) / n
