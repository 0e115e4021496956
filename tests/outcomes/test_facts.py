"""What counts: the episode, subsequent pregnancies and their outcome categories (rules of
docs/outcomes.md), on cases written by hand; and the rows follow every write to the store."""

from __future__ import annotations

from datetime import date

import pytest

from rplcare.outcomes import facts, registry
from rplcare.store import repository as repo
from rplcare.store.db import Store

INDEX = "2024-03-01"


def derive(latest: dict, first: dict | None = None, **kw):
    first = first or {"assessed_on": INDEX, "patient": {"age_years": 33}}
    args = {
        "first_written": date(2024, 3, 1),
        "latest_written": date(2024, 3, 1),
        "version_id": 1,
        "clinician": "dr_x",
        "causes": [],
        "treatments": [],
        "expected": None,
    }
    return facts.derive(first, latest, **{**args, **kw})


def test_the_episode_starts_at_the_first_versions_clinical_date():
    f = derive({"assessed_on": "2025-06-01"}, first_written=date(2026, 1, 1))
    assert f.patient["index_date"] == date(2024, 3, 1)
    f = derive({}, first={"patient": {}}, first_written=date(2026, 1, 1))
    assert f.patient["index_date"] == date(2026, 1, 1)  # no assessed_on: the day it was written


# (pregnancy, subsequent?, category) — the rules in docs/outcomes.md
PREGNANCIES = [
    ({"outcome": "miscarriage", "ga": "7+0", "date": "2024-02-29"}, False, None),
    ({"outcome": "miscarriage", "ga": "7+0", "date": INDEX}, False, None),  # ended that day
    ({"outcome": "miscarriage", "ga": "7+0", "date": "2024-03-02"}, True, "miscarriage"),
    ({"outcome": "live_birth", "ga": "39+0", "date": "2025-01-10"}, True, "live_birth"),
    ({"outcome": "live_birth", "ga": "24+0", "date": "2025-01-10"}, True, "live_birth"),
    ({"outcome": "live_birth", "ga": "23+6", "date": "2025-01-10"}, True, "live_birth_pre24"),
    ({"outcome": "ectopic", "date": "2024-08-01"}, True, "ectopic"),
    ({"outcome": "molar", "year": 2025}, True, "molar"),  # a later year only
    ({"outcome": "termination", "year": 2024}, False, None),  # the index year only: history
    ({"outcome": "stillbirth", "ga": "30+0", "date": "2025-05-01"}, True, "stillbirth"),
    ({"outcome": "biochemical"}, False, None),  # neither date nor year
]


@pytest.mark.parametrize(("preg", "subsequent", "category"), PREGNANCIES)
def test_which_pregnancies_are_subsequent_and_their_category(preg, subsequent, category):
    f = derive({"assessed_on": "2025-06-01", "pregnancies": [preg]})
    assert len(f.pregnancies) == int(subsequent)
    if subsequent:
        assert f.pregnancies[0]["outcome"] == category
        assert f.patient["live_births"] == int(category == "live_birth")


def test_prior_losses_count_miscarriages_and_biochemical_losses_before_the_episode():
    history = [
        {"outcome": "miscarriage", "ga": "7+0", "year": 2021},
        {"outcome": "biochemical", "year": 2022},
        {"outcome": "ectopic", "year": 2022},
        {"outcome": "live_birth", "ga": "39+0", "year": 2019},
    ]
    seen = []
    f = derive({"pregnancies": history}, expected=lambda age, n: seen.append((age, n)) or 0.7)
    assert f.patient["prior_losses"] == 2
    assert seen == [(33, 1)]  # Brigham counts miscarriages
    assert f.patient["expected"] == 0.7


def test_the_current_pregnancy_is_pending_with_its_due_date_and_ga_reached():
    f = derive(
        {
            "assessed_on": "2024-06-01",
            "pregnancies": [{"outcome": "miscarriage", "ga": "6+0", "date": "2024-04-01"}],
            "current_pregnancy": {"lmp": "2024-03-01"},
        }
    )
    assert [p["outcome"] for p in f.pregnancies] == ["miscarriage", "pending"]
    pending = f.pregnancies[1]
    assert pending["seq"] == 2
    assert pending["due_date"] == date(2024, 12, 6)  # LMP + 280 days
    assert pending["ga_days"] == 92 and pending["reached_12"] == 1
    assert pending["reached_24"] == 0


def test_a_pregnancy_under_care_at_the_first_assessment_is_the_next_pregnancy():
    first = {"assessed_on": INDEX, "current_pregnancy": {"lmp": "2024-02-01"}}
    later = {
        "assessed_on": "2024-10-20",
        "pregnancies": [{"outcome": "live_birth", "ga": "37+3", "date": "2024-10-19"}],
    }
    f = derive(later, first=first)
    assert [(p["seq"], p["outcome"]) for p in f.pregnancies] == [(1, "live_birth")]


def test_milestones_recorded_by_the_web_app_count_as_ongoing():
    """Rule: a pending pregnancy seen ongoing past 12+0 / 24+0 (current_pregnancy.milestones,
    as the web app records them) counts as reached, even without dating."""
    f = derive({"assessed_on": "2024-06-01", "current_pregnancy": {"milestones": [{"weeks": 12}]}})
    assert (f.pregnancies[0]["reached_12"], f.pregnancies[0]["reached_24"]) == (1, 0)
    f = derive({"assessed_on": "2024-09-01", "current_pregnancy": {"milestones": [{"weeks": 24}]}})
    assert (f.pregnancies[0]["reached_12"], f.pregnancies[0]["reached_24"]) == (1, 1)


def test_a_case_the_engine_cannot_assess_is_counted_in_its_own_cause_group():
    f = derive({}, causes=[facts.NOT_ASSESSED])
    assert [t for t in f.tags if t[0] == "cause"] == [("cause", facts.NOT_ASSESSED)]


def test_an_art_pregnancy_is_dated_from_the_transfer():
    f = derive(
        {
            "assessed_on": "2024-05-01",
            "current_pregnancy": {"transfer_date": "2024-04-01", "embryo_age_days": 5},
        }
    )
    # a day-5 embryo transferred on 1 April: LMP-equivalent 19 days earlier (13 March) + 280 d
    assert f.pregnancies[0]["due_date"] == date(2024, 12, 18)


def test_tags_always_say_something():
    f = derive({})
    assert ("cause", facts.NO_CAUSE) in f.tags and ("treatment", facts.NO_TREATMENT) in f.tags
    f = derive({}, causes=["cause.septate_uterus", "cause.submucosal_fibroid", "gap.x"])
    assert [t for t in f.tags if t[0] == "cause"] == [("cause", "uterine")]


CASE = {
    "id": "oc-1",
    "assessed_on": "2024-03-01",
    "patient": {"age_years": 33},
    "pregnancies": [
        {"outcome": "miscarriage", "ga": "7+0", "date": "2023-01-05"},
        {"outcome": "miscarriage", "ga": "8+0", "date": "2023-09-05"},
    ],
}


def test_rows_follow_every_write_and_lost_to_follow_up_is_counted(store_url):
    """Rule: a pending pregnancy with no record past due date + the window is lost to
    follow-up; recording its outcome (a new version) moves it to the outcome."""
    store = Store(store_url)
    try:
        with store.write() as s:
            user = repo.create_user(s, "dr_y", "clinician")
            repo.create_case(s, CASE, user)
        opts = registry.Options(today=date(2025, 6, 1), lost_after_days=30)
        with store.read() as s:
            r = registry.compute(s, opts)
        assert r["patients"] == 1 and r["never_conceived"] == 1
        assert r["live_birth_per_patient"]["too_few"] is True
        with store.write() as s:
            repo.update_case(
                s,
                "oc-1",
                {
                    **CASE,
                    "assessed_on": "2024-05-01",
                    "current_pregnancy": {"lmp": "2024-04-01", "treatments": ["lmwh"]},
                },
                user,
            )
            repo.record_override(s, "oc-1", "treat.x", "accepted", None, "", user)
        with store.read() as s:
            r = registry.compute(s, opts)  # due 2025-01-06 + 30 days < 2025-06-01
            tags = registry.compute(s, registry.Options(today=date(2025, 6, 1), by="treatment"))
        assert r["lost_to_follow_up"]["numerator"] == 1
        assert r["pending"]["numerator"] == 0
        assert r["live_birth_next_pregnancy"]["denominator"] == 0
        assert {row["group"] for row in tags["breakdown"]} == {
            "medication: lmwh",
            "accepted: treat.x",
        }
        with store.read() as s:
            r = registry.compute(s, registry.Options(today=date(2024, 12, 1)))
        assert r["pending"]["numerator"] == 1 and r["lost_to_follow_up"]["numerator"] == 0
        with store.write() as s:
            repo.update_case(
                s,
                "oc-1",
                {
                    **CASE,
                    "assessed_on": "2025-01-03",
                    "pregnancies": [
                        *CASE["pregnancies"],
                        {"outcome": "live_birth", "ga": "39+3", "date": "2025-01-02"},
                    ],
                },
                user,
            )
        with store.read() as s:
            r = registry.compute(s, opts)
        assert r["live_birth_next_pregnancy"]["numerator"] == 1
        assert r["lost_to_follow_up"]["numerator"] == 0
        assert r["live_birth_per_patient"]["numerator"] == 1
        with store.read() as s:
            assert facts.stale_cases(s) == [] and facts.up_to_date(s)
    finally:
        store.dispose()


def test_sync_fills_in_cases_written_without_the_registry(store_url):
    """A store whose case rows predate the registry (or were written by other means)."""
    store = Store(store_url)
    try:
        with store.write() as s:
            repo.create_case(s, CASE, None)
        with store.write() as s:
            from sqlalchemy import delete

            from rplcare.store.models import OutcomePatient

            s.execute(delete(OutcomePatient))
        with store.read() as s:
            assert facts.stale_cases(s) == ["oc-1"] and not facts.up_to_date(s)
        r = registry.report_for(store, registry.Options(today=date(2025, 6, 1)))
        assert r["patients"] == 1
    finally:
        store.dispose()


def test_a_termination_is_not_a_prior_loss():
    """Rule: an induced termination is not a pregnancy loss (spec recommendations.md §1;
    ESHRE counts spontaneous losses before 24 weeks): two miscarriages and a termination before
    the episode are two prior losses, and two miscarriages for Brigham."""
    seen = []
    history = [
        {"outcome": "miscarriage", "ga": "7+0", "year": 2021},
        {"outcome": "termination", "year": 2022},
        {"outcome": "miscarriage", "ga": "9+0", "year": 2023},
    ]
    f = derive({"pregnancies": history}, expected=lambda age, n: seen.append(n) or None)
    assert f.patient["prior_losses"] == 2 and seen == [2]


def test_milestones_recorded_from_the_case_page_reach_the_registry(store_url):
    """Rule: "ongoing past 12 / 24 weeks" recorded by the outcome form (a milestone of the
    current pregnancy) counts in the registry's ongoing rates, then the birth closes it.
    LMP 1 April 2024: 1 July is 13+0, 20 September 24+4, 6 January 2025 is 40+0 (280 days)."""
    store = Store(store_url)
    try:
        with store.write() as s:
            user = repo.create_user(s, "dr_m", "clinician")
            repo.create_case(s, CASE, user)
            repo.update_case(
                s,
                "oc-1",
                {**CASE, "assessed_on": "2024-05-01", "current_pregnancy": {"lmp": "2024-04-01"}},
                user,
            )
            repo.record_outcome(s, "oc-1", "ongoing_12", "2024-07-01", user)
        with store.read() as s:
            r = registry.compute(s, registry.Options(today=date(2024, 7, 2)))
        assert (r["ongoing_12_next_pregnancy"]["numerator"], r["pending"]["numerator"]) == (1, 1)
        assert r["ongoing_12_next_pregnancy"]["denominator"] == 1
        assert r["ongoing_24_next_pregnancy"]["denominator"] == 0  # not known yet
        with store.write() as s:
            repo.record_outcome(s, "oc-1", "ongoing_24", "2024-09-20", user)
        with store.read() as s:
            r = registry.compute(s, registry.Options(today=date(2024, 9, 21)))
        assert r["ongoing_24_next_pregnancy"]["numerator"] == 1
        with store.write() as s:
            repo.record_outcome(s, "oc-1", "live_birth", "2025-01-06", user, birth_weight_g=3300)
            latest = repo.latest_version(s, "oc-1").data
        assert latest["pregnancies"][-1]["ga"] == "40+0"  # carried from the dating
        with store.read() as s:
            r = registry.compute(s, registry.Options(today=date(2025, 1, 7)))
        assert r["live_birth_next_pregnancy"]["numerator"] == 1
        assert r["ongoing_24_next_pregnancy"]["numerator"] == 1
    finally:
        store.dispose()


@pytest.mark.parametrize(("reached", "expected"), [(None, (0, 0)), (12, (1, 0)), (24, (1, 1))])
def test_a_milestone_carried_into_an_ended_pregnancy_counts_without_a_ga(reached, expected):
    """Rule (docs/outcomes.md, ongoing past 12+0 / 24+0): a subsequent pregnancy that ended
    with no GA (a termination) after being seen ongoing past 12 or 24 weeks
    (pregnancies[].reached_weeks) is known to have reached that mark; 24 implies 12."""
    preg = {"outcome": "termination", "date": "2024-09-01"}
    if reached is not None:
        preg["reached_weeks"] = reached
    f = derive({"assessed_on": "2024-10-01", "pregnancies": [preg]})
    assert (f.pregnancies[0]["reached_12"], f.pregnancies[0]["reached_24"]) == expected


def test_the_milestone_is_not_lost_when_an_undated_pregnancy_ends(store_url):
    """Rule (repository.record_outcome, docs/case-format-extensions.md): a pregnancy with no
    dating seen ongoing past 12 then 24 weeks that ends with no GA (a termination) keeps the
    furthest milestone (reached_weeks: 24), and the registry still counts the next pregnancy
    as ongoing past 12+0 and 24+0 once it has ended."""
    store = Store(store_url)
    try:
        with store.write() as s:
            user = repo.create_user(s, "dr_m", "clinician")
            repo.create_case(s, {**CASE, "current_pregnancy": {"conception": "natural"}}, user)
            repo.record_outcome(s, "oc-1", "ongoing_12", "2024-05-20", user)
            repo.record_outcome(s, "oc-1", "ongoing_24", "2024-08-12", user)
            repo.record_outcome(s, "oc-1", "termination", "2024-08-20", user)
            latest = repo.latest_version(s, "oc-1").data
        assert "current_pregnancy" not in latest
        assert latest["pregnancies"][-1] == {
            "outcome": "termination",
            "date": "2024-08-20",
            "conception": "natural",
            "reached_weeks": 24,
        }
        with store.read() as s:
            r = registry.compute(s, registry.Options(today=date(2024, 8, 21)))
        assert r["ongoing_12_next_pregnancy"]["numerator"] == 1
        assert r["ongoing_24_next_pregnancy"]["numerator"] == 1
        assert r["ongoing_24_next_pregnancy"]["denominator"] == 1
    finally:
        store.dispose()
