"""The case form mapping (issue 11 §1): form fields <-> the case mapping, and the case
model's path errors back to the form field that holds the value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rplcare.store.repository import canonical_case
from rplcare.web import forms

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TODAY = date(2026, 12, 31)


def _form(state: forms.FormState) -> tuple[dict[str, str], dict[str, list[str]]]:
    return dict(state.values), dict(state.lists)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_round_trips_through_the_form(path):
    """Rule: a stored case shown in the form and saved unchanged is the same case (no field
    lost, results kept in their order although hCG/progesterone show as series)."""
    stored = canonical_case(path.read_text(encoding="utf-8"), today=TODAY)
    parsed = forms.parse(*_form(forms.from_case(stored)))
    assert canonical_case(parsed.data, today=TODAY) == stored


def test_blank_form_is_refused_with_the_required_fields():
    """Rule: required fields are required; a blank form does not make an empty case."""
    parsed = forms.parse({"csrf_token": "x"}, {})
    problems = forms.check(parsed, today=TODAY)
    paths = [p for p, _ in problems]
    assert paths == ["patient.age_years", "pregnancies"]
    errors = forms.errors_by_field(problems, parsed.rows)
    assert set(errors) == {"age_years", "p_section"}


def test_rows_skip_blanks_and_errors_land_on_the_typed_row():
    """Rule: an error names the field where it was typed (row p5 became pregnancies[0])."""
    form = {
        "age_years": "34",
        "p0_outcome": "",
        "p5_outcome": "miscarriage",
        "p5_ga": "30+0",
        "p5_year": "2024",
        "h3_value": "1200",
        "h3_unit": "mg",
        "h3_date": "2026-11-10",
        "s7_date": "2026-11-12",
        "s7_embryo": "no",
        "s7_heartbeat": "yes",
    }
    parsed = forms.parse(form, {})
    assert parsed.rows["pregnancies[0]"] == "p5"
    assert parsed.data["results"] == [
        {"test": "hcg", "value": 1200.0, "unit": "mg", "date": "2026-11-10"}
    ]
    errors = forms.errors_by_field(forms.check(parsed, today=TODAY), parsed.rows)
    # 30+0 is not a miscarriage (the loss limit of the knowledge base); mg is not an hCG unit
    assert "p5_ga" in errors and "h3_unit" in errors
    assert "s7_heartbeat" in errors  # heartbeat with no embryo


def test_removed_rows_are_not_saved():
    """Rule: a row removed (the no-JS checkbox) is left out of the case."""
    form = {"age_years": "30", "p0_outcome": "miscarriage", "p0_ga": "7+0", "p0_remove": "1"}
    parsed = forms.parse(form, {})
    assert "pregnancies" not in parsed.data


def test_result_values_numbers_words_and_karyotypes():
    """Rule: a number is a number, a qualitative answer stays a word, a karyotype is text."""
    form = {
        "r0_test": "lupus_anticoagulant",
        "r0_value": "positive",
        "r0_date": "2026-01-05",
        "r1_test": "tsh",
        "r1_value": "2.5",
        "r1_unit": "mIU/L",
        "r1_date": "2026-01-05",
        "r2_test": "karyotype_female",
        "r2_value": "46,XX",
        "r2_date": "2026-01-05",
    }
    results = forms.parse(form, {}).data["results"]
    assert [r["value"] for r in results] == ["positive", 2.5, "46,XX"]


def test_art_and_whole_record_errors_map_to_current_pregnancy_fields():
    """Rule: ART needs embryo day with the transfer date; a transfer field under a natural
    conception contradicts it (record checks) — both shown at their inputs."""
    form = {
        "age_years": "35",
        "cp_conception": "natural",
        "cp_transfer_date": "2026-10-20",
    }
    parsed = forms.parse(form, {})
    errors = forms.errors_by_field(forms.check(parsed, today=TODAY), parsed.rows)
    assert "cp_embryo_age_days" in errors


def test_picker_lists_the_units_and_answers_of_each_test():
    """Rule: the picker offers exactly the units of the vocabulary (vocabulary.yaml):
    progesterone nmol/L or ng/mL; lupus anticoagulant is qualitative only."""
    prog = forms.picker_test("progesterone")
    assert prog is not None and prog.units == ("nmol/L", "ng/mL") and prog.answers == ()
    la = forms.picker_test("lupus_anticoagulant")
    assert la is not None and la.units == () and "positive" in la.answers
    assert "prolactin" in {c.code for c in forms.picker()}
    assert "mIU/L" in (forms.picker_test("prolactin") or prog).units  # the lab-range units


def test_medication_rows_and_their_errors():
    """Rule: an unknown medication is refused at its row."""
    form = {"age_years": "30", "p0_outcome": "miscarriage", "p0_ga": "7+0"}
    form |= {"pm2_name": "low_dose_aspirin", "pm4_name": "snake oil"}
    parsed = forms.parse(form, {})
    errors = forms.errors_by_field(forms.check(parsed, today=TODAY), parsed.rows)
    assert list(errors) == ["pm4_name"]


def test_re_rendering_adds_one_blank_row_only():
    """Rule: a form shown again after an error keeps one empty row per section, not more."""
    state = forms.parse({"p0_outcome": "miscarriage", "p1_outcome": ""}, {}).state
    assert state.with_blank_rows().rows["p"] == [0, 1]
    assert state.with_blank_rows().rows["r"] == [0]


def test_milestones_recorded_by_the_outcome_form_survive_an_edit():
    """Rule: the hidden milestone rows (ongoing past 12 weeks) come back as stored."""
    stored = canonical_case(
        {
            "patient": {"age_years": 34},
            "pregnancies": [{"outcome": "miscarriage", "ga": "8+0"}],
            "current_pregnancy": {
                "lmp": "2026-10-01",
                "milestones": [{"weeks": 12, "date": "2026-11-20"}],
            },
        },
        today=TODAY,
    )
    parsed = forms.parse(*_form(forms.from_case(stored)))
    assert canonical_case(parsed.data, today=TODAY) == stored


def test_fields_the_form_does_not_show_survive_an_edit():
    """Rule: a past pregnancy's LMP and furthest milestone (carried by the outcome form) and a
    result's comparator (a bound such as "<2" IU/L) come back as stored, in every row kind
    that holds them."""
    stored = canonical_case(
        {
            "patient": {"age_years": 34},
            "pregnancies": [
                {"outcome": "live_birth", "ga": "39+0", "date": "2025-10-01", "lmp": "2025-01-01"},
                {"outcome": "termination", "date": "2026-03-01", "reached_weeks": 12},
            ],
            "results": [
                {
                    "test": "hcg",
                    "value": 2,
                    "unit": "IU/L",
                    "comparator": "<",
                    "date": "2026-11-01",
                },
                {
                    "test": "tsh",
                    "value": 0.1,
                    "unit": "mIU/L",
                    "comparator": "<",
                    "date": "2026-11-01",
                },
            ],
        },
        today=TODAY,
    )
    parsed = forms.parse(*_form(forms.from_case(stored)))
    assert canonical_case(parsed.data, today=TODAY) == stored
