"""Clinical-safety rules of issue 9, each test named after the rule and source it checks.

Expected values come from the sources (quoted in knowledge/data/*_safety.yaml and
../shared/clinical/guidelines.md) or are written by hand, never from the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from casebuilder import TODAY, case, finding_ids, run, statuses
from rplcare.reasoning.assess import assess
from rplcare.reasoning.rules_safety import numerical_karyotype


def losses(*gas: str) -> list[dict[str, Any]]:
    return [{"outcome": "miscarriage", "ga": ga, "year": 2023 + i % 3} for i, ga in enumerate(gas)]


def pregnant(ga_days: int, **extra: Any) -> dict[str, Any]:
    from datetime import timedelta

    cp = {"lmp": (TODAY - timedelta(days=ga_days)).isoformat(), "fetuses": 1}
    cp.update(extra)
    return cp


IUP = {"date": TODAY.isoformat(), "location": "intrauterine", "embryo": True, "heartbeat": True}


# ---------------------------------------------------------------- §7 ids (spec recommendations.md)
def test_previous_vte_gets_lmwh_thromboprophylaxis_plan_rcog_gtg37a():
    a = run(case(patient={"age_years": 32, "conditions": ["venous_thromboembolism"]}))
    r = a.rec("treat.vte_thromboprophylaxis")
    assert r is not None and r.status == "recommended"
    assert "prepregnancy counselling" in r.text
    assert "history.vte" in r.because
    assert {s["id"] for s in r.sources} >= {"rcog-gtg37a"}
    # distinct from therapeutic anticoagulation and from aspirin + heparin for APS
    assert a.status("treat.therapeutic_anticoagulation") is None
    assert a.status("treat.aspirin_heparin") is None


def test_previous_vte_when_pregnant_lmwh_from_now_within_24h_rcog_gtg37a():
    a = run(
        case(
            patient={"age_years": 32, "conditions": ["venous_thromboembolism"]},
            current_pregnancy=pregnant(50, scans=[IUP]),
        )
    )
    r = a.rec("treat.vte_thromboprophylaxis")
    assert r is not None and "from now" in r.text
    assert r.urgency == "within_24h"
    action = next(x for x in a.actions if x.id == "treat.vte_thromboprophylaxis")
    assert action.due is not None and (action.due - TODAY).days == 1


def test_one_unconfirmed_positive_after_a_clot_repeat_and_prophylactic_cover_not_therapeutic():
    """Issue 9 §5: therapeutic LMWH only with persistent positivity / confirmed thrombotic APS;
    one unconfirmed positive after a past clot -> repeat the test, prophylactic cover meanwhile
    (Sydney 2006 persistence; RCOG GTG 37a)."""
    data = case(
        patient={"age_years": 32, "conditions": ["venous_thromboembolism"]},
        results=[{"test": "lupus_anticoagulant", "value": "positive", "date": "2026-10-01"}],
    )
    s = statuses(run(data))
    assert s.get("treat.therapeutic_anticoagulation") is None
    assert s["test.antiphospholipid_repeat"] == "recommended"
    assert s["treat.vte_thromboprophylaxis"] == "recommended"


def test_persistent_aps_with_thrombosis_therapeutic_not_prophylactic_eular2019():
    data = case(
        patient={"age_years": 32, "conditions": ["venous_thromboembolism"]},
        results=[
            {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-03-01"},
            {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-07-01"},
        ],
    )
    s = statuses(run(data))
    assert s["treat.therapeutic_anticoagulation"] == "recommended"
    assert "treat.vte_thromboprophylaxis" not in s


def test_metformin_to_prevent_loss_not_recommended_eshre2022():
    on_it = run(case(patient={"age_years": 30, "medications": ["metformin"]}))
    r = on_it.rec("treat.metformin")
    assert r is not None and r.status == "not_recommended" and r.prominent
    assert not r.verified  # ESHRE 2022 wording not read: flagged
    pcos = run(case(patient={"age_years": 30, "conditions": ["pcos"]}))
    assert pcos.status("treat.metformin") == "not_recommended"
    assert run(case()).status("treat.metformin") is None


@pytest.mark.parametrize(
    ("history", "cervix_mm", "expected"),
    [
        # NICE NG25 (2019): both criteria -> offer a choice; one alone -> consider progesterone
        (True, 22, {"treat.cerclage_or_vaginal_progesterone_short_cervix": "recommended"}),
        (True, 25, {"treat.cerclage_or_vaginal_progesterone_short_cervix": "recommended"}),
        (False, 22, {"treat.vaginal_progesterone_short_cervix": "conditional"}),
        (True, 35, {"treat.vaginal_progesterone_short_cervix": "conditional"}),
        (False, 35, {}),
    ],
)
def test_nice_ng25_2019_short_cervix_and_history(history, cervix_mm, expected):
    past = losses("7+0", "18+0") if history else losses("7+0", "8+0")
    scan = {**IUP, "cervical_length_mm": cervix_mm}
    s = statuses(run(case(pregnancies=past, current_pregnancy=pregnant(18 * 7, scans=[scan]))))
    for rid in (
        "treat.cerclage_or_vaginal_progesterone_short_cervix",
        "treat.vaginal_progesterone_short_cervix",
    ):
        assert s.get(rid) == expected.get(rid), rid
    # PROMISE (first trimester, natural conceptions) is never beside a second-trimester cervix
    assert "treat.progesterone_without_bleeding" not in s


def test_lupus_anticoagulant_on_anticoagulation_caveat_isth2020():
    flagged = run(
        case(
            results=[
                {
                    "test": "lupus_anticoagulant",
                    "value": "positive",
                    "date": "2026-10-01",
                    "on_anticoagulation": True,
                }
            ]
        )
    )
    f = flagged.findings.get("state.lupus_anticoagulant_on_anticoagulation")
    assert f is not None and f.evidence == ["results[0]"]
    assert "falsely positive or negative" in f.text
    # a DOAC on record with no statement about the sample: the caveat asks to record it
    on_record = run(
        case(
            patient={"age_years": 32, "medications": ["rivaroxaban"]},
            results=[{"test": "lupus_anticoagulant", "value": "negative", "date": "2026-10-01"}],
        )
    )
    f2 = on_record.findings.get("state.lupus_anticoagulant_on_anticoagulation")
    assert f2 is not None and "rivaroxaban" in f2.text and "patient.medications[0]" in f2.evidence
    said_no = run(
        case(
            patient={"age_years": 32, "medications": ["rivaroxaban"]},
            results=[
                {
                    "test": "lupus_anticoagulant",
                    "value": "negative",
                    "date": "2026-10-01",
                    "on_anticoagulation": False,
                }
            ],
        )
    )
    assert "state.lupus_anticoagulant_on_anticoagulation" not in finding_ids(said_no)


@pytest.mark.parametrize("drug", ["warfarin", "apixaban", "rivaroxaban", "dabigatran", "edoxaban"])
def test_warfarin_and_doacs_switched_before_conception_same_day_when_pregnant(drug):
    pre = run(case(patient={"age_years": 32, "medications": [drug]}))
    r = pre.rec("treat.anticoagulant_switch")
    assert r is not None and r.status == "recommended" and "before conception" in r.text
    now = run(
        case(
            patient={"age_years": 32, "medications": [drug]},
            current_pregnancy=pregnant(45, scans=[IUP]),
        )
    )
    r2 = now.rec("treat.anticoagulant_switch")
    assert r2 is not None and r2.urgency == "same_day" and "today" in r2.text


def test_brand_names_of_anticoagulants_are_read_with_a_warning():
    a = run(case(patient={"age_years": 32, "medications": ["Xarelto", "enoxaparin"]}))
    assert "current.on_oral_anticoagulant" in finding_ids(a)
    assert any("'Xarelto' read as rivaroxaban" in w for w in a.warnings)


# ---------------------------------------------------------------- §1 one plan / populations
def test_promise_population_progesterone_not_recommended_only_for_natural_first_trimester():
    """PROMISE randomised natural conceptions to 12 weeks: not shown beside an artificial-cycle
    FET where luteal support must not be stopped early (issue 9 §1 example)."""
    fet = pregnant(
        45,
        conception="frozen_transfer",
        endometrial_preparation="artificial",
        transfer_date=(TODAY.fromordinal(TODAY.toordinal() - 45 + 19)).isoformat(),
        embryo_age_days=5,
        scans=[IUP],
    )
    s = statuses(run(case(pregnancies=losses("7+0", "8+0", "9+0"), current_pregnancy=fet)))
    assert s["treat.luteal_phase_support_art"] == "recommended"
    assert "treat.progesterone_without_bleeding" not in s
    natural = statuses(
        run(case(pregnancies=losses("7+0", "8+0", "9+0"), current_pregnancy=pregnant(45)))
    )
    assert natural["treat.progesterone_without_bleeding"] == "not_recommended"
    second_trimester = statuses(
        run(case(pregnancies=losses("7+0", "8+0", "9+0"), current_pregnancy=pregnant(100)))
    )
    assert "treat.progesterone_without_bleeding" not in second_trimester


def test_aps_treatment_in_pregnancy_reads_from_now_eular2019():
    aps_results = [
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-03-01"},
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-07-01"},
    ]
    three = losses("7+0", "8+0", "6+0")
    pre = run(case(pregnancies=three, results=aps_results))
    assert "from before conception" in pre.rec("treat.aspirin_heparin").text
    now = run(case(pregnancies=three, results=aps_results, current_pregnancy=pregnant(42)))
    r = now.rec("treat.aspirin_heparin")
    assert "from now" in r.text and "before conception" not in r.text
    assert "from now" in r.patient_text and r.urgency == "within_24h"


def test_preconception_imaging_and_karyotypes_deferred_in_pregnancy_not_do_now():
    a = run(
        case(pregnancies=losses("7+0", "8+0", "9+0"), current_pregnancy=pregnant(45, scans=[IUP]))
    )
    for rid in ("test.uterine_anatomy", "test.parental_karyotype"):
        r = a.rec(rid)
        assert r is not None and r.timing == "after_this_pregnancy", rid
        assert "after this pregnancy" in r.text
        action = next(x for x in a.actions if x.id == rid)
        assert action.due is None
    # deferred items come after everything that is due now
    ids = [x.id for x in a.actions]
    assert ids.index("test.uterine_anatomy") > ids.index("test.antiphospholipid_antibodies")


def test_brigham_prognosis_own_eggs_before_next_pregnancy_only():
    three = losses("7+0", "8+0", "9+0")
    assert run(case(pregnancies=three)).prognosis["applies_to"] == "next pregnancy"
    donor = run(
        case(
            pregnancies=three,
            current_pregnancy=pregnant(
                45,
                conception="donor_egg",
                transfer_date=(TODAY.fromordinal(TODAY.toordinal() - 45 + 19)).isoformat(),
                embryo_age_days=5,
            ),
        )
    )
    assert donor.prognosis is None
    assert any("egg" in w and "Brigham" in w for w in donor.warnings)
    late = run(case(pregnancies=three, current_pregnancy=pregnant(20 * 7)))
    assert late.prognosis is None
    assert any("past the first trimester" in w for w in late.warnings)


# ---------------------------------------------------------------- §2 urgent first
PUL_PAIN = case(
    id="pul-pain",
    results=[
        {"test": "hcg", "value": 4200, "unit": "IU/L", "date": "2026-11-21T09:00"},
        {"test": "hcg", "value": 4600, "unit": "IU/L", "date": "2026-11-23T09:00"},
    ],
    current_pregnancy={
        "lmp": "2026-10-12",
        "symptoms": ["pain"],
        "scans": [{"date": "2026-11-23", "location": "unknown"}],
    },
)


def test_pul_with_pain_above_discriminatory_puts_ectopic_alerts_first_nice_ng126_connolly2013():
    a = run(PUL_PAIN)
    first = a.most_urgent()
    assert first is not None and first.id == "alert.ectopic_suspected_symptomatic_pul"
    assert first.urgency == "immediate" and first.due == TODAY
    ectopic = [x.id for x in a.actions[:2]]
    assert ectopic == [
        "alert.ectopic_suspected_symptomatic_pul",
        "alert.hcg_above_discriminatory_no_sac",
    ]
    d = a.to_dict()
    assert d["actions"][0]["id"] == first.id and d["actions"][0]["urgency"] == "immediate"
    assert all("urgency" in r for r in d["recommendations"])


def test_bleeding_counts_like_pain_for_the_symptomatic_pul_alert():
    data = {**PUL_PAIN, "current_pregnancy": {**PUL_PAIN["current_pregnancy"]}}
    data["current_pregnancy"]["symptoms"] = ["bleeding"]
    assert run(data).most_urgent().id == "alert.ectopic_suspected_symptomatic_pul"


def test_no_later_scan_window_under_a_same_day_scan():
    """Issue 9 §2: no 'scan 8-15 December' under 'scan now'."""
    a = run(PUL_PAIN)
    for e in a.pregnancy["events"]:
        if e["kind"] in ("next_scan", "next_hcg"):
            assert e["start"] <= TODAY.isoformat(), e
    due_today = [e for e in a.pregnancy["events"] if e["start"] == TODAY.isoformat()]
    assert due_today[0]["kind"] == "alert.ectopic_suspected_symptomatic_pul"


def test_actions_are_calendar_events_on_their_due_day():
    from icalendar import Calendar

    from rplcare.pregnancy.schedule import Event
    from rplcare.render.ics import events_to_ics

    a = run(PUL_PAIN)
    events = [Event.model_validate(e) for e in a.pregnancy["events"]]
    cal = Calendar.from_ical(events_to_ics(events, "pul-pain"))
    vevents = {str(v["CATEGORIES"].cats[0]): v for v in cal.walk("VEVENT")}
    ev = vevents["alert.ectopic_suspected_symptomatic_pul"]
    assert ev.decoded("DTSTART") == TODAY


def test_routine_not_recommended_fold_into_one_line_except_on_record_or_asked():
    plain = run(case())
    folded = plain.folded_not_recommended()
    assert folded["count"] >= 15
    assert "treat.lymphocyte_immunotherapy" in folded["ids"]
    asked = run(
        case(asked_about=["treat.ivig"], patient={"age_years": 30, "medications": ["ivig"]})
    )
    f2 = asked.folded_not_recommended()
    assert "treat.ivig" not in f2["ids"] and f2["count"] == folded["count"] - 1
    only_asked = run(case(asked_about=["test.nk_cells"]))
    assert "test.nk_cells" not in only_asked.folded_not_recommended()["ids"]


def test_asked_about_must_name_a_recommendation():
    from rplcare.case.errors import CaseError
    from rplcare.case.loader import load_case

    with pytest.raises(CaseError) as exc:
        load_case(case(asked_about=["treat.nonsense"]), today=TODAY)
    assert "asked_about[0]" in str(exc.value) and "treat.ivig" in str(exc.value)


# ---------------------------------------------------------------- §3 hCG of 0
def test_hcg_of_zero_is_a_negative_test_not_a_division():
    data = case(
        results=[
            {"test": "hcg", "value": 900, "unit": "IU/L", "date": "2026-11-19"},
            {"test": "hcg", "value": 0, "unit": "IU/L", "date": "2026-11-23"},
        ],
        current_pregnancy={"lmp": "2026-10-12"},
    )
    a = run(data)
    assert any("results[1]: hCG 0 IU/L (negative test)" in w for w in a.warnings)
    assert a.pregnancy["hcg"]["pairs"] == []


# ---------------------------------------------------------------- §6 content
def test_hyperthyroidism_refer_and_stabilise_before_conception_ata2017():
    a = run(
        case(
            results=[
                {"test": "tsh", "value": 0.05, "unit": "mIU/L", "date": "2026-10-01"},
                {
                    "test": "free_t4",
                    "value": 35,
                    "unit": "pmol/L",
                    "reference_low": 10,
                    "reference_high": 22,
                    "date": "2026-10-01",
                },
            ]
        )
    )
    assert "cause.hyperthyroidism" in finding_ids(a)
    r = a.rec("treat.hyperthyroidism_referral")
    assert r.status == "recommended" and "before conception" in r.text and not r.verified
    assert "cause.unexplained" not in finding_ids(a)


def test_aspirin_for_preeclampsia_with_a_high_risk_factor_nice_ng133():
    a = run(
        case(
            patient={"age_years": 30, "conditions": ["chronic_hypertension"]},
            current_pregnancy=pregnant(60, scans=[IUP]),
        )
    )
    r = a.rec("treat.aspirin_preeclampsia")
    assert r.status == "recommended" and "from 12 weeks until the birth" in r.text
    # two moderate factors (age 40+, BMI 35+) also qualify; one does not
    two = run(
        case(patient={"age_years": 41, "bmi": 36}, current_pregnancy=pregnant(60, scans=[IUP]))
    )
    assert two.status("treat.aspirin_preeclampsia") == "recommended"
    one = run(
        case(patient={"age_years": 41, "bmi": 22}, current_pregnancy=pregnant(60, scans=[IUP]))
    )
    assert one.status("treat.aspirin_preeclampsia") is None


def test_adenomyosis_on_imaging_is_a_finding_with_an_unverified_eshre2022_item():
    a = run(
        case(
            results=[
                {
                    "test": "uterine_imaging",
                    "method": "3d_ultrasound",
                    "finding": "adenomyosis",
                    "date": "2026-06-10",
                }
            ]
        )
    )
    assert "cause.adenomyosis" in finding_ids(a)
    r = a.rec("treat.adenomyosis")
    assert r.status == "conditional" and not r.verified


def test_male_partner_age_smoking_bmi_alcohol_lancet2021_eshre2022():
    a = run(
        case(partner={"age_years": 45, "smoking": True, "bmi": 31, "alcohol_units_per_week": 20})
    )
    f = a.findings.get("state.partner_lifestyle_factor")
    assert f is not None
    assert f.evidence == [
        "partner.age_years",
        "partner.smoking",
        "partner.bmi",
        "partner.alcohol_units_per_week",
    ]
    assert a.status("advice.partner_lifestyle") == "recommended"
    assert run(case(partner={"age_years": 38})).status("advice.partner_lifestyle") is None


@pytest.mark.parametrize(
    ("iscn", "numerical"),
    [
        ("45,X/46,XX", True),
        ("46,XX/45,X", True),
        ("mos 45,X[8]/46,XX[22]", True),
        ("47,XXY", True),
        ("46,XX/47,XXX", True),
        ("46,XY", False),
        ("46,XX,inv(9)(p12q13)", False),
        ("46,XY,t(11;22)(q23;q11.2)", False),
    ],
)
def test_numerical_parental_karyotype_by_iscn_cell_line(iscn, numerical):
    assert numerical_karyotype(iscn) is numerical


def test_mosaic_45x_parent_kept_and_referred_for_genetic_counselling():
    a = run(
        case(results=[{"test": "karyotype_female", "value": "46,XX/45,X", "date": "2026-05-01"}])
    )
    f = a.findings.get("state.parental_numerical_karyotype")
    assert f is not None and "46,XX/45,X" in f.text and f.evidence == ["results[0]"]
    assert a.status("treat.genetic_counselling") == "recommended"


def test_chronic_endometritis_antibiotics_conditional_meta_analysis_2022():
    a = run(case(patient={"age_years": 30, "conditions": ["chronic_endometritis"]}))
    r = a.rec("treat.chronic_endometritis_antibiotics")
    assert r.status == "conditional" and "chronic-endometritis-ma2022" in {
        s["id"] for s in r.sources
    }


def test_positive_without_titre_twice_12_weeks_apart_persistence_then_titre_sydney2006():
    a = run(
        case(
            results=[
                {"test": "anticardiolipin_igg", "value": "positive", "date": "2026-03-01"},
                {"test": "anticardiolipin_igg", "value": "positive", "date": "2026-07-01"},
            ]
        )
    )
    assert "state.antiphospholipid_persistent_titre_unknown" in finding_ids(a)
    assert a.status("test.antiphospholipid_titre") == "recommended"
    assert a.status("test.antiphospholipid_repeat") is None


def test_care_tier_source_is_the_primary_lancet_paper_not_a_mailing_list():
    from rplcare.knowledge import get_kb

    src = get_kb().sources["lancet2021-graded"]
    assert src.citation.startswith("Coomarasamy A") and "Lancet 2021;397:1675-82" in src.citation
    assert "hifa" not in (src.url or "")


def test_assess_is_pure_same_actions_for_the_same_case():
    from rplcare.case.loader import load_case

    c = load_case(PUL_PAIN, today=TODAY)
    assert [x.to_json() for x in assess(c).actions] == [x.to_json() for x in assess(c).actions]


def test_levothyroxine_sch_tpo_positive_conditional_before_pregnancy_recommended_in_it():
    """Issue 9 §5: ESHRE 2022 conditional before pregnancy; ATA 2017 rec. 29 in pregnancy."""
    res = [
        {"test": "tsh", "value": 5.5, "unit": "mIU/L", "date": "2026-10-01"},
        {"test": "tpo_antibodies", "value": "positive", "date": "2026-10-01"},
    ]
    assert run(case(results=res)).status("treat.levothyroxine") == "conditional"
    preg = run(case(results=res, current_pregnancy=pregnant(50, scans=[IUP])))
    assert preg.status("treat.levothyroxine") == "recommended"


def test_missed_second_trimester_miscarriage_is_not_a_cervical_event_rcog_gtg75():
    """Issue 9 §5: a missed miscarriage with no cervical history is not cervical insufficiency
    and does not start cervical-length surveillance (RCOG GTG 75: spontaneous loss)."""
    missed = [
        {"outcome": "miscarriage", "ga": "7+0", "year": 2024},
        {"outcome": "miscarriage", "ga": "17+0", "year": 2025, "missed": True},
    ]
    a = run(case(pregnancies=missed, current_pregnancy=pregnant(60, scans=[IUP])))
    assert a.status("test.cervical_length_surveillance") is None
    assert "cause.cervical_insufficiency_history" not in finding_ids(a)
    spontaneous = [missed[0], {**missed[1], "missed": False}]
    b = run(case(pregnancies=spontaneous, current_pregnancy=pregnant(60, scans=[IUP])))
    assert b.status("test.cervical_length_surveillance") == "recommended"


def test_sperm_dna_fragmentation_and_ana_carry_the_same_eshre_status():
    """Issue 9 §5: ESHRE allows both "for explanatory purposes" (conditional)."""
    a = run(case())
    refs = {}
    for rid in ("test.sperm_dna_fragmentation", "test.antinuclear_antibodies"):
        esh = [s for s in a.rec(rid).sources if s["id"].startswith("eshre")]
        assert esh, rid
        refs[rid] = esh[0]
        assert "explanatory purposes" in esh[0]["locator"]
        assert esh[0]["strength"].startswith("Conditional")


@pytest.mark.parametrize(
    ("finding", "rid", "other"),
    [
        ("submucosal_fibroid", "treat.hysteroscopic_surgery", "treat.myomectomy"),
        ("intramural_fibroid_distorting_cavity", "treat.myomectomy", "treat.hysteroscopic_surgery"),
    ],
)
def test_fibroid_by_position_submucosal_hysteroscopic_intramural_myomectomy_eshre(
    finding, rid, other
):
    a = run(
        case(
            results=[
                {
                    "test": "uterine_imaging",
                    "method": "3d_ultrasound",
                    "finding": finding,
                    "date": "2026-06-10",
                }
            ]
        )
    )
    assert a.status(rid) == "conditional"
    assert a.status(other) is None


@pytest.mark.parametrize(
    ("rid", "result", "patient"),
    [
        (
            "test.prolactin",
            {"test": "prolactin", "value": 12, "unit": "ug/L", "reference_high": 25},
            {"age_years": 30, "menstrual_cycle": "oligomenorrhoea"},
        ),
        ("test.antinuclear_antibodies", {"test": "antinuclear_antibodies", "value": "1:80"}, None),
        (
            "test.inherited_thrombophilia",
            {"test": "factor_v_leiden", "value": "not detected"},
            None,
        ),
    ],
)
def test_a_recorded_result_satisfies_its_workup_test_from_the_kb_mapping(rid, result, patient):
    """Issue 9 §4: one KB mapping (workup.satisfied_by) -> satisfied, listed in workup.done."""
    pregs = losses("7+0", "14+0")  # a second-trimester loss offers thrombophilia testing
    before = run(case(pregnancies=pregs, **({"patient": patient} if patient else {})))
    assert before.status(rid) in ("recommended", "conditional")
    after = run(
        case(
            pregnancies=pregs,
            results=[{**result, "date": "2026-10-01"}],
            **({"patient": patient} if patient else {}),
        )
    )
    assert after.status(rid) is None
    assert rid in {d["id"] for d in after.workup_done}


def test_a_workup_test_without_a_satisfied_mapping_fails_at_load(tmp_path):
    import shutil

    from rplcare.knowledge import KnowledgeError, load_kb
    from rplcare.knowledge.loader import DATA_DIR

    d = tmp_path / "kb"
    shutil.copytree(DATA_DIR, d)
    f = d / "parameters.yaml"
    f.write_text(
        f.read_text(encoding="utf-8").replace(", test.prolactin: done.prolactin", ""),
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError, match=r"test\.prolactin: a test with no workup"):
        load_kb(d)


def test_never_redate_by_the_crl_of_an_embryo_without_a_heartbeat():
    """Issue 9 §5: a CRL without heartbeat does not date the pregnancy (LMP kept)."""
    scan = {
        "date": TODAY.isoformat(),
        "location": "intrauterine",
        "embryo": True,
        "crl_mm": 5,
        "heartbeat": False,
    }
    a = run(case(current_pregnancy=pregnant(60, scans=[scan])))
    assert a.pregnancy["dating"]["basis"] == "lmp"
    beating = run(case(current_pregnancy=pregnant(60, scans=[{**scan, "heartbeat": True}])))
    assert beating.pregnancy["dating"]["basis"] == "crl"  # 5 mm is ~6+1, 2+3 from the LMP
