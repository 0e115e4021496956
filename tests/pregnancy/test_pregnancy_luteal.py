"""Luteal-support schedule under both policies, and the cervix windows."""

from datetime import date

import pytest

from rplcare.knowledge import get_kb
from rplcare.pregnancy.dating import date_pregnancy
from rplcare.pregnancy.luteal import (
    ART,
    BLEEDING,
    cerclage_window,
    cervical_surveillance,
    schedule,
)

KB = get_kb()

TODAY = date(2026, 11, 22)
# day-5 transfer 2026-10-20: LMP equivalent 2026-10-01, GA 7+3 today (assessment-format example)
ART_DATING = date_pregnancy(TODAY, None, None, date(2026, 10, 20), 5, [], kb=KB)
LMP_DATING = date_pregnancy(TODAY, date(2026, 10, 1), 28, None, None, [], kb=KB)


def run(
    indication=None,
    policy="guideline",
    dating=LMP_DATING,
    is_art=False,
    requires=False,
    rpl=True,
    last=None,
    second=False,
    reason=None,
):
    return schedule(
        indication, policy, dating, is_art, requires, rpl, last, second, reason, today=TODAY, kb=KB
    )


def test_nice_ng126_bleeding_stops_at_16_plus_0():
    lut = run(BLEEDING)
    out = lut.model_dump(mode="json")
    assert out["indicated"] is True and out["indication"] == BLEEDING
    assert out["regimen"] == "vaginal micronised progesterone 400 mg twice daily"
    assert (out["stop_ga"], out["stop_date"]) == ("16+0", "2027-01-21")
    assert (out["policy"], out["label"]) == ("guideline", "guideline")
    assert out["start"] == "2026-11-22" and "NICE" in out["why"]


def test_art_default_stop_10_plus_0_is_labelled_practice_not_evidence():
    lut = run(ART, dating=ART_DATING, is_art=True, requires=True)
    assert (lut.stop_ga, lut.stop_date) == ("10+0", date(2026, 12, 10))
    assert lut.label == "practice, not evidence" and "positive pregnancy test" in lut.why
    assert "must not be stopped early" in lut.why


def test_art_pregnancy_with_bleeding_keeps_the_later_stop():
    lut = run(BLEEDING, dating=ART_DATING, is_art=True, requires=True)
    assert lut.stop_ga == "16+0" and lut.label == "guideline"


def test_guideline_without_indication_is_not_indicated():
    lut = run(None)
    assert not lut.indicated and lut.stop_date is None and "PROMISE" in lut.why


@pytest.mark.parametrize(
    ("last", "stop"),
    [(56, "12+0"), (63, "12+0"), (77, "13+0"), (91, "15+0"), (98, "16+0"), (105, "16+0")],
)
def test_article_stop_is_last_loss_plus_2_weeks_within_12_and_16_weeks(last, stop):
    lut = run(None, policy="article", last=last)
    assert lut.indicated and lut.stop_ga == stop
    assert lut.label == "expert opinion without guideline support"


def test_article_after_second_trimester_loss_stops_at_28_plus_0():
    lut = run(None, policy="article", last=60, second=True)
    assert lut.stop_ga == "28+0" and lut.stop_date == date(2027, 4, 15)


def test_article_keeps_the_later_art_stop_and_bleeding_stop():
    art = run(ART, policy="article", dating=ART_DATING, is_art=True, requires=True, last=42)
    assert art.stop_ga == "12+0"  # article 12+0 is later than ART 10+0
    bleed = run(BLEEDING, policy="article", last=56)
    assert bleed.stop_ga == "16+0"


def test_article_applies_to_women_with_rpl_only():
    assert not run(None, policy="article", rpl=False).indicated


@pytest.mark.parametrize("policy", ["guideline", "article"])
@pytest.mark.parametrize(
    "reason", ["pregnancy of unknown location", "ectopic pregnancy", "diagnosed failure"]
)
def test_never_indicated_for_pul_ectopic_or_diagnosed_failure(policy, reason):
    lut = run(BLEEDING, policy=policy, reason=reason, last=70)
    assert not lut.indicated and lut.stop_date is None and reason in lut.why


def test_without_dating_stop_date_is_null_with_warning():
    lut = run(BLEEDING, dating=None)
    assert lut.stop_ga == "16+0" and lut.stop_date is None and lut.warnings


def test_nice_ng25_cervical_surveillance_window_16_to_24_weeks():
    w = cervical_surveillance(LMP_DATING, True, kb=KB)
    assert (w.start_ga, w.end_ga) == ("16+0", "24+0")
    assert (w.start, w.end) == (date(2027, 1, 21), date(2027, 3, 18))
    assert cervical_surveillance(LMP_DATING, False, kb=KB) is None


def test_cerclage_window_12_to_14_weeks_is_unverified():
    w = cerclage_window(LMP_DATING, True, kb=KB)
    assert (w.start, w.end) == (date(2026, 12, 24), date(2027, 1, 7))
    assert w.verified is False and w.note
    assert cerclage_window(LMP_DATING, False, kb=KB) is None
