"""Case input: vocabulary, units with cited factors, and path-based errors (all at once)."""

from __future__ import annotations

import pytest

from casebuilder import TODAY, case
from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.case.model import Case


def errors_of(data) -> list[str]:
    with pytest.raises(CaseError) as exc:
        load_case(data, today=TODAY)
    return exc.value.lines()


def one_result(**r):
    return case(results=[{"date": "2026-11-01", **r}])


def test_every_shipped_example_reads_without_error(examples_dir):
    for path in sorted(examples_dir.glob("*.yaml")):
        c = load_case(path, today=TODAY)
        assert isinstance(c, Case), path


def test_progesterone_ng_ml_converts_with_factor_3_18_models_md_s3():
    c = load_case(one_result(test="progesterone", value=20, unit="ng/mL"), today=TODAY)
    assert c.results[0].si == pytest.approx(63.6)  # models.md §3: 20 ng/mL = 63.6 nmol/L


def test_hcg_miu_ml_equals_iu_l():
    c = load_case(one_result(test="hcg", value=1530, unit="mIU/mL"), today=TODAY)
    assert c.results[0].si == 1530


@pytest.mark.parametrize(
    ("percent", "mmol_mol"),
    # NICE NG3 pairs (../shared/clinical/guidelines.md §3.4): 6.5 % = 48, 10 % = 86; the others
    # by the IFCC-NGSP master equation (NGSP - 2.15) x 10.929, to the whole mmol/mol
    [(6.5, 48), (10.0, 86), (7.0, 53), (5.0, 31)],
)
def test_hba1c_percent_by_ifcc_ngsp_master_equation_with_nice_rounding(percent, mmol_mol):
    c = load_case(one_result(test="hba1c", value=percent, unit="%"), today=TODAY)
    assert c.results[0].si == mmol_mol


def test_hba1c_6_5_percent_meets_the_48_target_nice_ng3():
    from casebuilder import run

    a = run(
        case(
            patient={"age_years": 30, "conditions": ["diabetes_type1"]},
            results=[{"test": "hba1c", "value": 6.5, "unit": "%", "date": "2026-11-01"}],
        )
    )
    assert "cause.diabetes_suboptimal" in a.findings.ids


def test_glucose_mg_dl_divided_by_18_016():
    c = load_case(one_result(test="fasting_glucose", value=90, unit="mg/dL"), today=TODAY)
    assert c.results[0].si == pytest.approx(90 / 18.016, rel=1e-6)


def test_tsh_uiu_ml_equals_miu_l():
    c = load_case(one_result(test="tsh", value=3.1, unit="uIU/mL"), today=TODAY)
    assert c.results[0].si == 3.1


def test_free_t4_ng_dl_converted_by_the_molar_mass_factor_12_87():
    """1 ng/dL = 12.87 pmol/L (T4 776.87 g/mol; unit-free-t4)."""
    c = load_case(
        one_result(test="free_t4", value=1.1, unit="ng/dL", reference_low=0.8, reference_high=1.8),
        today=TODAY,
    )
    r = c.results[0]
    assert r.si == pytest.approx(1.1 * 12.87)
    assert r.ref_high_si == pytest.approx(1.8 * 12.87)


def test_prolactin_miu_l_read_against_the_lab_range_in_the_same_unit():
    (line,) = errors_of(one_result(test="prolactin", value=400, unit="mIU/L"))
    assert line.startswith("results[0].reference_high:") and "same unit" in line
    c = load_case(
        one_result(test="prolactin", value=900, unit="mIU/L", reference_high=500), today=TODAY
    )
    assert c.results[0].above_reference_high is True and c.results[0].si is None
    from casebuilder import run

    a = run(
        case(
            results=[
                {
                    "test": "prolactin",
                    "value": 900,
                    "unit": "mIU/L",
                    "reference_high": 500,
                    "date": "2026-10-01",
                }
            ]
        )
    )
    f = a.findings.get("cause.hyperprolactinaemia")
    assert f is not None and "900 mIU/L" in f.text and "500 mIU/L" in f.text
    same_in_ug = run(
        case(
            results=[
                {
                    "test": "prolactin",
                    "value": 20,
                    "unit": "ug/L",
                    "reference_high": 25,
                    "date": "2026-10-01",
                }
            ]
        )
    )
    assert "cause.hyperprolactinaemia" not in same_in_ug.findings.ids


def test_progesterone_without_a_unit_is_an_error_never_a_guess():
    (line,) = errors_of(one_result(test="progesterone", value=25))
    assert line.startswith("results[0].unit: missing") and "nmol/L" in line and "ng/mL" in line


@pytest.mark.parametrize(
    ("test", "word", "means"),
    [
        ("lupus_anticoagulant", "Detected", "positive"),
        ("lupus_anticoagulant", "not detected", "negative"),
        ("lupus_anticoagulant", "LA6576-8", "positive"),
        ("lupus_anticoagulant", "LA6577-6", "negative"),
        ("lupus_anticoagulant", "indeterminate", "equivocal"),
        ("tpo_antibodies", "reactive", "positive"),
        ("factor_v_leiden", "heterozygous", "positive"),
        ("prothrombin_mutation", "homozygous", "positive"),
        ("factor_v_leiden", "not detected", "negative"),
    ],
)
def test_qualitative_results_as_labs_report_them(test, word, means):
    c = load_case(one_result(test=test, value=word), today=TODAY)
    assert c.results[0].qualitative == means


def test_unknown_qualitative_word_is_an_error_with_the_allowed_list():
    (line,) = errors_of(one_result(test="lupus_anticoagulant", value="weakly pos"))
    assert line.startswith("results[0].value: 'weakly pos' is not a result of lupus_anticoagulant")
    for word in ("positive", "not detected", "equivocal", "indeterminate", "la6576-8"):
        assert word in line
    (line2,) = errors_of(one_result(test="factor_v_leiden", value="reactive"))
    assert "heterozygous" in line2 and "homozygous" in line2


def test_heterozygous_factor_v_leiden_is_inherited_thrombophilia():
    from casebuilder import run

    a = run(
        case(results=[{"test": "factor_v_leiden", "value": "heterozygous", "date": "2026-10-01"}])
    )
    assert "state.inherited_thrombophilia" in a.findings.ids


def test_loinc_code_accepted_instead_of_vocabulary_code():
    c = load_case(one_result(loinc="3016-3", value=2.0, unit="mIU/L"), today=TODAY)
    assert c.results[0].code == "tsh"


def test_gestational_age_as_w_plus_d_or_decimal_weeks():
    c = load_case(
        case(
            pregnancies=[
                {"outcome": "miscarriage", "ga": "8+3", "year": 2024},
                {"outcome": "miscarriage", "ga": 8.5, "year": 2025},
            ]
        ),
        today=TODAY,
    )
    assert [p.ga for p in c.pregnancies] == [59, 60]  # 8.5 weeks = 59.5 days, rounded half-even


def test_spec_error_example_unit_of_progesterone():
    (line,) = errors_of(one_result(test="progesterone", value=5, unit="mg"))
    assert line == "results[0].unit: 'mg' is not a unit of progesterone (nmol/L, ng/mL)"


def test_all_problems_reported_at_once_with_paths():
    data = case(
        format="rplcare.case/2",
        patient={"age_years": 33, "bmi": 95, "medications": ["diazepam"], "colour": "red"},
        results=[
            {"test": "progesterone", "value": 5, "unit": "mg", "date": "2026-11-10"},
            {"test": "hcg", "value": -5, "unit": "IU/L", "date": "2026-12-10"},
            {"test": "no_such_test", "value": 1, "date": "2026-01-01"},
        ],
        current_pregnancy={
            "embryo_age_days": 4,
            "transfer_date": "2026-11-01",
            "treatments": ["deferiprone"],
        },
    )
    lines = errors_of(data)
    paths = [line.split(":")[0] for line in lines]
    for expected in (
        "format",
        "patient.bmi",
        "patient.medications[0]",
        "patient.colour",
        "results[0].unit",
        "results[1].date",
        "results[1].value",
        "results[2].test",
        "current_pregnancy.embryo_age_days",
        "current_pregnancy.treatments[0]",
    ):
        assert expected in paths, (expected, lines)


@pytest.mark.parametrize("drug", ["diazepam", "deferiprone"])
def test_diazepam_and_deferiprone_are_never_read_as_a_progestogen(drug):
    (line,) = errors_of(case(current_pregnancy={"treatments": [drug]}))
    assert line.startswith("current_pregnancy.treatments[0]:")
    assert "not a progestogen" in line and "dydrogesterone" in line


@pytest.mark.parametrize("alias", ["dextroprogesterone", "dextrogestrel"])
def test_mistranslated_names_read_as_dydrogesterone_with_a_warning(alias):
    warnings: list[str] = []
    c = load_case(case(current_pregnancy={"treatments": [alias]}), today=TODAY, warnings=warnings)
    assert c.current_pregnancy.treatments == ["oral_dydrogesterone"]
    assert any(alias in w and "dydrogesterone" in w for w in warnings)
    assert c.warnings == warnings


def test_unknown_key_is_an_error_naming_the_allowed_fields():
    (line,) = errors_of(case(patient={"age_years": 30, "bmii": 22}))
    assert line.startswith("patient.bmii: unknown field") and "bmi" in line


@pytest.mark.parametrize("ga", ["44+1", 45, "50+0"])
def test_gestational_age_over_44_weeks_rejected(ga):
    (line,) = errors_of(case(pregnancies=[{"outcome": "live_birth", "ga": ga, "year": 2020}]))
    assert line.startswith("pregnancies[0].ga:")


@pytest.mark.parametrize("bmi", [9.9, 80.1])
def test_bmi_outside_10_to_80_rejected(bmi):
    (line,) = errors_of(case(patient={"age_years": 30, "bmi": bmi}))
    assert line.startswith("patient.bmi:")


def test_result_dated_after_assessed_on_rejected():
    (line,) = errors_of(
        one_result(test="tsh", value=2, unit="mIU/L") | {"assessed_on": "2026-10-01"}
    )
    assert line == "results[0].date: 2026-11-01 is after assessed_on (2026-10-01)"


@pytest.mark.parametrize("days", [1, 2, 4, 7])
def test_embryo_age_must_be_3_5_or_6(days):
    lines = errors_of(
        case(current_pregnancy={"transfer_date": "2026-11-01", "embryo_age_days": days})
    )
    assert lines == [
        f"current_pregnancy.embryo_age_days: {days} is not an embryo age at transfer "
        "(allowed: 3, 5 or 6)"
    ]


def test_assessed_on_defaults_to_the_callers_today():
    data = case()
    del data["assessed_on"]
    assert load_case(data, today=TODAY).assessed_on == TODAY


def test_missing_ga_for_a_miscarriage_is_reported_not_assumed():
    (line,) = errors_of(case(pregnancies=[{"outcome": "miscarriage", "year": 2024}]))
    assert line.startswith("pregnancies[0].ga: required")


def test_qualitative_value_for_a_quantity_only_test_rejected():
    (line,) = errors_of(one_result(test="tsh", value="positive"))
    assert line.startswith("results[0].value:")


def test_numeric_tpo_needs_the_labs_upper_limit():
    (line,) = errors_of(one_result(test="tpo_antibodies", value=50, unit="IU/mL"))
    assert line.startswith("results[0].reference_high:")


def test_syntax_error_in_yaml_is_a_case_error_not_a_traceback():
    with pytest.raises(CaseError) as exc:
        load_case("a: [1, 2\n", today=TODAY)
    assert "not valid YAML or JSON" in exc.value.lines()[0]


def test_case_round_trips_through_its_own_dump():
    c = load_case(
        case(results=[{"test": "hcg", "value": 100, "unit": "IU/L", "date": "2026-11-01"}]),
        today=TODAY,
    )
    again = load_case(c.model_dump(mode="json", exclude_none=True), today=TODAY)
    assert again.model_dump() == c.model_dump()


def test_bytes_that_are_not_utf8_are_a_case_error_not_a_traceback(tmp_path):
    with pytest.raises(CaseError) as exc:
        load_case(b"\x80\x81 not text", today=TODAY)
    assert "not UTF-8" in exc.value.lines()[0]
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(CaseError) as exc:
        load_case(bad, today=TODAY)
    assert "not UTF-8" in exc.value.lines()[0]


@pytest.mark.parametrize(
    ("field", "what"),
    [
        ({"patient": {"conditions": ["pcos", "gout", "lupus"]}}, "patient.conditions"),
        ({"proposed": {"tests": ["tsh", "gout", "lupus"]}}, "proposed.tests"),
        ({"asked_about": ["test.nk_cells", "gout", "lupus"]}, "asked_about"),
    ],
)
def test_vocabulary_lists_name_every_unknown_word_with_its_index(field, what):
    """Rule: a list of vocabulary words (conditions, proposed tests, recommendation ids asked
    about) names every unknown word at once, each at its index, with the allowed words."""
    lines = errors_of(case(**field))
    assert [line.split(":")[0] for line in lines] == [f"{what}[1]", f"{what}[2]"]
    assert "'gout' is not a known" in lines[0] and "allowed:" in lines[0]
