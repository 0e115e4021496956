"""Whole-record checks (issue 9 §3): contradictions between fields, all at once with paths,
exit 2 / 422, nothing saved; plausible-but-odd values are warnings with a path."""

from __future__ import annotations

import pytest

from casebuilder import TODAY, case
from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case


def problems(data) -> list[str]:
    with pytest.raises(CaseError) as exc:
        load_case(data, today=TODAY)
    return exc.value.lines()


def test_a_loss_at_ga_0_is_an_error_with_its_path():
    lines = problems(case(pregnancies=[{"outcome": "miscarriage", "ga": "0+0", "year": 2025}]))
    assert any(line.startswith("pregnancies[0].ga:") and "0+0" in line for line in lines)


@pytest.mark.parametrize(
    ("outcome", "ga", "ok"),
    [
        ("live_birth", "16+0", False),  # a live birth before viability
        ("live_birth", "21+6", False),
        ("live_birth", "22+0", True),
        ("miscarriage", "24+0", False),  # a "miscarriage" at the stillbirth limit
        ("miscarriage", "23+6", True),
        ("stillbirth", "23+6", False),
    ],
)
def test_outcome_contradicting_its_gestational_age(outcome, ga, ok):
    data = case(pregnancies=[{"outcome": outcome, "ga": ga, "year": 2025}])
    if ok:
        load_case(data, today=TODAY)
    else:
        assert any(line.startswith("pregnancies[0].ga:") for line in problems(data))


def test_dates_out_of_order_all_reported_at_once():
    data = case(
        current_pregnancy={
            "lmp": "2026-10-01",
            "conception": "ivf",
            "transfer_date": "2026-10-20",
            "embryo_age_days": 5,
            "scans": [
                {"date": "2026-09-20", "location": "unknown"},
                {"date": "2026-10-18", "location": "intrauterine"},
            ],
        }
    )
    lines = problems(data)
    assert any(line.startswith("current_pregnancy.scans[0].date:") for line in lines)
    assert any(
        line.startswith("current_pregnancy.transfer_date:") and "scans[1]" in line for line in lines
    )


def test_conception_mode_contradicting_the_art_fields():
    lines = problems(
        case(
            current_pregnancy={
                "lmp": "2026-10-01",
                "conception": "natural",
                "transfer_date": "2026-10-20",
                "embryo_age_days": 5,
            }
        )
    )
    assert any(line.startswith("current_pregnancy.transfer_date:") for line in lines)
    assert any(line.startswith("current_pregnancy.embryo_age_days:") for line in lines)


def test_same_test_same_day_disagreeing():
    lines = problems(
        case(
            results=[
                {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-10-01"},
                {"test": "lupus_anticoagulant", "value": "negative", "date": "2026-10-01"},
            ]
        )
    )
    assert any(line.startswith("results[1].value:") and "results[0]" in line for line in lines)
    # the same result twice, or on different days, is not a contradiction
    load_case(
        case(
            results=[
                {"test": "lupus_anticoagulant", "value": "positive", "date": "2026-10-01"},
                {"test": "lupus_anticoagulant", "value": "negative", "date": "2026-10-02"},
            ]
        ),
        today=TODAY,
    )


def test_partner_karyotype_contradicting_the_recorded_result():
    lines = problems(
        case(
            partner={"karyotype": "46,XY"},
            results=[
                {
                    "test": "karyotype_male",
                    "value": "46,XY,t(11;22)(q23;q11.2)",
                    "date": "2026-05-01",
                }
            ],
        )
    )
    assert any(line.startswith("partner.karyotype:") and "results[0]" in line for line in lines)


def test_odd_but_plausible_values_are_warnings_with_a_path():
    c = load_case(case(patient={"age_years": 52, "bmi": 55}), today=TODAY)
    assert any(w.startswith("patient.bmi:") for w in c.warnings)
    assert any(w.startswith("patient.age_years:") for w in c.warnings)
    c2 = load_case(
        case(patient={"age_years": 30, "medications": ["dextroprogesterone"]}), today=TODAY
    )
    assert any(w.startswith("patient.medications[0]:") for w in c2.warnings)


def test_api_and_cli_reject_the_whole_record_with_exit_2(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from rplcare.cli import app

    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(case(pregnancies=[{"outcome": "live_birth", "ga": "15+0", "year": 2025}])),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["assess", str(path), "--today", "2026-11-23"])
    assert result.exit_code == 2
    assert "pregnancies[0].ga" in result.output


# (pregnancy, the paths refused) — a live birth against its own dates; the tolerance is
# record.birth_ga_dating_tolerance_days = 21 (ACOG CO 700: from 28+0 redate when the ages differ
# by more than 21 days); LMP 2025-01-01 + 280 days = 2025-10-08 is 40+0 by its dates
BIRTHS = [
    ({"ga": "40+0", "date": "2025-10-08", "lmp": "2025-01-01"}, []),
    ({"ga": "37+0", "date": "2025-10-08", "lmp": "2025-01-01"}, []),  # 21 days: allowed
    ({"ga": "36+6", "date": "2025-10-08", "lmp": "2025-01-01"}, ["pregnancies[0].ga"]),
    ({"ga": "43+1", "date": "2025-10-08", "lmp": "2025-01-01"}, ["pregnancies[0].ga"]),
    ({"ga": "38+0", "date": "2025-03-01", "lmp": "2025-01-01"}, ["pregnancies[0].ga"]),  # 8+3
    ({"ga": "38+0", "date": "2025-03-01", "lmp": "2025-06-01"}, ["pregnancies[0].lmp"]),
    ({"ga": "16+0", "date": "2025-04-23", "lmp": "2025-01-01"}, ["pregnancies[0].ga"]),  # viability
    ({"ga": "38+0", "year": 2025}, []),  # no dates to compare
    ({"ga": "38+0", "date": "2025-10-08"}, []),
]


@pytest.mark.parametrize(("birth", "refused"), BIRTHS)
def test_a_live_birth_whose_ga_contradicts_its_dates(birth, refused):
    """Rule: a live birth's recorded GA more than the tolerance from birth date - LMP, or an
    LMP after the birth, is an input error at its field path."""
    data = case(pregnancies=[{"outcome": "live_birth", **birth}])
    if not refused:
        load_case(data, today=TODAY)
        return
    lines = problems(data)
    assert sorted({line.split(":")[0] for line in lines}) == refused


def test_every_dating_problem_of_the_record_is_reported_at_once():
    """Rule: all problems at once: a GA against its dates, an LMP after the birth and a live
    birth before viability, each with its path, in one refusal."""
    lines = problems(
        case(
            pregnancies=[
                {"outcome": "live_birth", "ga": "30+0", "date": "2024-10-08", "lmp": "2024-01-01"},
                {"outcome": "live_birth", "ga": "39+0", "date": "2025-02-01", "lmp": "2025-03-01"},
                {"outcome": "live_birth", "ga": "16+0", "date": "2025-08-01"},
            ]
        )
    )
    paths = [line.split(":")[0] for line in lines]
    assert paths == ["pregnancies[0].ga", "pregnancies[1].lmp", "pregnancies[2].ga"]
