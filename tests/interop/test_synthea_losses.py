"""Real EHR data: every Synthea R4 bundle in shared/fhir-samples/synthea imports with the losses
her chart codes, no more and no fewer.

The table below was written by hand from the bundles' own codes (jq over Condition and
Procedure resources: 19169002 Miscarriage in first trimester, 35999006 Blighted ovum,
156073000 Fetus with unknown complication, 72892002 Normal pregnancy episodes, Procedures
714812005 / 386394001 termination, 66348005 Childbirth), never from the importer's output.
Rules checked (issue 15 §1): SNOMED outcome codes are read, with the code's own trimester;
several Conditions of one event are one pregnancy; 156073000 alone is not a loss; a loss
without a GA is kept with `ga_unknown`; data after the assessment date is left out and said
so; the patient's age is her age at that date.
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from rplcare.interop.fhir.importer import import_bundle
from rplcare.interop.fhir.read import readable_case

SYNTHEA = Path(__file__).resolve().parents[3] / "shared" / "fhir-samples" / "synthea"
if not SYNTHEA.is_dir():  # the worktree layout: /work/<branch>-wt next to /work/shared
    SYNTHEA = Path("/work/shared/fhir-samples/synthea")

# file -> (as of, [(outcome, date, trimester or None, ga_unknown)] oldest first)
M, T, L = "miscarriage", "termination", "live_birth"
HAND: dict[str, tuple[str, list[tuple[str, str, str | None, bool]]]] = {
    # 19169002 + 35999006 on 2015-05-20 (one event); 35999006 alone on 2018-01-24; three
    # terminations (714812005 then 386394001 a week later, one episode each)
    "synthea-0b00570a-5882.json": (
        "2021-06-01",
        [
            (M, "2015-05-20", "first", True),
            (T, "2015-10-07", None, False),
            (T, "2017-04-26", None, False),
            (M, "2018-01-24", None, True),
            (T, "2020-11-18", None, False),
        ],
    ),
    "synthea-0ce798c0-1fc8.json": ("2011-06-01", [(M, "2011-02-15", "first", True)]),
    "synthea-259bc6c6-9c1d.json": ("1978-06-01", [(M, "1978-01-26", "first", True)]),
    # 19169002 + 35999006 the same day: one loss
    "synthea-276b501c-98d9.json": ("2018-03-01", [(M, "2017-12-25", "first", True)]),
    "synthea-36ab2c13-d59e.json": ("1969-12-01", [(M, "1969-08-13", "first", True)]),
    "synthea-90bf6c46-ee5a.json": ("1989-06-01", [(M, "1989-02-03", "first", True)]),
    "synthea-9907f1bc-0884.json": ("1977-03-01", [(M, "1976-12-23", "first", True)]),
    # 2013 (19169002 + 35999006), 2014-10-22 and 2018-08-29 156073000 only (not losses),
    # termination 2015-12-30, 35999006 on 2016-08-10, childbirth 2019-07-24
    "synthea-9e8ba712-5bbf.json": (
        "2019-12-01",
        [
            (M, "2013-09-25", "first", True),
            (T, "2015-12-30", None, False),
            (M, "2016-08-10", None, True),
            (L, "2019-07-24", None, True),
        ],
    ),
    "synthea-aa23ce27-f93f.json": ("1973-06-01", [(M, "1973-02-18", "first", True)]),
    # 19169002 with 156073000 the same day: one loss
    "synthea-ae30c5e1-23da.json": ("2016-09-01", [(M, "2016-05-09", "first", True)]),
    "synthea-ba29bb08-e7d6.json": (
        "2020-01-01",
        [
            (M, "2007-02-12", "first", True),
            (L, "2014-06-09", None, True),
            (T, "2015-12-28", None, False),
            (M, "2019-09-23", None, True),
        ],
    ),
    "synthea-da66e77d-9258.json": ("1988-03-01", [(M, "1987-11-14", "first", True)]),
}
BORN = {  # Patient.birthDate, by hand
    "synthea-0b00570a-5882.json": "1988-02-10",
    "synthea-36ab2c13-d59e.json": "1924-12-30",
    "synthea-9e8ba712-5bbf.json": "1968-10-09",
}

pytestmark = pytest.mark.skipif(not SYNTHEA.is_dir(), reason="shared Synthea samples absent")


@cache
def _bundle(name: str) -> dict[str, Any]:
    return json.loads((SYNTHEA / name).read_text(encoding="utf-8"))


def _import(name: str, as_of: str) -> tuple[Any, Any]:
    today = date.fromisoformat(as_of)
    result = import_bundle(_bundle(name), today=today)
    case, _dropped = readable_case(result.case, result.sources, today=today)
    return case, result


def test_the_hand_table_covers_every_sample() -> None:
    assert sorted(p.name for p in SYNTHEA.glob("*.json")) == sorted(HAND)


@pytest.mark.parametrize("name", sorted(HAND))
def test_each_womans_losses_are_read_as_her_chart_codes_them(name: str) -> None:
    as_of, expected = HAND[name]
    case, _result = _import(name, as_of)
    got = [
        (p.outcome, p.date.isoformat() if p.date else None, p.trimester, bool(p.ga_unknown))
        for p in case.pregnancies
    ]
    assert got == expected
    losses = [p for p in case.pregnancies if p.outcome == "miscarriage"]
    assert len(losses) == sum(1 for e in expected if e[0] == M)


@pytest.mark.parametrize("name", sorted(BORN))
def test_age_is_her_age_at_the_assessment_date(name: str) -> None:
    as_of, _ = HAND[name]
    case, _ = _import(name, as_of)
    born = date.fromisoformat(BORN[name])
    day = date.fromisoformat(as_of)
    assert case.patient.birth_date == born
    assert case.patient.age_on(case.day) == day.year - born.year - (
        (day.month, day.day) < (born.month, born.day)
    )


def test_an_earlier_date_leaves_out_later_data_and_says_how_much() -> None:
    name = "synthea-9e8ba712-5bbf.json"
    case, result = _import(name, "2015-01-01")
    assert [(p.outcome, p.date.isoformat()) for p in case.pregnancies] == [(M, "2013-09-25")]
    note = next(n for n in result.notes if n.startswith("left out"))
    n_later = sum(
        1
        for e in _bundle(name)["entry"]
        if e["resource"]["resourceType"] == "Condition"
        and (e["resource"].get("onsetDateTime") or "")[:10] > "2015-01-01"
    )
    assert "dated after 2015-01-01" in note
    assert f"Condition {n_later}" in note


def test_fetus_with_unknown_complication_is_reported_not_counted() -> None:
    _case, result = _import("synthea-ae30c5e1-23da.json", "2016-09-01")
    rows = [r for r in result.unmapped if r["code"].endswith("|156073000")]
    assert rows and all("not a loss by itself" in r["why"] for r in rows)


def test_a_pregnancy_open_at_the_assessment_date_is_the_current_pregnancy() -> None:
    # 72892002 from 2018-12-12 to 2019-07-24: on 2019-01-01 she is pregnant
    case, _ = _import("synthea-9e8ba712-5bbf.json", "2019-01-01")
    assert case.current_pregnancy is not None
    case, _ = _import("synthea-9e8ba712-5bbf.json", "2019-12-01")
    assert case.current_pregnancy is None


@pytest.mark.xfail(
    strict=True,
    reason="counting a loss with ga_unknown needs reasoning/classification.py (not this "
    "branch's room); the two-line change is in the ehr branch report. Remove this mark then.",
)
def test_losses_of_unknown_ga_count_under_eshre() -> None:
    # ESHRE 2022 counts every pregnancy loss before 24 weeks; a coded miscarriage is one
    from rplcare.reasoning.assess import assess

    case, _ = _import("synthea-0b00570a-5882.json", "2021-06-01")
    d = assess(case, today=case.day).to_dict()
    assert d["classification"]["losses_counted"] == 2
    assert d["classification"]["rpl"] is True
