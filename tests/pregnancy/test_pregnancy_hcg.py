"""hCG pairs: JSON shape, intervals, alerts and the quick-calculator argument parser."""

import os
import time
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rplcare.knowledge import get_kb
from rplcare.pregnancy.hcg import alerts, analyse_series, hcg_block, parse_hcg_arg
from rplcare.pregnancy.inputs import HcgSample, ScanInput

KB = get_kb()

SPEC_KEYS = {
    "from",
    "to",
    "hours",
    "change_48h_pct",
    "doubling_hours",
    "nice",
    "barnhart_min_rise_met",
    "interval_warning",
}


def s(day, value, hour=0, minute=0, index=None):
    return HcgSample(datetime(2026, 11, day, hour, minute), value, index)


def scan(location, day=date(2026, 11, 12)):
    sac = location == "intrauterine"
    return ScanInput(day, location, 5 if sac else None, None, None, None, None, None)


@pytest.fixture
def auckland_tz():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Auckland"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_assessment_format_pair_json_shape_and_values():
    block = hcg_block([s(10, 1000, index=0), s(12, 1700, index=1)], kb=KB).model_dump(mode="json")
    [p] = block["pairs"]
    assert p.keys() >= SPEC_KEYS
    assert p["from"] == "2026-11-10" and p["to"] == "2026-11-12"
    assert (p["hours"], p["change_48h_pct"], p["doubling_hours"]) == (48.0, 70.0, 62.7)
    assert p["nice"] == "likely_intrauterine" and p["barnhart_min_rise_met"] is True
    assert p["interval_warning"] is None and p["evidence"] == [0, 1]


def test_pairs_are_consecutive_after_sorting_by_time():
    pairs = analyse_series([s(14, 3000), s(10, 1000), s(12, 1800)], kb=KB)
    assert [(p.from_, p.to) for p in pairs] == [
        ("2026-11-10", "2026-11-12"),
        ("2026-11-12", "2026-11-14"),
    ]


def test_sample_with_a_time_prints_as_datetime():
    [p] = analyse_series([s(10, 1000, 9, 30), s(12, 1700, 9, 0)], kb=KB)
    assert p.from_ == "2026-11-10T09:30" and p.to == "2026-11-12T09:00"
    assert p.hours == 47.5


def test_nice_ng126_pair_under_48h_is_flagged_no_earlier_than_48h():
    [p] = analyse_series([s(10, 1000, 9, 30), s(12, 1700, 9, 0)], kb=KB)
    assert p.interval_warning and "no earlier" in p.interval_warning


@pytest.mark.parametrize(("hours", "flag"), [(48, False), (60, False), (61, True), (36, True)])
def test_interval_far_from_48h_is_flagged(hours, flag):
    t0 = datetime(2026, 11, 10, 8)
    [p] = analyse_series([HcgSample(t0, 1000), HcgSample(t0 + timedelta(hours=hours), 1500)], kb=KB)
    assert (p.interval_warning is not None) is flag


def test_same_time_pair_has_no_rate():
    [p] = analyse_series([s(10, 1000), s(10, 1200)], kb=KB)
    assert p.change_48h_pct is None and p.nice is None and p.interval_warning


def test_non_positive_hcg_is_rejected():
    with pytest.raises(ValueError, match="must be > 0"):
        analyse_series([s(10, 0), s(12, 10)], kb=KB)


def test_series_does_not_depend_on_the_local_time_zone(auckland_tz):
    [p] = analyse_series([s(10, 1000, 23, 30), s(12, 1700, 23, 30)], kb=KB)
    assert p.hours == 48.0 and p.from_ == "2026-11-10T23:30"


def test_nice_ng126_hcg_1500_without_intrauterine_sac_means_scan_now():
    ids = {a.id for a in alerts([s(10, 1500)], [], pain=False, kb=KB)}
    assert "alert.hcg_scan_now" in ids


def test_nice_ng126_hcg_below_1500_gives_no_scan_now_alert():
    assert alerts([s(10, 1499)], [], pain=False, kb=KB) == []


def test_intrauterine_sac_seen_silences_hcg_alerts():
    assert alerts([s(12, 5000)], [scan("intrauterine")], pain=True, kb=KB) == []


def test_connolly2013_hcg_3510_and_no_sac_on_scan_means_exclude_ectopic():
    out = alerts([s(12, 3510)], [scan("unknown")], pain=False, kb=KB)
    assert {"alert.hcg_above_discriminatory_no_sac", "alert.hcg_scan_now"} <= {a.id for a in out}
    assert any(a.level == "urgent" and "Connolly" in a.text for a in out)


def test_connolly2013_not_applied_to_a_scan_days_away_from_the_hcg():
    out = alerts([s(12, 4000)], [scan("unknown", date(2026, 11, 2))], pain=False, kb=KB)
    assert "alert.hcg_above_discriminatory_no_sac" not in {a.id for a in out}


def test_connolly2013_below_3510_no_ectopic_alert():
    out = alerts([s(12, 3509)], [scan("unknown")], pain=False, kb=KB)
    assert "alert.hcg_above_discriminatory_no_sac" not in {a.id for a in out}


def test_pain_with_pregnancy_of_unknown_location_means_same_day_review():
    out = alerts([s(10, 300)], [scan("unknown")], pain=True, kb=KB)
    assert [a.id for a in out] == ["alert.pain_pul"]
    assert alerts([], [], pain=True, kb=KB)[0].id == "alert.pain_pul"


def test_ectopic_on_scan_is_an_urgent_alert():
    out = alerts([s(10, 300)], [scan("ectopic")], pain=False, kb=KB)
    assert [a.id for a in out] == ["alert.ectopic_on_scan"]


def test_parse_hcg_arg_datetime_and_date():
    assert parse_hcg_arg("2026-11-12T09:30=1700") == HcgSample(datetime(2026, 11, 12, 9, 30), 1700)
    assert parse_hcg_arg("2026-11-12=1700.5").at == datetime(2026, 11, 12)


@pytest.mark.parametrize(
    ("arg", "msg"),
    [
        ("2026-11-12", "expected DATE=VALUE"),
        ("12/11/2026=1700", "not a date"),
        ("2026-11-12=abc", "not a number"),
        ("2026-11-12=-5", "positive"),
        ("2026-11-12=nan", "positive"),
        ("2026-11-12T09:30+02:00=1700", "time zone"),
    ],
)
def test_parse_hcg_arg_errors_are_clear(arg, msg):
    with pytest.raises(ValueError, match=msg):
        parse_hcg_arg(arg)


@settings(max_examples=150, deadline=None)
@given(
    h1=st.floats(10, 200_000),
    h2=st.floats(10, 200_000),
    hours=st.floats(1, 400),
)
def test_nice_class_follows_the_normalised_change(h1, h2, hours):
    t0 = datetime(2026, 11, 10)
    fwd = analyse_series([HcgSample(t0, h1), HcgSample(t0 + timedelta(hours=hours), h2)], kb=KB)
    rev = analyse_series([HcgSample(t0 + timedelta(hours=hours), h2), HcgSample(t0, h1)], kb=KB)
    [p] = fwd
    assert fwd == rev
    exact = ((h2 / h1) ** (48 / hours) - 1) * 100
    if exact > 63 + 1e-3:
        assert p.nice == "likely_intrauterine"
    elif exact < -50 - 1e-3:
        assert p.nice == "unlikely_to_continue"
    elif -50 + 1e-3 < exact < 63 - 1e-3:
        assert p.nice == "review_within_24h"
    assert (p.barnhart_min_rise_met is None) == (h2 < h1)
