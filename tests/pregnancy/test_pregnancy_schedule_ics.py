"""Follow-up events and their iCalendar export."""

from datetime import date, datetime, timedelta

from icalendar import Calendar

from rplcare.knowledge import get_kb
from rplcare.pregnancy.dating import date_pregnancy
from rplcare.pregnancy.hcg import analyse_series
from rplcare.pregnancy.inputs import HcgSample, ScanInput
from rplcare.pregnancy.luteal import BLEEDING, cervical_surveillance, schedule
from rplcare.pregnancy.schedule import events
from rplcare.pregnancy.viability import assess_viability
from rplcare.render.ics import events_to_ics

KB = get_kb()

TODAY = date(2026, 11, 12)
DATING = date_pregnancy(TODAY, date(2026, 10, 1), 28, None, None, [], kb=KB)


def hcg(v1, v2):
    return analyse_series(
        [HcgSample(datetime(2026, 11, 10), v1), HcgSample(datetime(2026, 11, 12), v2)], kb=KB
    )


def test_review_pair_schedules_next_hcg_48h_after_the_last():
    [ev] = events(TODAY, hcg_pairs=hcg(1000, 1200), kb=KB)
    assert ev.kind == "next_hcg" and ev.start == date(2026, 11, 14)


def test_falling_pair_schedules_urine_test_14_days_after_second_sample():
    [ev] = events(TODAY, hcg_pairs=hcg(1000, 400), kb=KB)
    assert ev.kind == "urine_pregnancy_test" and ev.start == date(2026, 11, 26)


def test_rising_pair_schedules_scan_7_to_14_days_later():
    [ev] = events(TODAY, hcg_pairs=hcg(1000, 1700), kb=KB)
    assert (ev.kind, ev.start, ev.end) == ("next_scan", date(2026, 11, 19), date(2026, 11, 26))


def test_viability_rescan_window_and_scan_since_hcg_supersedes_hcg_events():
    sc = ScanInput(TODAY, "intrauterine", 8, True, False, None, None, None)
    v = assess_viability([sc], lambda d: 42 - 6, TODAY, kb=KB)
    evs = events(TODAY, hcg_pairs=hcg(1000, 1200), viability=v, kb=KB)
    assert [(e.kind, e.start, e.end) for e in evs] == [
        ("next_scan", TODAY + timedelta(days=7), TODAY + timedelta(days=14))
    ]


def test_luteal_stop_and_cervical_window_events():
    lut = schedule(BLEEDING, "guideline", DATING, False, False, True, 56, False, None, kb=KB)
    cerv = cervical_surveillance(DATING, True, kb=KB)
    evs = events(TODAY, luteal=lut, cervical=cerv, kb=KB)
    assert [(e.kind, e.start) for e in evs] == [
        ("cervical_length", date(2027, 1, 21)),
        ("luteal_stop", date(2027, 1, 21)),
    ]


def test_ics_has_stable_uids_exclusive_dtend_and_no_case_id_in_clear():
    lut = schedule(BLEEDING, "guideline", DATING, False, False, True, 56, False, None, kb=KB)
    evs = events(TODAY, luteal=lut, cervical=cervical_surveillance(DATING, True, kb=KB), kb=KB)
    raw = events_to_ics(evs, "demo-001")
    assert raw == events_to_ics(evs, "demo-001")
    assert b"demo-001" not in raw
    cal = Calendar.from_ical(raw)
    vevents = list(cal.walk("VEVENT"))
    assert len(vevents) == 2
    uids = {str(v["UID"]) for v in vevents}
    # redating moves the events but keeps their UIDs
    later = DATING.model_copy(update={"lmp_equivalent": DATING.lmp_equivalent + timedelta(days=5)})
    lut2 = schedule(BLEEDING, "guideline", later, False, False, True, 56, False, None, kb=KB)
    evs2 = events(TODAY, luteal=lut2, cervical=cervical_surveillance(later, True, kb=KB), kb=KB)
    cal2 = Calendar.from_ical(events_to_ics(evs2, "demo-001"))
    assert {str(v["UID"]) for v in cal2.walk("VEVENT")} == uids
    assert uids.isdisjoint(
        str(v["UID"]) for v in Calendar.from_ical(events_to_ics(evs, "other")).walk("VEVENT")
    )
    window = next(v for v in vevents if "cervical" in str(v["CATEGORIES"].to_ical()))
    assert window["DTSTART"].dt == date(2027, 1, 21)
    assert window["DTEND"].dt == date(2027, 3, 19)  # 24+0 inclusive -> exclusive next day


def test_ics_of_no_events_is_a_valid_empty_calendar():
    cal = Calendar.from_ical(events_to_ics([], "demo-001"))
    assert list(cal.walk("VEVENT")) == []
