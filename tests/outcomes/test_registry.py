"""The registry on a synthetic clinic with known truth, on SQLite and PostgreSQL.

Expected figures are counted here from the cohort's own record of what happened to each
patient and run through the Wilson formula, the binomial sum and the Garwood interval written
out in this file; none comes from rplcare.outcomes.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from rplcare.knowledge import get_kb
from rplcare.outcomes import cohort, registry
from rplcare.prognosis.brigham import brigham1999
from rplcare.store.db import Store

TODAY = date(2026, 11, 23)
N = 120
SEED = 20261201
LOST_AFTER = 90


# --- the statistics, written out -------------------------------------------------------------


def wilson(x: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def binom_lower_tail(x: int, n: int, p: float) -> float:
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x + 1))


def poisson_cdf(k: int, mu: float) -> float:
    term, total = math.exp(-mu), 0.0
    for i in range(k + 1):
        total += term
        term *= mu / (i + 1)
    return total


def garwood(count: int) -> tuple[float, float]:
    """Exact Poisson limits by bisection on the Poisson tail sums (no chi-square table)."""

    def solve(f, lo: float, hi: float) -> float:
        for _ in range(200):
            mid = (lo + hi) / 2
            if f(mid) > 0:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    upper = solve(lambda mu: poisson_cdf(count, mu) - 0.025, 0.0, 10.0 * count + 10)
    lower = 0.0 if count == 0 else solve(lambda mu: poisson_cdf(count - 1, mu) - 0.975, 0.0, upper)
    return lower, upper


# --- the truth, counted ----------------------------------------------------------------------


def lost(preg: cohort.Pregnancy) -> bool:
    return preg.outcome == "pending" and preg.start + timedelta(days=280 + LOST_AFTER) < TODAY


def is_live_birth(preg: cohort.Pregnancy) -> bool:
    return preg.outcome == "live_birth" and (preg.ga_days or 0) >= 24 * 7


def truth(patients: list[cohort.Patient]) -> dict:
    nxt = [p.pregnancies[0] for p in patients if p.pregnancies]
    resolved = [q for q in nxt if q.outcome != "pending"]
    allp = [q for p in patients for q in p.pregnancies]
    oe_obs = oe_exp = 0.0
    oe_n = left_out = 0
    for p in patients:
        if not p.pregnancies or p.pregnancies[0].outcome == "pending":
            continue
        prog, _ = brigham1999(p.age, p.prior_miscarriages, kb=get_kb())
        if prog is None:
            left_out += 1
            continue
        oe_n += 1
        oe_exp += prog.next_pregnancy_success_pct / 100
        oe_obs += is_live_birth(p.pregnancies[0])
    return {
        "patients": len(patients),
        "never": sum(not p.pregnancies for p in patients),
        "lb_patients": sum(any(is_live_birth(q) for q in p.pregnancies) for p in patients),
        "next_total": len(nxt),
        "next_resolved": len(resolved),
        "next_lb": sum(is_live_birth(q) for q in resolved),
        "next_lost": sum(lost(q) for q in nxt),
        "next_pending": sum(q.outcome == "pending" and not lost(q) for q in nxt),
        "all_resolved": sum(q.outcome != "pending" for q in allp),
        "all_lb": sum(is_live_birth(q) for q in allp),
        "oe_n": oe_n,
        "oe_obs": int(oe_obs),
        "oe_exp": oe_exp,
        "left_out": left_out,
    }


@pytest.fixture(scope="module")
def patients() -> list[cohort.Patient]:
    return cohort.cohort(N, seed=SEED, today=TODAY)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def report_of(request, tmp_path_factory, patients):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('registry') / 'registry.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database("oregistry")
    store = Store(url)
    cohort.load(store, patients)

    def run(**kw):
        opts = registry.Options(today=TODAY, lost_after_days=LOST_AFTER, **kw)
        return registry.report_for(store, opts)

    yield run
    store.dispose()


def check_rate(got: dict, x: int, n: int) -> None:
    assert (got["numerator"], got["denominator"]) == (x, n)
    assert got["rate"] == pytest.approx(x / n)
    assert got["ci95"] == pytest.approx(list(wilson(x, n)), abs=1e-12)
    assert got["too_few"] is (n < 10)


def test_headline_rates_match_the_cohort_counted_by_hand(report_of, patients):
    """Rule: per-patient and per-pregnancy live-birth rates, Wilson 95 % intervals, pending and
    lost to follow-up counted (never dropped), never-conceived shown."""
    r = report_of()
    t = truth(patients)
    assert r["patients"] == t["patients"]
    assert r["never_conceived"] == t["never"] > 0
    check_rate(r["live_birth_per_patient"], t["lb_patients"], t["patients"])
    check_rate(r["live_birth_next_pregnancy"], t["next_lb"], t["next_resolved"])
    check_rate(r["live_birth_all_pregnancies"], t["all_lb"], t["all_resolved"])
    check_rate(r["pending"], t["next_pending"], t["next_total"])
    check_rate(r["lost_to_follow_up"], t["next_lost"], t["next_total"])
    assert t["next_lost"] > 0 and t["next_pending"] > 0  # the cohort exercises both
    outs = r["next_pregnancy_outcomes"]
    assert outs["lost_to_follow_up"] == t["next_lost"]
    assert sum(outs.values()) == t["next_total"]


def test_observed_over_expected_uses_brigham_and_the_exact_poisson_interval(report_of, patients):
    """Rule: O/E by indirect standardisation on the Brigham 1999 table, exact Poisson 95 %."""
    r = report_of()
    t = truth(patients)
    ex = r["expected"]
    assert ex["patients"] == t["oe_n"]
    assert ex["observed_live_births"] == t["oe_obs"]
    assert ex["expected_live_births"] == pytest.approx(t["oe_exp"], abs=1e-6)
    assert ex["left_out"] == t["left_out"] > 0  # 46-year-olds and 6 losses are outside
    lo, hi = garwood(t["oe_obs"])
    assert r["o_e"]["value"] == pytest.approx(t["oe_obs"] / t["oe_exp"], rel=1e-6)
    assert r["o_e"]["ci95"] == pytest.approx([lo / t["oe_exp"], hi / t["oe_exp"]], rel=1e-6)


def test_claim_check_gives_the_exact_one_sided_binomial_p(report_of, patients):
    """Rule: --claim P: the interval and the exact binomial P(X ≤ x | n, P), in words."""
    t = truth(patients)
    c = report_of(claim=0.85)["claim"]
    p = binom_lower_tail(t["next_lb"], t["next_resolved"], 0.85)
    assert c["p_value"] == pytest.approx(p, rel=1e-9)
    assert c["verdict"] == ("not_supported" if p < 0.05 else "consistent")
    assert f"{t['next_lb']} of {t['next_resolved']}" in c["words"]


def test_breakdown_by_age_band_and_prior_losses(report_of, patients):
    """Rule: SART age bands at the first assessment; prior losses 2, 3, 4, ≥5."""
    bands = [("<35", 0, 34), ("35–37", 35, 37), ("38–40", 38, 40), ("41–42", 41, 42)]
    bands.append((">42", 43, 99))
    by_age = {row["group"]: row for row in report_of(by="age")["breakdown"]}
    for label, lo, hi in bands:
        group = [p for p in patients if lo <= p.age <= hi]
        if not group:
            assert label not in by_age
            continue
        got = by_age[label]
        lb = sum(any(is_live_birth(q) for q in p.pregnancies) for p in group)
        check_rate(got["live_birth_per_patient"], lb, len(group))
    by_losses = {row["group"]: row for row in report_of(by="losses")["breakdown"]}
    for label, ns in (("2", {2}), ("3", {3}), ("4", {4}), ("≥5", {5, 6})):
        group = [p for p in patients if p.prior_miscarriages in ns]
        assert by_losses[label]["patients"] == len(group)
    assert [row["group"] for row in report_of(by="losses")["breakdown"]] == ["2", "3", "4", "≥5"]


def test_configurable_age_bands(report_of, patients):
    r = report_of(by="age", age_cuts=(40,))
    groups = {row["group"]: row["patients"] for row in r["breakdown"]}
    assert groups == {
        "<40": sum(p.age < 40 for p in patients),
        ">39": sum(p.age >= 40 for p in patients),
    }


def test_breakdown_by_cause_found_by_the_assessment(report_of, patients):
    """Rule: cause groups come from the assessment's cause findings of each case."""
    names = {"none": "no cause found yet (work-up incomplete)"}
    rows = {row["group"]: row["patients"] for row in report_of(by="cause")["breakdown"]}
    want: dict[str, int] = {}
    for p in patients:
        key = names.get(p.cause, p.cause)
        want[key] = want.get(key, 0) + 1
    assert rows == want


def test_breakdown_by_year_clinician_and_treatment(report_of, patients):
    years = {row["group"]: row["patients"] for row in report_of(by="year")["breakdown"]}
    assert years == {
        str(y): sum(p.index_date.year == y for p in patients)
        for y in {p.index_date.year for p in patients}
    }
    clin = {row["group"]: row["patients"] for row in report_of(by="clinician")["breakdown"]}
    assert clin == {c: sum(p.clinician == c for p in patients) for c in cohort.CLINICIANS}
    treat = {row["group"]: row["patients"] for row in report_of(by="treatment")["breakdown"]}
    lmwh = sum(any("lmwh" in q.treatments for q in p.pregnancies) for p in patients)
    assert treat["medication: lmwh"] == lmwh > 0
    untreated = sum(not any(q.treatments for q in p.pregnancies) for p in patients)
    assert treat["none recorded"] == untreated


def test_since_filters_episodes_by_their_clinical_date(report_of, patients):
    r = report_of(since=date(2023, 1, 1))
    assert r["patients"] == sum(p.index_date >= date(2023, 1, 1) for p in patients)


def test_true_rate_lies_within_the_998_limits(report_of, patients):
    """The cohort's true probabilities (known to the generator) are recovered: the observed
    next-pregnancy live births sit within 3.09 standard deviations of their expectation."""
    resolved = [p for p in patients if p.pregnancies and p.pregnancies[0].outcome != "pending"]
    mean = sum(p.p_true for p in resolved)
    sd = math.sqrt(sum(p.p_true * (1 - p.p_true) for p in resolved))
    observed = report_of()["live_birth_next_pregnancy"]["numerator"]
    assert abs(observed - mean) <= 3.09 * sd


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_the_same_figures(tmp_path, pg_server, patients):
    reports = []
    for url in (f"sqlite:///{tmp_path / 'same.db'}", pg_server.create_database("osame")):
        store = Store(url)
        try:
            cohort.load(store, patients)
            for by in (None, *registry.BREAKDOWNS):
                opts = registry.Options(today=TODAY, by=by, claim=0.85)
                reports.append((by, registry.report_for(store, opts)))
        finally:
            store.dispose()
    half = len(reports) // 2
    for (by, a), (_by, b) in zip(reports[:half], reports[half:], strict=True):
        same(a, b, str(by))


def same(a, b, path: str) -> None:
    """Equal, with floats (sums of probabilities) equal to 1e-9."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path
