"""SRU 2013 (Doubilet, NEJM) examples of models.md §5.1: exactly these results."""

from datetime import date, timedelta

import pytest

from rplcare.knowledge import get_kb
from rplcare.pregnancy.inputs import ScanInput
from rplcare.pregnancy.viability import assess_viability

KB = get_kb()

D0 = date(2026, 11, 1)


def scan(day=D0, msd=None, yolk=None, embryo=None, crl=None, hb=None, **kw):
    return ScanInput(day, "intrauterine", msd, yolk, embryo, crl, hb, None, **kw)


def status(scans, ga=None):
    at = (lambda d: ga + (d - scans[-1].date).days) if ga is not None else None
    return assess_viability(scans, at, scans[-1].date, kb=KB).status


def test_sru2013_crl_7mm_no_heartbeat_is_diagnostic():
    assert status([scan(msd=20, yolk=True, embryo=True, crl=7.0, hb=False)]) == "failure_diagnostic"


def test_sru2013_crl_6_9mm_no_heartbeat_is_suspicious():
    assert status([scan(msd=20, yolk=True, embryo=True, crl=6.9, hb=False)]) == "failure_suspicious"


def test_sru2013_msd_25mm_no_embryo_is_diagnostic():
    assert status([scan(msd=25, yolk=True, embryo=False)]) == "failure_diagnostic"


def test_sru2013_msd_20mm_no_embryo_is_suspicious():
    assert status([scan(msd=20, yolk=True, embryo=False)]) == "failure_suspicious"


def test_sru2013_no_embryo_11_days_after_sac_with_yolk_sac_is_diagnostic():
    first = scan(msd=8, yolk=True, embryo=False)
    later = scan(D0 + timedelta(days=11), msd=12, yolk=True, embryo=False)
    assert status([first, later]) == "failure_diagnostic"


def test_sru2013_no_embryo_10_days_after_sac_with_yolk_sac_is_suspicious():
    first = scan(msd=8, yolk=True, embryo=False)
    later = scan(D0 + timedelta(days=10), msd=12, yolk=True, embryo=False)
    assert status([first, later]) == "failure_suspicious"


def test_sru2013_no_embryo_13_days_after_sac_without_yolk_sac_is_suspicious():
    first = scan(msd=6, yolk=False, embryo=False)
    later = scan(D0 + timedelta(days=13), msd=12, yolk=True, embryo=False)
    assert status([first, later]) == "failure_suspicious"


def test_sru2013_no_embryo_14_days_after_sac_without_yolk_sac_is_diagnostic():
    first = scan(msd=6, yolk=False, embryo=False)
    later = scan(D0 + timedelta(days=14), msd=12, yolk=True, embryo=False)
    assert status([first, later]) == "failure_diagnostic"


@pytest.mark.parametrize("hb", [True, None])
def test_sru2013_small_sac_msd_minus_crl_under_5mm_is_suspicious(hb):
    v = assess_viability([scan(msd=22, yolk=True, embryo=True, crl=18, hb=hb)], None, D0, kb=KB)
    assert v.status == "failure_suspicious"
    assert any("small sac" in c for c in v.criteria)
