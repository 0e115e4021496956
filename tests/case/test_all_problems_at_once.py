"""Rule (issue 9 §3; project rule "bad input gets a clear error naming the field path, what was
given and what is allowed -- ALL problems at once"): a case with a bad field AND a whole-record
contradiction reports both in one error. Each part of the case is validated alone, and every
whole-record check (src/rplcare/case/record_checks.py) runs on the parts that validated; only a
check whose own input failed is skipped. The problems are unique and sorted by path.

Proved two ways: a table of hand-written combinations, and a hypothesis property (valid
generated case + one field-error mutator + one contradiction mutator on unrelated fields ->
both paths in one CaseError). Every expected path is written by hand from the field each
mutator breaks.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casebuilder import TODAY, case, drawn_case
from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.case.salvage import _path_key

LMP = (TODAY - timedelta(days=60)).isoformat()


def _problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(CaseError) as exc:
        load_case(data, today=TODAY)
    return exc.value.problems


def _paths(data: dict[str, Any]) -> set[str]:
    return {p for p, _ in _problems(data)}


# --- table: hand-written combinations --------------------------------------------------------

TABLE: list[tuple[str, dict[str, Any], set[str]]] = [
    (
        "bad BMI + a scan before the LMP",
        {
            "patient": {"age_years": 32, "bmi": 5},
            "current_pregnancy": {"lmp": LMP, "scans": [{"date": "2026-09-01"}]},
        },
        {"patient.bmi", "current_pregnancy.scans[0].date"},
    ),
    (
        "bad number of fetuses (same section) + a scan before the LMP",
        {"current_pregnancy": {"lmp": LMP, "fetuses": 0, "scans": [{"date": "2026-09-01"}]}},
        {"current_pregnancy.fetuses", "current_pregnancy.scans[0].date"},
    ),
    (
        "unknown test code in one result + a live birth at 15+0",
        {
            "pregnancies": [{"outcome": "live_birth", "ga": "15+0", "year": 2025}],
            "results": [{"test": "tshh", "value": 2, "unit": "mIU/L", "date": "2026-06-01"}],
        },
        {"results[0].test", "pregnancies[0].ga"},
    ),
    (
        "bad partner age (same section) + partner karyotype contradicting the result",
        {
            "partner": {"age_years": 5, "karyotype": "46,XY"},
            "results": [
                {
                    "test": "karyotype_male",
                    "value": "46,XY,t(11;22)(q23;q11.2)",
                    "date": "2026-05-01",
                }
            ],
        },
        {"partner.age_years", "partner.karyotype"},
    ),
    (
        "bad unit in one result + two same-day lupus anticoagulant results disagreeing",
        {
            "results": [
                {"test": "tsh", "value": 2, "unit": "furlongs", "date": "2026-06-01"},
                {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-06-01"},
                {"test": "lupus_anticoagulant", "value": "negative", "date": "2026-06-01"},
            ]
        },
        {"results[0].unit", "results[2].value"},
    ),
    (
        "unknown condition + natural conception with a transfer date",
        {
            "patient": {"age_years": 32, "conditions": ["unicorn_syndrome"]},
            "current_pregnancy": {
                "lmp": LMP,
                "conception": "natural",
                "transfer_date": (TODAY - timedelta(days=40)).isoformat(),
                "embryo_age_days": 5,
            },
        },
        {
            "patient.conditions[0]",
            "current_pregnancy.transfer_date",
            "current_pregnancy.embryo_age_days",
        },
    ),
    (
        "misspelt top-level key + a miscarriage at 24+0 + a loss at 0+0",
        {
            "asessed_on": "2026-11-23",
            "pregnancies": [
                {"outcome": "miscarriage", "ga": "24+0", "year": 2024},
                {"outcome": "miscarriage", "ga": "0+0", "year": 2025},
            ],
        },
        {"asessed_on", "pregnancies[0].ga", "pregnancies[1].ga"},
    ),
    (
        "bad smoking value + age disagreeing with birth date (both in patient)",
        {"patient": {"birth_date": "1990-01-01", "age_years": 25, "smoking": "sometimes"}},
        {"patient.smoking", "patient.age_years"},
    ),
    (
        "bad GA in one pregnancy + a past pregnancy dated after the current LMP",
        {
            "pregnancies": [
                {"outcome": "miscarriage", "ga": "abc", "year": 2024},
                {"outcome": "miscarriage", "ga": "7+0", "date": "2026-10-20"},
            ],
            "current_pregnancy": {"lmp": LMP},
        },
        {"pregnancies[0].ga", "pregnancies[1].date"},
    ),
]


@pytest.mark.parametrize(("why", "changes", "paths"), TABLE, ids=[t[0] for t in TABLE])
def test_field_error_and_record_contradiction_reported_together(
    why: str, changes: dict[str, Any], paths: set[str]
) -> None:
    assert _paths(case(**changes)) == paths


def test_a_check_whose_input_failed_is_skipped_not_guessed() -> None:
    """The result with the bad comparator is not compared with the partner's karyotype, and a scan
    with an invalid date cannot be 'before the LMP': only the field errors are reported."""
    data = case(
        partner={"karyotype": "46,XY"},
        results=[
            {
                "test": "karyotype_male",
                "value": "46,XY,t(11;22)(q23;q11.2)",
                "comparator": "~",
                "date": "2026-05-01",
            }
        ],
        current_pregnancy={"lmp": "not a date", "scans": [{"date": "2026-09-01"}]},
    )
    assert _paths(data) == {"results[0].comparator", "current_pregnancy.lmp"}


def test_problems_are_unique_and_sorted_by_path_with_indices_as_numbers() -> None:
    pregnancies = [{"outcome": "miscarriage", "ga": "7+0", "year": 2020} for _ in range(12)]
    pregnancies[2]["ga"] = "15+0"
    pregnancies[2]["outcome"] = "live_birth"
    pregnancies[10]["ga"] = "abc"
    problems = _problems(case(patient={"age_years": 32, "bmi": 5}, pregnancies=pregnancies))
    assert [p for p, _ in problems] == ["patient.bmi", "pregnancies[2].ga", "pregnancies[10].ga"]
    assert len(problems) == len(set(problems))


def test_cli_exit_2_names_both_paths(tmp_path) -> None:
    import yaml
    from typer.testing import CliRunner

    from rplcare.cli import app

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(case(**TABLE[0][1])), encoding="utf-8")
    result = CliRunner().invoke(app, ["assess", str(path), "--today", TODAY.isoformat()])
    assert result.exit_code == 2
    assert "patient.bmi" in result.output
    assert "current_pregnancy.scans[0].date" in result.output


# --- property: generated valid case + one field error + one contradiction ---------------------


@st.composite
def valid_cases(draw: Any) -> dict[str, Any]:
    pregnancies = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            d = draw(st.integers(5 * 7, 19 * 7))
            p = {"outcome": "miscarriage", "ga": f"{d // 7}+{d % 7}"}
        else:
            d = draw(st.integers(37 * 7, 41 * 7))
            p = {"outcome": "live_birth", "ga": f"{d // 7}+{d % 7}"}
        p["year"] = draw(st.integers(2012, 2025))
        pregnancies.append(p)
    results = []
    day = TODAY - timedelta(days=draw(st.integers(100, 400)))
    if draw(st.booleans()):
        tsh = draw(st.sampled_from([0.5, 1.8, 4.0]))
        results.append({"test": "tsh", "value": tsh, "unit": "mIU/L", "date": day.isoformat()})
    if draw(st.booleans()):
        tpo = draw(st.sampled_from(["positive", "negative"]))
        results.append({"test": "tpo_antibodies", "value": tpo, "date": day.isoformat()})
    data = drawn_case(draw, [19, 24, 31], pregnancies=pregnancies, results=results)
    if draw(st.booleans()):
        ga = draw(st.integers(5 * 7, 12 * 7))
        cp: dict[str, Any] = {"lmp": (TODAY - timedelta(days=ga)).isoformat()}
        if draw(st.booleans()):
            cp["conception"] = "natural"
        if draw(st.booleans()):
            cp["scans"] = [{"date": TODAY.isoformat(), "location": "intrauterine", "embryo": True}]
        data["current_pregnancy"] = cp
    return data


def _cp(data: dict[str, Any]) -> dict[str, Any]:
    if not data.get("current_pregnancy"):
        data["current_pregnancy"] = {"lmp": LMP}
    return data["current_pregnancy"]


# each mutator changes `data` in place and returns the path it breaks (written by hand)
def f_bmi(d: dict[str, Any]) -> str:
    d["patient"]["bmi"] = 5
    return "patient.bmi"


def f_age(d: dict[str, Any]) -> str:
    d["patient"]["age_years"] = 200
    return "patient.age_years"


def f_condition(d: dict[str, Any]) -> str:
    d["patient"]["conditions"] = ["unicorn_syndrome"]
    return "patient.conditions[0]"


def f_result_unit(d: dict[str, Any]) -> str:
    d["results"].append({"test": "tsh", "value": 2, "unit": "furlongs", "date": "2026-06-01"})
    return f"results[{len(d['results']) - 1}].unit"


def f_pregnancy_ga(d: dict[str, Any]) -> str:
    d["pregnancies"].append({"outcome": "miscarriage", "ga": "abc", "year": 2020})
    return f"pregnancies[{len(d['pregnancies']) - 1}].ga"


def f_fetuses(d: dict[str, Any]) -> str:
    _cp(d)["fetuses"] = 0
    return "current_pregnancy.fetuses"


def f_unknown_key(d: dict[str, Any]) -> str:
    d["patient"]["bmii"] = 22
    return "patient.bmii"


def c_live_birth_before_viability(d: dict[str, Any]) -> str:
    d["pregnancies"].append({"outcome": "live_birth", "ga": "15+0", "year": 2021})
    return f"pregnancies[{len(d['pregnancies']) - 1}].ga"


def c_scan_before_lmp(d: dict[str, Any]) -> str:
    cp = _cp(d)
    cp.setdefault("scans", []).append({"date": "2026-01-01", "location": "unknown"})
    return f"current_pregnancy.scans[{len(cp['scans']) - 1}].date"


def c_natural_with_transfer(d: dict[str, Any]) -> str:
    cp = _cp(d)
    cp["conception"] = "natural"
    cp["transfer_date"] = cp["lmp"]
    cp["embryo_age_days"] = 5
    return "current_pregnancy.transfer_date"


def c_same_day_disagreeing(d: dict[str, Any]) -> str:
    for value in ("positive", "negative"):
        d["results"].append({"test": "lupus_anticoagulant", "value": value, "date": "2026-03-03"})
    return f"results[{len(d['results']) - 1}].value"


def c_partner_karyotype(d: dict[str, Any]) -> str:
    d["partner"] = {"karyotype": "46,XY"}
    d["results"].append(
        {"test": "karyotype_male", "value": "46,XY,inv(9)(p12q13)", "date": "2026-03-03"}
    )
    return "partner.karyotype"


def c_pregnancy_after_lmp(d: dict[str, Any]) -> str:
    cp = _cp(d)
    assert cp["lmp"] < (TODAY - timedelta(days=1)).isoformat()
    d["pregnancies"].append(
        {"outcome": "miscarriage", "ga": "6+0", "date": (TODAY - timedelta(days=1)).isoformat()}
    )
    return f"pregnancies[{len(d['pregnancies']) - 1}].date"


FIELD_ERRORS = [f_bmi, f_age, f_condition, f_result_unit, f_pregnancy_ga, f_fetuses, f_unknown_key]
CONTRADICTIONS = [
    c_live_birth_before_viability,
    c_scan_before_lmp,
    c_natural_with_transfer,
    c_same_day_disagreeing,
    c_partner_karyotype,
    c_pregnancy_after_lmp,
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=valid_cases(),
    contradiction=st.sampled_from(CONTRADICTIONS),
    field_error=st.sampled_from(FIELD_ERRORS),
)
def test_property_one_field_error_and_one_contradiction_both_reported(
    data: dict[str, Any], contradiction: Any, field_error: Any
) -> None:
    load_case(copy.deepcopy(data), today=TODAY)  # the generator builds valid cases
    record_path = contradiction(data)
    field_path = field_error(data)
    problems = _problems(data)
    paths = [p for p, _ in problems]
    assert field_path in paths and record_path in paths, (field_path, record_path, problems)
    assert len(problems) == len(set(problems))
    assert paths == sorted(paths, key=_path_key)


@pytest.mark.parametrize("contradiction", CONTRADICTIONS, ids=lambda f: f.__name__)
def test_each_contradiction_mutator_alone_is_a_record_error(contradiction: Any) -> None:
    """The contradiction mutators really are record-level: alone, each is reported (natural
    conception with transfer fields names both fields; nothing else is reported)."""
    data = case()
    path = contradiction(data)
    paths = _paths(data)
    assert path in paths
    assert paths <= {path, "current_pregnancy.embryo_age_days"}
