"""Dating block shape and ga_on."""

from datetime import date

from rplcare.knowledge import get_kb
from rplcare.pregnancy.dating import date_pregnancy, ga_on
from rplcare.pregnancy.inputs import ScanInput

KB = get_kb()


def test_assessment_format_dating_example_art_7_plus_3():
    # transfer 2026-10-20 day 5 -> EDD 2027-07-08; on 2026-11-22 GA 7+3 (52 days)
    d = date_pregnancy(date(2026, 11, 22), None, None, date(2026, 10, 20), 5, [], kb=KB)
    out = d.model_dump(mode="json")
    assert {k: out[k] for k in ("basis", "ga", "ga_days", "edd")} == {
        "basis": "art",
        "ga": "7+3",
        "ga_days": 52,
        "edd": "2027-07-08",
    }
    assert out["why"] and out["lmp_equivalent"] == "2026-10-01"
    assert ga_on(d, date(2027, 1, 21)) == 112


def test_example_bleeding_case_keeps_cycle_adjusted_lmp():
    scans = [ScanInput(date(2026, 11, 20), "intrauterine", 16, True, True, 4.2, True, None)]
    d = date_pregnancy(date(2026, 11, 20), date(2026, 10, 6), 30, None, None, scans, kb=KB)
    assert d.basis == "lmp" and d.ga == "6+1" and d.discrepancy_days == -2
    assert "ACOG CO 700" in d.why


def test_crl_at_14_weeks_by_lmp_is_not_used_for_redating():
    scans = [ScanInput(date(2024, 4, 8), "intrauterine", None, None, True, 45, True, None)]
    d = date_pregnancy(date(2024, 4, 8), date(2024, 1, 1), 28, None, None, scans, kb=KB)
    assert d.basis == "lmp" and d.warnings
