"""Viability statuses other than the SRU examples; unrecorded findings are never normal."""

from datetime import date, timedelta

from rplcare.knowledge import get_kb
from rplcare.pregnancy.inputs import ScanInput
from rplcare.pregnancy.viability import assess_viability

KB = get_kb()

D0 = date(2026, 11, 10)


def scan(
    location="intrauterine", day=D0, msd=None, yolk=None, embryo=None, crl=None, hb=None, **kw
):
    return ScanInput(day, location, msd, yolk, embryo, crl, hb, None, **kw)


def test_no_scan_is_not_assessable():
    assert assess_viability([], None, D0, kb=KB).status == "not_assessable"


def test_ectopic_on_any_scan():
    v = assess_viability([scan("ectopic")], None, D0, kb=KB)
    assert v.status == "ectopic" and "ectopic" in v.rule


def test_no_intrauterine_sac_is_location_unknown():
    assert assess_viability([scan("unknown")], None, D0, kb=KB).status == "location_unknown"
    assert assess_viability([scan(None, msd=10)], None, D0, kb=KB).status == "location_unknown"


def test_heartbeat_on_latest_scan_is_viable():
    v = assess_viability([scan(msd=15, yolk=True, embryo=True, crl=5, hb=True)], None, D0, kb=KB)
    out = v.model_dump(mode="json")
    assert out["status"] == "viable" and out["rule"] and out["next_step"]


def test_latest_scan_decides():
    early = scan(msd=8, yolk=True, embryo=False)
    later = scan(day=D0 + timedelta(days=12), msd=18, yolk=True, embryo=True, crl=6, hb=True)
    assert assess_viability([later, early], None, later.date, kb=KB).status == "viable"


def test_too_early_sac_without_embryo_under_6_weeks_rescan_7_to_14_days():
    v = assess_viability([scan(msd=8, yolk=True, embryo=False)], lambda d: 37, D0, kb=KB)
    assert v.status == "too_early"
    assert (v.rescan_from, v.rescan_by) == (D0 + timedelta(days=7), D0 + timedelta(days=14))


def test_sru2013_no_embryo_at_6_weeks_after_lmp_is_suspicious():
    v = assess_viability([scan(msd=10, yolk=True, embryo=False)], lambda d: 42, D0, kb=KB)
    assert v.status == "failure_suspicious"
    assert (v.rescan_from, v.rescan_by) == (D0 + timedelta(days=7), D0 + timedelta(days=10))


def test_sru2013_empty_amnion_and_enlarged_yolk_sac_are_suspicious():
    v1 = assess_viability(
        [scan(msd=12, yolk=True, embryo=False, amnion_empty=True)], None, D0, kb=KB
    )
    v2 = assess_viability(
        [scan(msd=12, yolk=True, embryo=True, crl=4, hb=True, yolk_sac_diameter_mm=7.5)],
        None,
        D0,
        kb=KB,
    )
    assert v1.status == v2.status == "failure_suspicious"
    v3 = assess_viability(
        [scan(msd=12, yolk=True, embryo=True, crl=4, hb=True, yolk_sac_diameter_mm=7.0)],
        None,
        D0,
        kb=KB,
    )
    assert v3.status == "viable"


def test_nice_ng126_diagnostic_failure_asks_second_opinion_and_repeat_scan_7_days():
    v = assess_viability([scan(msd=26, yolk=True, embryo=False)], None, D0, kb=KB)
    assert v.status == "failure_diagnostic"
    assert "second opinion" in v.next_step and "at least 7 days" in v.next_step
    assert v.rescan_from == D0 + timedelta(days=7)


def test_unrecorded_heartbeat_is_never_read_as_normal_or_as_failure():
    v = assess_viability([scan(msd=15, yolk=True, embryo=True, crl=9, hb=None)], None, D0, kb=KB)
    assert v.status == "not_assessable"


def test_unrecorded_embryo_does_not_satisfy_msd_failure_rule():
    v = assess_viability([scan(msd=30, yolk=True, embryo=None)], None, D0, kb=KB)
    assert v.status not in ("failure_diagnostic", "viable")


def test_time_rule_needs_an_intrauterine_earlier_scan():
    first = scan("unknown")
    later = scan(day=D0 + timedelta(days=15), msd=10, yolk=True, embryo=False)
    assert assess_viability([first, later], None, later.date, kb=KB).status == "too_early"
