"""Rule (issue 9 §5, KB `dating.crl_needs_heartbeat`, INTERGROWTH-21st 2014 / BMUS 2009: a CRL
standard describes a live embryo): never redate by the CRL of an embryo without a heartbeat.
Heartbeat false: the CRL is not used. Heartbeat not recorded: the CRL does not redate an LMP
and a warning names `current_pregnancy.scans[i].heartbeat`; with no LMP and no ART dates it
dates the pregnancy as provisional, with that warning; a later scan with a heartbeat dates
instead; ART dates are unchanged.

Figures by hand: LMP 60 days before the scan (8+4); a 5 mm CRL is ~6+1 by Robinson (BMUS form,
8.052*sqrt(1.037*5) + 23.73 = 42.7 days), 18 days short, beyond the > 5-day limit before 9+0
(ACOG CO 700), so a CRL with a heartbeat redates.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from casebuilder import TODAY, case, run

LMP = (TODAY - timedelta(days=60)).isoformat()


def _scan(heartbeat: bool | None, day: Any = TODAY) -> dict[str, Any]:
    s: dict[str, Any] = {
        "date": day.isoformat(),
        "location": "intrauterine",
        "embryo": True,
        "crl_mm": 5,
    }
    if heartbeat is not None:
        s["heartbeat"] = heartbeat
    return s


def _heartbeat_warnings(a: Any) -> list[dict[str, str]]:
    return [w for w in a.to_dict()["warnings_at"] if w["path"].endswith(".heartbeat")]


def test_heartbeat_seen_redates_by_the_crl():
    a = run(case(current_pregnancy={"lmp": LMP, "scans": [_scan(True)]}))
    assert a.pregnancy["dating"]["basis"] == "crl"
    assert _heartbeat_warnings(a) == []


def test_heartbeat_unrecorded_keeps_the_lmp_and_warns_with_the_path():
    a = run(case(current_pregnancy={"lmp": LMP, "scans": [_scan(None)]}))
    assert a.pregnancy["dating"]["basis"] == "lmp"
    (w,) = _heartbeat_warnings(a)
    assert w["path"] == "current_pregnancy.scans[0].heartbeat"
    assert "not recorded" in w["message"] and "not used for dating" in w["message"]


def test_heartbeat_false_is_never_used_and_not_reported_as_unrecorded():
    a = run(case(current_pregnancy={"lmp": LMP, "scans": [_scan(False)]}))
    assert a.pregnancy["dating"]["basis"] == "lmp"
    assert _heartbeat_warnings(a) == []


def test_no_lmp_dates_by_the_unrecorded_crl_as_provisional_with_the_path():
    a = run(case(current_pregnancy={"scans": [_scan(None)]}))
    assert a.pregnancy["dating"]["basis"] == "crl"
    (w,) = _heartbeat_warnings(a)
    assert w["path"] == "current_pregnancy.scans[0].heartbeat"
    assert "provisional" in w["message"]


def test_a_later_scan_with_a_heartbeat_dates_instead():
    earlier = _scan(None, TODAY - timedelta(days=7))
    later = {**_scan(True), "crl_mm": 10}
    a = run(case(current_pregnancy={"scans": [earlier, later]}))
    dating = a.pregnancy["dating"]
    assert dating["basis"] == "crl"
    assert dating["crl_scan_date"] == TODAY.isoformat()
    (w,) = _heartbeat_warnings(a)
    assert w["path"] == "current_pregnancy.scans[0].heartbeat"


def test_art_dates_are_kept_whatever_the_heartbeat():
    cp = {
        "lmp": LMP,
        "conception": "ivf",
        "transfer_date": (TODAY - timedelta(days=41)).isoformat(),
        "embryo_age_days": 5,
        "scans": [_scan(None)],
    }
    a = run(case(current_pregnancy=cp))
    assert a.pregnancy["dating"]["basis"] == "art"
    assert _heartbeat_warnings(a) == []
