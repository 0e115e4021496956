"""Tests and treatments guidelines advise against, or allow only to explain a loss.

Expected statuses are read by hand from the rules in recommendations.yaml (ESHRE 2022/2017,
RCOG 2023, EULAR 2019, the trials cited there): a test or treatment the case records is shown
as not recommended and prominent; after RPL it is listed as not recommended even when not
recorded; antinuclear antibodies may be considered for explanation only (conditional).
"""

from __future__ import annotations

import pytest

from casebuilder import case, run

ONE_LOSS = [{"outcome": "miscarriage", "ga": "7+0", "year": 2025}]  # not RPL under ESHRE 2022


def _result(code: str) -> dict:
    return {"test": code, "value": "done elsewhere", "date": "2026-05-01"}


@pytest.mark.parametrize(
    ("code", "rid"),
    [
        ("blocking_antibodies", "test.anti_hla_antibodies"),
        ("homocysteine", "test.homocysteine_mthfr"),
        ("mthfr", "test.homocysteine_mthfr"),
        ("protein_c", "test.protein_c_antithrombin"),
        ("antithrombin", "test.protein_c_antithrombin"),
        ("sperm_dna_fragmentation", "test.sperm_dna_fragmentation"),
        ("ovarian_reserve_amh", "test.ovarian_reserve"),
        ("endometrial_biopsy", "test.infection_screen"),
    ],
)
def test_a_recorded_not_routine_test_is_prominent_not_recommended_without_rpl(code, rid):
    rec = run(case(pregnancies=ONE_LOSS, results=[_result(code)])).rec(rid)
    assert rec is not None and rec.status == "not_recommended" and rec.prominent


@pytest.mark.parametrize(
    "rid",
    [
        "test.anti_hla_antibodies",
        "test.homocysteine_mthfr",
        "test.protein_c_antithrombin",
        "test.sperm_dna_fragmentation",
        "test.ovarian_reserve",
        "test.infection_screen",
        "test.androgens",
        "test.cytokines",
        "test.luteal_phase_progesterone",
        "treat.glucocorticoids",
        "treat.intralipid",
        "treat.g_csf",
        "treat.hcg_supplementation",
    ],
)
def test_after_rpl_listed_as_not_recommended_not_prominent_and_absent_without_rpl(rid):
    rpl = run(case()).rec(rid)
    assert rpl is not None and rpl.status == "not_recommended" and not rpl.prominent
    assert run(case(pregnancies=ONE_LOSS)).rec(rid) is None


@pytest.mark.parametrize(
    ("treatment", "rid"),
    [
        ("prednisolone", "treat.glucocorticoids"),
        ("intralipid", "treat.intralipid"),
        ("g_csf", "treat.g_csf"),
        ("hcg_injections", "treat.hcg_supplementation"),
    ],
)
def test_a_recorded_not_recommended_treatment_is_prominent(treatment, rid):
    data = case(pregnancies=ONE_LOSS)
    data["patient"] = {**data["patient"], "medications": [treatment]}
    rec = run(data).rec(rid)
    assert rec is not None and rec.status == "not_recommended" and rec.prominent


def test_glucocorticoids_with_antiphospholipid_syndrome_are_not_flagged_as_a_recorded_error():
    """EULAR 2019: low-dose prednisolone is an option in refractory obstetric APS, so a recorded
    prednisolone is not flagged when APS is recorded; after RPL the general advice remains."""
    with_aps = {"age_years": 32, "conditions": ["antiphospholipid_syndrome"]}
    data = case(pregnancies=ONE_LOSS)
    data["patient"] = {**with_aps, "medications": ["prednisolone"]}
    assert run(data).rec("treat.glucocorticoids") is None
    data = case()
    data["patient"] = {**with_aps, "medications": ["prednisolone"]}
    rec = run(data).rec("treat.glucocorticoids")
    assert rec is not None and rec.status == "not_recommended" and not rec.prominent


def test_antinuclear_antibodies_only_to_explain_a_loss():
    rpl = run(case()).rec("test.antinuclear_antibodies")
    assert rpl is not None and rpl.status == "conditional" and not rpl.prominent
    assert "explanatory" in rpl.text
    # a recorded ANA result satisfies the test (issue 9 §4: one workup.satisfied_by mapping)
    recorded = run(case(pregnancies=ONE_LOSS, results=[_result("antinuclear_antibodies")]))
    assert recorded.rec("test.antinuclear_antibodies") is None
    assert "test.antinuclear_antibodies" in {d["id"] for d in recorded.workup_done}
    assert run(case(pregnancies=ONE_LOSS)).rec("test.antinuclear_antibodies") is None
