"""Each rule by its id, with the clinical reasoning in the test name (spec recommendations.md)."""

from __future__ import annotations

import pytest

from casebuilder import COMPLETE_WORKUP, case, finding_ids, run, statuses

MISC = "miscarriage"


def losses(*gas: str, outcome: str = MISC) -> list[dict]:
    return [{"outcome": outcome, "ga": ga, "year": 2020 + i} for i, ga in enumerate(gas)]


# ---------------------------------------------------------------- classification (spec §1)
def test_classification_eshre_counts_biochemical_losses_asrm_does_not():
    data = case(
        pregnancies=[
            {"outcome": "biochemical", "year": 2024},
            {"outcome": MISC, "ga": "7+0", "year": 2025},
        ]
    )
    assert run(data).classification.rpl is True
    asrm = run(data, definition="asrm2012").classification
    assert (asrm.rpl, asrm.losses_counted) == (False, 1)


def test_classification_rcog_needs_three_first_trimester_miscarriages():
    assert (
        run(case(pregnancies=losses("6+0", "7+0")), definition="rcog2023").classification.rpl
        is False
    )
    assert run(
        case(pregnancies=losses("6+0", "7+0", "8+0")), definition="rcog2023"
    ).classification.rpl


def test_classification_asrm_counts_only_clinical_losses_before_20_weeks():
    c = run(case(pregnancies=losses("8+0", "21+0")), definition="asrm2012").classification
    assert (c.rpl, c.losses_counted) == (False, 1)


def test_classification_stillbirth_ectopic_molar_termination_are_not_rpl_losses():
    data = case(
        pregnancies=[
            {"outcome": "stillbirth", "ga": "30+0", "year": 2020},
            {"outcome": "ectopic", "year": 2021},
            {"outcome": "molar", "year": 2022},
            {"outcome": "termination", "year": 2023},
            {"outcome": MISC, "ga": "7+0", "year": 2024},
        ]
    )
    c = run(data).classification
    assert (c.rpl, c.losses_counted) == (False, 1)


def test_classification_second_trimester_from_12_plus_0_boundary():
    c = run(case(pregnancies=losses("11+6", "12+0"))).classification
    assert (c.first_trimester_losses, c.second_trimester_losses) == (1, 1)


def test_classification_secondary_after_live_birth_primary_otherwise():
    data = case(
        pregnancies=[{"outcome": "live_birth", "ga": "39+0", "year": 2018}, *losses("7+0", "8+0")]
    )
    assert run(data).classification.type == "secondary"
    assert run(case()).classification.type == "primary"


def test_care_tier_lancet_graded_model_one_two_three_and_second_trimester():
    assert run(case(pregnancies=losses("7+0"))).classification.care_tier == 1
    assert run(case(pregnancies=losses("7+0", "8+0"))).classification.care_tier == 2
    assert run(case(pregnancies=losses("7+0", "8+0", "6+0"))).classification.care_tier == 3
    assert run(case(pregnancies=losses("16+0"))).classification.care_tier == 3


# ---------------------------------------------------------------- investigations (spec §2)
def test_workup_tests_recommended_when_rpl_and_missing_never_assumed_normal():
    s = statuses(run(case()))
    for rid in (
        "test.antiphospholipid_antibodies",
        "test.thyroid_function",
        "test.uterine_anatomy",
        "test.full_blood_count",
    ):
        assert s[rid] == "recommended", rid
    assert s["test.anti_b2gpi"] == "conditional"
    assert "state.workup_incomplete" in finding_ids(run(case()))


def test_done_tests_are_satisfied_and_not_listed():
    s = statuses(run(case(results=COMPLETE_WORKUP)))
    for rid in (
        "test.antiphospholipid_antibodies",
        "test.thyroid_function",
        "test.uterine_anatomy",
    ):
        assert rid not in s


def test_unexplained_rpl_when_workup_complete_and_no_cause():
    a = run(case(results=COMPLETE_WORKUP))
    assert "cause.unexplained" in finding_ids(a)
    assert statuses(a)["treat.heparin_aspirin_unexplained"] == "not_recommended"


def test_antiphospholipid_test_after_a_single_second_trimester_loss():
    s = statuses(run(case(pregnancies=losses("17+0"))))
    assert s["test.antiphospholipid_antibodies"] == "recommended"


def test_antiphospholipid_repeat_when_positive_once_sydney_12_weeks():
    res = [
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-10-01"},
        {"test": "anticardiolipin_igg", "value": 3, "unit": "GPL", "date": "2026-10-01"},
    ]
    a = run(case(results=res))
    assert "state.antiphospholipid_positive_unconfirmed" in finding_ids(a)
    assert statuses(a)["test.antiphospholipid_repeat"] == "recommended"


def test_antiphospholipid_repeat_still_needed_when_second_test_under_12_weeks_later():
    res = [
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-08-01"},
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-10-23"},  # 83 days
        {"test": "anticardiolipin_igg", "value": 3, "unit": "GPL", "date": "2026-08-01"},
    ]
    assert statuses(run(case(results=res)))["test.antiphospholipid_repeat"] == "recommended"


def test_free_t4_when_tsh_outside_range_and_no_free_t4():
    a = run(case(results=[{"test": "tsh", "value": 5.0, "unit": "mIU/L", "date": "2026-10-01"}]))
    assert statuses(a)["test.free_t4"] == "recommended"


def test_free_t4_uses_the_labs_range_when_given():
    res = [
        {
            "test": "tsh",
            "value": 4.2,
            "unit": "mIU/L",
            "reference_low": 0.3,
            "reference_high": 4.5,
            "date": "2026-10-01",
        }
    ]
    a = run(case(results=res))
    assert "test.free_t4" not in statuses(a)
    assert "cause.subclinical_hypothyroidism" not in finding_ids(a)


def test_hba1c_when_diabetes_and_none_in_last_3_months():
    data = case(
        patient={"age_years": 30, "conditions": ["diabetes_type1"]},
        results=[{"test": "hba1c", "value": 50, "unit": "mmol/mol", "date": "2026-07-01"}],
    )
    assert statuses(run(data))["test.hba1c"] == "recommended"
    data["results"][0]["date"] = "2026-10-01"
    assert "test.hba1c" not in statuses(run(data))


def test_prolactin_conditional_with_oligomenorrhoea_only():
    assert "test.prolactin" not in statuses(run(case()))
    data = case(patient={"age_years": 30, "menstrual_cycle": "oligomenorrhoea"})
    assert statuses(run(data))["test.prolactin"] == "conditional"


def test_poc_genetics_after_two_miscarriages_rcog_grade_d():
    a = run(case())
    rec = a.rec("test.poc_genetics")
    assert rec.status == "recommended" and rec.sources[0]["strength"] == "Grade D"


def test_parental_karyotype_when_poc_shows_unbalanced_rearrangement():
    preg = losses("7+0", "8+0")
    preg[1]["poc_karyotype"] = "46,XX,der(11)t(11;22)(q23;q11.2)"
    assert statuses(run(case(pregnancies=preg)))["test.parental_karyotype"] == "recommended"


def test_parental_karyotype_gpp_at_tier_3_without_poc_result_not_at_tier_2():
    assert "test.parental_karyotype" not in statuses(run(case()))
    s = statuses(run(case(pregnancies=losses("7+0", "8+0", "6+0"))))
    assert s["test.parental_karyotype"] == "recommended"


def test_inherited_thrombophilia_conditional_after_second_trimester_loss_else_not_recommended():
    assert (
        statuses(run(case(pregnancies=losses("7+0", "15+0"))))["test.inherited_thrombophilia"]
        == "conditional"
    )
    assert statuses(run(case()))["test.inherited_thrombophilia"] == "not_recommended"


@pytest.mark.parametrize(
    "rid",
    [
        "test.hla_typing",
        "test.anti_hla_antibodies",
        "test.nk_cells",
        "test.cytokines",
        "test.luteal_phase_progesterone",
        "test.androgens",
        "test.ovarian_reserve",
        "test.homocysteine_mthfr",
        "test.protein_c_antithrombin",
        "test.infection_screen",
        "test.sperm_dna_fragmentation",
    ],
)
def test_not_recommended_tests_listed_for_every_rpl_case_never_as_options(rid):
    rec = run(case()).rec(rid)
    assert rec is not None and rec.status == "not_recommended" and not rec.prominent


@pytest.mark.parametrize(
    ("code", "rid"),
    [
        ("hla_typing", "test.hla_typing"),
        ("blocking_antibodies", "test.anti_hla_antibodies"),
        ("nk_cells", "test.nk_cells"),
    ],
)
def test_recorded_immune_test_is_prominent_not_recommended(code, rid):
    data = case(results=[{"test": code, "value": "shared HLA-DQ", "date": "2026-05-01"}])
    rec = run(data).rec(rid)
    assert rec.status == "not_recommended" and rec.prominent


def test_cervical_length_surveillance_in_pregnancy_after_midtrimester_loss():
    data = case(
        pregnancies=losses("7+0", "18+0"), current_pregnancy={"lmp": "2026-10-01", "symptoms": []}
    )
    assert statuses(run(data))["test.cervical_length_surveillance"] == "recommended"
    p = run(data).pregnancy["cervical_surveillance"]
    assert (p["start_ga"], p["end_ga"]) == ("16+0", "24+0")


# ---------------------------------------------------------------- findings (spec §3)
def test_aps_sydney_three_early_losses_provisional_when_causes_not_excluded():
    res = [
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-01-05"},
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-04-06"},
        {"test": "anticardiolipin_igg", "value": 5, "unit": "GPL", "date": "2026-01-05"},
    ]
    a = run(case(pregnancies=losses("6+0", "7+0", "8+0"), results=res))
    f = a.findings.get("cause.antiphospholipid_syndrome")
    assert f is not None and f.details["provisional"] is True and "provisional" in f.text


def test_aps_persistent_aps_without_clinical_criterion_is_noncriteria_state():
    res = [
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-01-05"},
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-04-06"},
        {"test": "anticardiolipin_igg", "value": 5, "unit": "GPL", "date": "2026-01-05"},
    ]
    a = run(case(results=res))  # two early losses: no Sydney clinical criterion
    f = finding_ids(a)
    assert "state.antiphospholipid_persistent_noncriteria" in f
    assert "cause.antiphospholipid_syndrome" not in f
    assert statuses(a)["treat.aspirin_heparin"] == "conditional"


def test_aps_acl_needs_over_40_units_or_over_99th_centile():
    base = [{"test": "lupus_anticoagulant", "value": "negative", "date": "2026-01-05"}]
    low = [
        *base,
        {"test": "anticardiolipin_igg", "value": 35, "unit": "GPL", "date": "2026-01-05"},
        {"test": "anticardiolipin_igg", "value": 35, "unit": "GPL", "date": "2026-05-05"},
    ]
    a = run(case(pregnancies=losses("6+0", "7+0", "8+0"), results=low))
    assert "cause.antiphospholipid_syndrome" not in finding_ids(a)  # models.md §7.3 last row
    above = [dict(r, reference_high=20) if r["test"] != "lupus_anticoagulant" else r for r in low]
    a = run(case(pregnancies=losses("6+0", "7+0", "8+0"), results=above))
    assert "cause.antiphospholipid_syndrome" in finding_ids(a)


def test_aps_thrombotic_subtype_refers_for_therapeutic_anticoagulation():
    res = [
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-01-05"},
        {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-04-06"},
        {"test": "anticardiolipin_igg", "value": 5, "unit": "GPL", "date": "2026-01-05"},
    ]
    data = case(patient={"age_years": 30, "conditions": ["venous_thromboembolism"]}, results=res)
    a = run(data)
    assert a.findings.get("cause.antiphospholipid_syndrome").details["subtype"] == "thrombotic"
    s = statuses(a)
    assert s["treat.therapeutic_anticoagulation"] == "recommended"
    assert "treat.aspirin_heparin" not in s


def test_aps_recorded_condition_counts():
    data = case(patient={"age_years": 30, "conditions": ["antiphospholipid_syndrome"]})
    assert statuses(run(data))["treat.aspirin_heparin"] == "recommended"


def test_tsh_over_10_levothyroxine_recommended_but_overt_needs_a_low_free_t4_ata2017():
    """ATA 2017 rec. 29: TSH > 10 -> LT4 recommended; issue 9 §5: "overt" needs a low free T4."""
    a = run(case(results=[{"test": "tsh", "value": 11, "unit": "mIU/L", "date": "2026-10-01"}]))
    assert "cause.overt_hypothyroidism" not in finding_ids(a)
    assert {"cause.subclinical_hypothyroidism", "state.tsh_above_overt_limit"} <= finding_ids(a)
    assert statuses(a)["treat.levothyroxine"] == "recommended"
    assert statuses(a)["test.free_t4"] == "recommended"


def test_overt_hypothyroidism_low_free_t4():
    res = [
        {"test": "tsh", "value": 6, "unit": "mIU/L", "date": "2026-10-01"},
        {
            "test": "free_t4",
            "value": 8,
            "unit": "pmol/L",
            "reference_low": 10,
            "reference_high": 22,
            "date": "2026-10-01",
        },
    ]
    assert "cause.overt_hypothyroidism" in finding_ids(run(case(results=res)))


def test_subclinical_hypothyroidism_tpo_negative_levothyroxine_conditional_ata_weak():
    res = [
        {"test": "tsh", "value": 6, "unit": "mIU/L", "date": "2026-10-01"},
        {"test": "tpo_antibodies", "value": "negative", "date": "2026-10-01"},
    ]
    rec = run(case(results=res)).rec("treat.levothyroxine")
    assert rec.status == "conditional"
    assert any(s.get("strength") == "weak, low quality" for s in rec.sources)


def test_euthyroid_tpo_positive_no_levothyroxine_tablet():
    res = [
        {"test": "tsh", "value": 2.0, "unit": "mIU/L", "date": "2026-10-01"},
        {"test": "tpo_antibodies", "value": "positive", "date": "2026-10-01"},
    ]
    a = run(case(results=res))
    assert "state.thyroid_autoimmunity" in finding_ids(a)
    rec = a.rec("treat.levothyroxine")
    assert rec.status == "not_recommended" and rec.sources[0]["id"] == "tablet2019"


def test_levothyroxine_dose_review_before_conception_when_tsh_at_least_2_5():
    data = case(
        patient={"age_years": 30, "medications": ["levothyroxine"]},
        results=[{"test": "tsh", "value": 3.0, "unit": "mIU/L", "date": "2026-10-01"}],
    )
    rec = run(data).rec("treat.levothyroxine")
    assert rec.status == "recommended" and "review the dose" in rec.text


def test_levothyroxine_pregnancy_adjustment_when_pregnant_and_on_it():
    data = case(
        patient={"age_years": 30, "medications": ["levothyroxine"]},
        current_pregnancy={"lmp": "2026-10-10"},
    )
    assert statuses(run(data))["treat.levothyroxine_pregnancy_adjustment"] == "recommended"


def test_diabetes_suboptimal_at_48_and_avoid_pregnancy_over_86():
    def at(v):
        return run(
            case(
                patient={"age_years": 30, "conditions": ["diabetes_type2"]},
                results=[{"test": "hba1c", "value": v, "unit": "mmol/mol", "date": "2026-11-01"}],
            )
        )

    assert "cause.diabetes_suboptimal" not in finding_ids(at(47))
    a = at(48)
    assert "cause.diabetes_suboptimal" in finding_ids(a)
    assert statuses(a)["treat.glycaemic_optimisation"] == "recommended"
    assert "state.diabetes_avoid_pregnancy" not in finding_ids(at(86))
    assert "state.diabetes_avoid_pregnancy" in finding_ids(at(87))


def test_folic_acid_5mg_with_diabetes_400ug_otherwise_none_after_12_weeks():
    # recommendations.md: recommended in every assessment except a pregnancy at >= 12+0
    assert run(case()).status("treat.folic_acid") == "recommended"
    assert "400 micrograms" in run(case()).rec("treat.folic_acid").text
    dm = run(case(patient={"age_years": 30, "conditions": ["diabetes_type1"]}))
    assert "5 mg" in dm.rec("treat.folic_acid").text
    late = run(case(current_pregnancy={"lmp": "2026-08-20"}))  # 13+4 on 2026-11-23
    assert "treat.folic_acid" not in statuses(late)


def test_hyperprolactinaemia_above_lab_range_bromocriptine_conditional():
    res = [
        {
            "test": "prolactin",
            "value": 40,
            "unit": "ng/mL",
            "reference_high": 25,
            "date": "2026-10-01",
        }
    ]
    a = run(case(results=res))
    assert statuses(a)["treat.bromocriptine"] == "conditional"


def test_septate_uterus_resection_conditional_trust():
    res = [
        {
            "test": "uterine_imaging",
            "method": "3d_ultrasound",
            "finding": "septate_uterus",
            "date": "2026-06-01",
        }
    ]
    rec = run(case(results=res)).rec("treat.septum_resection")
    assert rec.status == "conditional" and "31 %" in rec.text


@pytest.mark.parametrize(
    "finding", ["submucosal_fibroid", "endometrial_polyp", "intrauterine_adhesions"]
)
def test_hysteroscopic_surgery_conditional_for_cavity_lesions(finding):
    res = [
        {
            "test": "uterine_imaging",
            "method": "hysteroscopy",
            "finding": finding,
            "date": "2026-06-01",
        }
    ]
    assert statuses(run(case(results=res)))["treat.hysteroscopic_surgery"] == "conditional"


def test_parental_translocation_genetic_counselling_heteromorphism_is_normal_variant():
    res = [{"test": "karyotype_female", "value": "46,XX,t(11;22)(q23;q11.2)", "date": "2026-05-01"}]
    assert statuses(run(case(results=res)))["treat.genetic_counselling"] == "recommended"
    res = [{"test": "karyotype_male", "value": "46,XY,inv(9)(p12q13)", "date": "2026-05-01"}]
    a = run(case(results=res))
    assert "state.karyotype_normal_variant" in finding_ids(a)
    assert "cause.parental_structural_rearrangement" not in finding_ids(a)


def test_aneuploid_poc_explains_that_loss():
    preg = losses("7+0", "8+0")
    preg[0]["poc_karyotype"] = "47,XX,+16"
    assert "state.fetal_aneuploidy_explained_loss" in finding_ids(run(case(pregnancies=preg)))


@pytest.mark.parametrize(
    ("patient", "fid"),
    [
        ({"smoking": True}, "cause.lifestyle_smoking"),
        ({"bmi": 25.5}, "cause.lifestyle_bmi_high"),
        ({"bmi": 18.5}, "cause.lifestyle_bmi_low"),
        ({"alcohol_units_per_week": 11}, "cause.lifestyle_alcohol"),
        ({"caffeine_mg_per_day": 201}, "cause.lifestyle_caffeine"),
    ],
)
def test_lifestyle_findings_each_with_advice(patient, fid):
    a = run(case(patient={"age_years": 30, **patient}))
    assert fid in finding_ids(a)
    assert statuses(a)["advice.lifestyle"] == "recommended"


def test_lifestyle_thresholds_are_strict_bmi_25_alcohol_10_caffeine_200():
    a = run(
        case(
            patient={
                "age_years": 30,
                "bmi": 25,
                "alcohol_units_per_week": 10,
                "caffeine_mg_per_day": 200,
            }
        )
    )
    assert not any(f.startswith("cause.lifestyle") for f in finding_ids(a))


def test_missing_lifestyle_data_is_not_taken_as_normal_or_abnormal():
    a = run(case(patient={"age_years": 30}))
    assert not any(f.startswith("cause.lifestyle") for f in finding_ids(a))


# ---------------------------------------------------------------- treatments (spec §4)
def test_history_indicated_cerclage_after_three_second_trimester_losses_singleton():
    s = statuses(run(case(pregnancies=losses("14+0", "16+0", "18+0"))))
    assert s["treat.history_indicated_cerclage"] == "recommended"


def test_short_cervix_after_midtrimester_loss_cerclage_or_progesterone_nice_ng25():
    data = case(
        pregnancies=losses("7+0", "18+0"),
        current_pregnancy={
            "lmp": "2026-07-20",
            "fetuses": 1,
            "scans": [
                {
                    "date": "2026-11-20",
                    "location": "intrauterine",
                    "embryo": True,
                    "heartbeat": True,
                    "cervical_length_mm": 22,
                }
            ],
        },
    )
    assert (
        statuses(run(data))["treat.cerclage_or_vaginal_progesterone_short_cervix"] == "recommended"
    )


def _pregnant(symptoms, scans, pregnancies=None, **extra):
    return case(
        pregnancies=pregnancies or losses("7+0", "8+0"),
        current_pregnancy={"lmp": "2026-10-05", "symptoms": symptoms, "scans": scans, **extra},
    )


IUP = [
    {
        "date": "2026-11-20",
        "location": "intrauterine",
        "msd_mm": 14,
        "yolk_sac": True,
        "embryo": True,
        "crl_mm": 4,
        "heartbeat": True,
    }
]


def test_vaginal_progesterone_bleeding_needs_scan_confirmed_iup_nice_1_5_2():
    assert (
        statuses(run(_pregnant(["bleeding"], IUP)))["treat.vaginal_progesterone_bleeding"]
        == "recommended"
    )
    pul = run(_pregnant(["bleeding"], []))
    assert "treat.vaginal_progesterone_bleeding" not in statuses(pul)
    assert pul.pregnancy["luteal_support"]["indicated"] is False


def test_vaginal_progesterone_not_for_bleeding_without_previous_miscarriage():
    data = _pregnant(
        ["bleeding"], IUP, pregnancies=[{"outcome": "live_birth", "ga": "39+0", "year": 2020}]
    )
    assert "treat.vaginal_progesterone_bleeding" not in statuses(run(data))


def test_vaginal_progesterone_never_for_diagnosed_failure():
    failed = [
        {
            "date": "2026-11-20",
            "location": "intrauterine",
            "msd_mm": 20,
            "yolk_sac": True,
            "embryo": True,
            "crl_mm": 8,
            "heartbeat": False,
        }
    ]
    a = run(_pregnant(["bleeding"], failed))
    assert a.pregnancy["viability"]["status"] == "failure_diagnostic"
    assert "treat.vaginal_progesterone_bleeding" not in statuses(a)


def test_progesterone_without_bleeding_not_recommended_promise():
    a = run(_pregnant([], IUP))
    rec = a.rec("treat.progesterone_without_bleeding")
    assert rec.status == "not_recommended" and rec.sources[0]["id"] == "promise2015"
    assert a.pregnancy["luteal_support"]["indicated"] is False


def test_article_policy_changes_only_the_luteal_block_not_statuses():
    g = run(_pregnant([], IUP))
    a = run(_pregnant([], IUP), luteal_policy="article")
    assert statuses(g) == statuses(a)
    lut = a.pregnancy["luteal_support"]
    assert lut["indicated"] is True and lut["label"] == "expert opinion without guideline support"
    assert lut["stop_ga"] == "12+0"  # last loss 8+0 + 2 weeks = 10+0, clamped to at least 12+0


def test_dydrogesterone_recorded_for_rpl_not_recommended_as_progestogen_of_choice():
    rec = run(_pregnant(["bleeding"], IUP, treatments=["oral_dydrogesterone"])).rec(
        "treat.dydrogesterone"
    )
    assert rec.status == "not_recommended" and rec.prominent


def test_luteal_support_art_conditional_after_natural_cycle_fet():
    data = case(
        current_pregnancy={
            "conception": "frozen_transfer",
            "transfer_date": "2026-11-05",
            "embryo_age_days": 5,
            "endometrial_preparation": "natural",
        }
    )
    assert statuses(run(data))["treat.luteal_phase_support_art"] == "conditional"


def test_luteal_support_art_says_when_preparation_unknown():
    data = case(
        current_pregnancy={
            "conception": "frozen_transfer",
            "transfer_date": "2026-11-05",
            "embryo_age_days": 5,
        }
    )
    rec = run(data).rec("treat.luteal_phase_support_art")
    assert rec.status == "conditional" and "confirm the preparation" in rec.text


@pytest.mark.parametrize(
    ("med", "rid"),
    [
        ("lymphocyte_immunotherapy", "treat.lymphocyte_immunotherapy"),
        ("ivig", "treat.ivig"),
        ("intralipid", "treat.intralipid"),
        ("g_csf", "treat.g_csf"),
        ("hcg_injections", "treat.hcg_supplementation"),
    ],
)
def test_recorded_immune_or_unproven_treatment_is_critical_not_recommended(med, rid):
    rec = run(case(patient={"age_years": 30, "medications": [med]})).rec(rid)
    assert rec.status == "not_recommended" and rec.prominent


def test_lymphocyte_immunotherapy_cites_cochrane_peto_or():
    rec = run(case()).rec("treat.lymphocyte_immunotherapy")
    assert "1.23" in rec.text and rec.sources[0]["id"] == "cochrane-lit2014"


def test_no_bed_rest_for_rpl_and_every_current_pregnancy_bleeding_included():
    assert statuses(run(case()))["advice.no_bed_rest"] == "recommended"
    a = run(_pregnant(["bleeding"], IUP))
    assert statuses(a)["advice.no_bed_rest"] == "recommended"
    assert "bleeding included" in a.rec("advice.no_bed_rest").text


def test_supportive_care_for_rpl_and_mental_health_after_any_loss():
    one = run(case(pregnancies=losses("7+0")))
    assert statuses(one)["advice.mental_health"] == "recommended"
    assert "advice.supportive_care" not in statuses(one)
    assert statuses(run(case()))["advice.supportive_care"] == "recommended"


def test_heparin_aspirin_in_inherited_thrombophilia_recorded_is_prominent_alife2():
    data = case(
        patient={
            "age_years": 30,
            "conditions": ["thrombophilia_inherited"],
            "medications": ["lmwh"],
        }
    )
    rec = run(data).rec("treat.heparin_aspirin_unexplained")
    assert rec.status == "not_recommended" and rec.prominent


def test_unverified_source_is_named_in_the_clinician_text():
    rec = run(case()).rec("test.antiphospholipid_antibodies")
    assert "(source wording not verified: eshre2022)" in rec.text
    assert rec.verified is False


def test_because_names_findings_that_exist_in_the_output():
    a = run(case())
    ids = finding_ids(a)
    for r in a.recommendations:
        assert set(r.because) <= ids, r.id


def test_gestational_carrier_karyotype_of_genetic_parents_counts():
    data = case(gestational_carrier=True, partner={"karyotype": "46,XY,t(1;3)(p31;q27)"})
    assert statuses(run(data))["treat.genetic_counselling"] == "recommended"


def test_recorded_bed_rest_is_advised_against_prominently_never_an_option():
    rec = run(case(patient={"age_years": 30, "medications": ["bed_rest"]})).rec(
        "advice.no_bed_rest"
    )
    assert rec.status == "recommended" and rec.prominent and "advise against it" in rec.text


def test_cervical_surveillance_after_a_13_week_loss_rcog_gtg75_no_16_week_floor():
    data = case(pregnancies=losses("7+0", "13+2"), current_pregnancy={"lmp": "2026-10-01"})
    a = run(data)
    assert statuses(a)["test.cervical_length_surveillance"] == "recommended"
    # NICE NG25's short-cervix treatment needs a loss at 16+0-34+0: not met by a 13-week loss
    assert "history.spontaneous_preterm_or_midtrimester_loss" not in finding_ids(a)


def test_vaginal_progesterone_bleeding_not_started_from_16_weeks_nice_1_5_3():
    scan = [
        {
            "date": "2026-11-20",
            "location": "intrauterine",
            "embryo": True,
            "crl_mm": 60,
            "heartbeat": True,
        }
    ]
    early = case(
        pregnancies=losses("7+0", "8+0"),
        current_pregnancy={"lmp": "2026-08-25", "symptoms": ["bleeding"], "scans": scan},
    )  # 12+6 on 2026-11-23
    assert statuses(run(early))["treat.vaginal_progesterone_bleeding"] == "recommended"
    late_scan = [
        {"date": "2026-11-20", "location": "intrauterine", "embryo": True, "heartbeat": True}
    ]
    late = case(
        pregnancies=losses("7+0", "8+0"),
        current_pregnancy={"lmp": "2026-08-01", "symptoms": ["bleeding"], "scans": late_scan},
    )  # 16+2 by LMP
    a = run(late)
    assert "current.ga_16w_plus" in finding_ids(a)
    assert "treat.vaginal_progesterone_bleeding" not in statuses(a)


def test_because_ids_resolve_in_the_json_even_for_context_findings():
    d = run(case(pregnancies=losses("7+0", "8+0", "6+0"))).to_dict()
    rec = next(r for r in d["recommendations"] if r["id"] == "test.parental_karyotype")
    assert "gap.poc_karyotype" in rec["because"]
    listed = {f["id"]: f for f in d["findings"]}
    assert listed["gap.poc_karyotype"]["reported"] is False
    for r in d["recommendations"]:
        assert set(r["because"]) <= set(listed), r["id"]


def test_preterm_birth_without_a_recorded_cause_is_counted_but_says_the_cause_was_assumed():
    data = case(
        pregnancies=[{"outcome": "live_birth", "ga": "30+0", "year": 2022}, *losses("7+0", "8+0")],
        current_pregnancy={"lmp": "2026-10-01"},
    )
    a = run(data)
    assert statuses(a)["test.cervical_length_surveillance"] == "recommended"
    f = a.findings.get("history.second_trimester_loss_or_spontaneous_preterm")
    assert "not recorded (pregnancies[0])" in f.text and "taken as spontaneous" in f.text
    data["pregnancies"][0]["preterm_cause"] = "spontaneous"
    f = run(data).findings.get("history.second_trimester_loss_or_spontaneous_preterm")
    assert "taken as spontaneous" not in f.text
