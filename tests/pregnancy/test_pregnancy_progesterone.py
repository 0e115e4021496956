"""Progesterone interpretation: never an artefact; supplements make it unusable for triage."""

import itertools
import re

import pytest

from rplcare.knowledge import get_kb
from rplcare.pregnancy.progesterone import interpret

KB = get_kb()

FORBIDDEN = re.compile(r"artefact|artifact|error", re.IGNORECASE)


def test_low_progesterone_is_never_called_an_artefact_or_error():
    names = [[], ["oral_dydrogesterone"], ["vaginal_progesterone"], ["dextrogestrel"]]
    for value, on, drugs, iu, fet, hcg in itertools.product(
        [None, 0.5, 2.0, 3.0, 9.0, 30.0, 90.0],
        [False, True],
        names,
        [False, True],
        [False, True],
        [None, 20, 300],
    ):
        b = interpret(value, on, drugs, iu, fet, initial_hcg_iu_l=hcg, kb=KB)
        text = b.interpretation + " ".join(b.warnings)
        assert not FORBIDDEN.search(text), text


def test_dydrogesterone_is_not_measured_by_the_assay():
    b = interpret(5.0, True, ["oral_dydrogesterone"], True, False, kb=KB)
    assert b.on_progestogen and "not measured" in b.interpretation
    assert "raises the measured level" not in b.interpretation


def test_dydrogesterone_alias_counts_as_a_progestogen():
    assert interpret(5.0, False, ["dextroprogesterone"], True, False, kb=KB).on_progestogen


def test_vaginal_progesterone_raises_the_measured_level():
    b = interpret(60.0, True, ["vaginal_progesterone"], True, False, kb=KB)
    assert "raises the measured level" in b.interpretation and not b.dose_review_suggested


def test_ranisavljevic2022_artificial_fet_on_supplement_suggests_dose_review_not_reassurance():
    b = interpret(28.9, True, ["vaginal_progesterone"], False, True, kb=KB)
    assert b.dose_review_suggested and "ranisavljevic2022" in b.sources
    assert "dose" in b.interpretation and "reassurance" in b.interpretation


def test_artificial_fet_without_recorded_progestogen_warns():
    b = interpret(None, False, [], False, True, kb=KB)
    assert b.warnings and b.latest_nmol_l is None


def test_verhaegen2012_context_for_pul_low_value():
    b = interpret(1.5, False, [], False, False, kb=KB)
    assert "Verhaegen" in b.interpretation and "ectopic" in b.interpretation


def test_intrauterine_without_supplement_is_not_used_for_viability():
    b = interpret(15.0, False, [], True, False, kb=KB)
    assert b.m6_step1 is None and "ultrasound" in b.interpretation


@pytest.mark.parametrize("value", [None, 63.6])
def test_assessment_format_progesterone_json_shape(value):
    out = interpret(value, True, ["vaginal_progesterone"], True, False, kb=KB).model_dump(
        mode="json"
    )
    assert {"latest_nmol_l", "on_progestogen", "interpretation"} <= out.keys()
    assert out["latest_nmol_l"] == value and out["on_progestogen"] is True


def test_supplement_without_named_preparation_says_both_possibilities():
    b = interpret(20.0, True, [], False, False, kb=KB)
    assert "not recorded" in b.interpretation and not b.usable_for_pul_triage
