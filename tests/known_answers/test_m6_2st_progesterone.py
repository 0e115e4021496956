"""M6 two-step triage vectors (models.md §2.4) and progesterone conversions (§3)."""

import pytest

from rplcare.knowledge import get_kb
from rplcare.pregnancy.progesterone import interpret, ng_ml_to_nmol_l, nmol_l_to_ng_ml

KB = get_kb()


@pytest.mark.parametrize(("p", "step"), [(1.8, "failed"), (2.0, "failed"), (2.1, "step2")])
def test_m6_2st_step1_progesterone_at_most_2_nmol_is_failed_pul(p, step):
    b = interpret(p, False, [], False, False, initial_hcg_iu_l=300, kb=KB)
    assert b.m6_step1 == step and b.usable_for_pul_triage
    if step == "failed":
        assert "very likely" in b.interpretation and "failing" in b.interpretation


def test_m6_2st_hcg_20_is_outside_the_model_population():
    b = interpret(1.8, False, [], False, False, initial_hcg_iu_l=20, kb=KB)
    assert b.m6_step1 == "not_applicable" and not b.usable_for_pul_triage
    assert "> 25" in b.interpretation


def test_m6_2st_progesterone_ignored_on_supplementation():
    b = interpret(1.8, True, ["vaginal_progesterone"], False, False, initial_hcg_iu_l=300, kb=KB)
    assert b.m6_step1 == "not_applicable" and not b.usable_for_pul_triage
    assert "not usable" in b.interpretation


@pytest.mark.parametrize(("ng", "nmol"), [(3.2, 10.2), (6, 19.1), (10, 31.8), (20, 63.6)])
def test_unit_progesterone_ng_ml_to_nmol_l(ng, nmol):
    assert round(ng_ml_to_nmol_l(ng, kb=KB), 1) == nmol


@pytest.mark.parametrize(("nmol", "ng"), [(2, 0.63), (35, 11.01)])
def test_unit_progesterone_nmol_l_to_ng_ml(nmol, ng):
    assert round(nmol_l_to_ng_ml(nmol, kb=KB), 2) == ng
