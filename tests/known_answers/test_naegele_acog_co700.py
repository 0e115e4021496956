"""Naegele + cycle (models.md §4.1), ART EDD (§4.2) and ACOG CO 700 redating (§4.3)."""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from rplcare.knowledge import KnowledgeBase, get_kb
from rplcare.pregnancy.dating import date_pregnancy, ga_on
from rplcare.pregnancy.inputs import ScanInput

KB = get_kb()


def _kb(standard: str) -> KnowledgeBase:
    """The knowledge base with `dating.crl_standard` set to `standard` (the one choice)."""
    p = KB.parameters["dating.crl_standard"]
    return replace(
        KB,
        parameters={
            **KB.parameters,
            "dating.crl_standard": p.model_copy(update={"value": standard}),
        },
    )


def crl_scan(day: date, crl: float) -> ScanInput:
    return ScanInput(day, "intrauterine", None, True, True, crl, True, None)


@pytest.mark.parametrize(
    ("lmp", "cycle", "edd"),
    [
        (date(2024, 1, 1), 28, date(2024, 10, 7)),
        (date(2024, 1, 1), 35, date(2024, 10, 14)),
        (date(2024, 1, 1), 24, date(2024, 10, 3)),
        (date(2023, 5, 10), 28, date(2024, 2, 14)),
    ],
)
def test_naegele_edd_with_cycle_adjustment(lmp, cycle, edd):
    d = date_pregnancy(lmp + timedelta(days=40), lmp, cycle, None, None, [], kb=KB)
    assert d is not None and d.basis == "lmp" and d.edd == edd


def test_naegele_ga_45_days_is_6_plus_3():
    d = date_pregnancy(date(2024, 2, 15), date(2024, 1, 1), 28, None, None, [], kb=KB)
    assert (d.ga_days, d.ga) == (45, "6+3")
    assert ga_on(d, date(2024, 2, 15)) == 45


def test_naegele_without_cycle_length_assumes_28_days():
    d = date_pregnancy(date(2024, 2, 15), date(2024, 1, 1), None, None, None, [], kb=KB)
    assert d.edd == date(2024, 10, 7) and "28-day cycle assumed" in d.why


@pytest.mark.parametrize(
    ("age", "edd", "lmp_eq"),
    [
        (5, date(2024, 11, 17), date(2024, 2, 11)),
        (3, date(2024, 11, 19), date(2024, 2, 13)),
        (6, date(2024, 11, 16), date(2024, 2, 10)),
    ],
)
def test_acog_co700_art_edd_is_transfer_plus_266_minus_embryo_age(age, edd, lmp_eq):
    d = date_pregnancy(date(2024, 4, 1), None, None, date(2024, 3, 1), age, [], kb=KB)
    assert (d.basis, d.edd, d.lmp_equivalent) == ("art", edd, lmp_eq)
    assert f"day-{age} embryo" in d.why


def test_acog_co700_retrieval_plus_266_matches_day5_transfer():
    d = date_pregnancy(date(2024, 4, 1), None, None, date(2024, 2, 25), 0, [], kb=KB)
    assert d.edd == date(2024, 11, 17)


def test_acog_co700_art_dates_win_over_lmp_and_crl():
    scans = [crl_scan(date(2024, 4, 10), 30)]
    d = date_pregnancy(date(2024, 4, 20), date(2024, 1, 1), 28, date(2024, 3, 1), 5, scans, kb=KB)
    assert d.basis == "art" and d.edd == date(2024, 11, 17)
    assert d.warnings  # the CRL disagrees with the ART dates: said, not acted on


def test_acog_co700_lmp_8w_crl_12mm_difference_3_9_days_keeps_lmp():
    lmp = date(2024, 1, 1)
    scan = lmp + timedelta(days=56)
    d = date_pregnancy(scan, lmp, 28, None, None, [crl_scan(scan, 12)], kb=KB)
    assert d.basis == "lmp" and d.edd == date(2024, 10, 7)
    assert d.crl_ga_days == pytest.approx(52.13, abs=0.01)


@pytest.mark.parametrize(
    ("standard", "crl_days"),
    [("bmus_robinson", 60), ("intergrowth", 62)],  # models.md §4.5: 60.40 / 62.26 days
)
def test_acog_co700_lmp_10w_crl_20mm_difference_over_7_days_redates_to_crl(standard, crl_days):
    lmp = date(2024, 1, 1)
    scan = lmp + timedelta(days=70)
    d = date_pregnancy(scan, lmp, 28, None, None, [crl_scan(scan, 20)], kb=_kb(standard))
    assert d.basis == "crl"
    assert d.ga_days == crl_days
    assert d.edd == scan - timedelta(days=crl_days) + timedelta(days=280)
    assert "> 7 days" in d.why


def test_acog_co700_lmp_10w_crl_30mm_difference_1_day_keeps_lmp():
    lmp = date(2024, 1, 1)
    scan = lmp + timedelta(days=70)
    d = date_pregnancy(scan, lmp, 28, None, None, [crl_scan(scan, 30)], kb=KB)
    assert d.basis == "lmp" and d.discrepancy_days == -1


@pytest.mark.parametrize(("lmp_ga", "basis"), [(55, "lmp"), (56, "crl")])
def test_acog_co700_before_9w_redates_only_beyond_5_days(lmp_ga, basis):
    # CRL 10 mm = 49.66 -> 50 days; difference 5 days keeps LMP, 6 days redates
    lmp = date(2024, 1, 1)
    scan = lmp + timedelta(days=lmp_ga)
    d = date_pregnancy(scan, lmp, 28, None, None, [crl_scan(scan, 10)], kb=KB)
    assert d.basis == basis


@pytest.mark.parametrize(("lmp_ga", "basis"), [(76, "lmp"), (77, "crl")])
def test_acog_co700_9_to_14w_redates_only_beyond_7_days(lmp_ga, basis):
    # CRL 30 mm = 68.99 -> 69 days: LMP GA 76 -> 7 days keeps, 77 -> 8 days redates
    lmp = date(2024, 1, 1)
    scan = lmp + timedelta(days=lmp_ga)
    d = date_pregnancy(scan, lmp, 28, None, None, [crl_scan(scan, 30)], kb=KB)
    assert d.basis == basis


@pytest.mark.parametrize(
    ("standard", "crl"),
    # both 59 days (8+3): BMUS 8.052*sqrt(1.037*18.6)+23.73 = 59.09; INTERGROWTH 15 mm = 58.59
    [("bmus_robinson", 18.6), ("intergrowth", 15)],
)
def test_acog_co700_band_is_chosen_by_lmp_ga_at_the_first_crl_scan(standard, crl):
    # LMP GA 9+2 at the scan (band: > 7 days) although the CRL says 8+3 (band: > 5 days)
    lmp = date(2024, 1, 1)
    scan = lmp + timedelta(days=65)
    d = date_pregnancy(scan, lmp, 28, None, None, [crl_scan(scan, crl)], kb=_kb(standard))
    assert d.discrepancy_days == -6 and d.basis == "lmp"


def test_acog_co700_only_the_first_crl_scan_is_used_for_redating():
    lmp = date(2024, 1, 1)
    first = crl_scan(lmp + timedelta(days=70), 30)  # agrees with LMP
    later = crl_scan(lmp + timedelta(days=84), 20)  # would redate
    d = date_pregnancy(lmp + timedelta(days=90), lmp, 28, None, None, [later, first], kb=KB)
    assert d.basis == "lmp" and d.crl_scan_date == first.date


def test_crl_basis_when_no_lmp_uses_first_crl():
    # CRL 20 mm by the default standard (BMUS-Robinson): 60.40 -> 60 days (models.md §4.5)
    scan = date(2024, 3, 11)
    d = date_pregnancy(date(2024, 3, 20), None, None, None, None, [crl_scan(scan, 20)], kb=KB)
    assert d.basis == "crl" and d.ga_days == 60 + 9
    assert d.edd == scan - timedelta(days=60) + timedelta(days=280)


def test_no_dating_information_returns_none():
    assert date_pregnancy(date(2024, 3, 20), None, None, None, None, [], kb=KB) is None
