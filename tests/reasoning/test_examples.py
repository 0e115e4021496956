"""Each shipped example gives what its comments say (../shared/examples, copied to examples/)."""

from __future__ import annotations

import json

import pytest

from casebuilder import TODAY, finding_ids, statuses
from rplcare import assess, load_case


def run_example(examples_dir, name, **kw):
    return assess(load_case(examples_dir / f"{name}.yaml", today=TODAY), **kw)


def test_aps_example_finds_aps_and_recommends_aspirin_heparin(examples_dir):
    a = run_example(examples_dir, "aps-three-losses")
    s = statuses(a)
    assert "cause.antiphospholipid_syndrome" in finding_ids(a)
    assert s["treat.aspirin_heparin"] == "recommended"
    assert "test.antiphospholipid_repeat" not in s  # LA confirmed 14 weeks apart
    assert "test.antiphospholipid_antibodies" not in s  # done: satisfied, not recommended
    assert s["treat.lymphocyte_immunotherapy"] == "not_recommended"
    aps = a.findings.get("cause.antiphospholipid_syndrome")
    assert aps.details["subtype"] == "obstetric" and aps.details["sydney2006"] is True
    # models.md §7.3 row 1: 3 early losses + persistent LA:
    # ACR/EULAR clinical 1, lab 5, so not classified
    acr = aps.details["acr_eular_2023"]
    assert (acr["clinical_points"], acr["laboratory_points"], acr["classified"]) == (1, 5, False)


def test_thyroid_example_subclinical_hypothyroidism_tpo_positive(examples_dir):
    a = run_example(examples_dir, "thyroid-two-losses")
    s = statuses(a)
    c = a.classification
    assert (c.rpl, c.type, c.losses_counted) == (True, "secondary", 2)
    f = finding_ids(a)
    assert {
        "cause.subclinical_hypothyroidism",
        "state.workup_incomplete",
        "cause.lifestyle_caffeine",
    } <= f
    # before pregnancy, SCH with TPO antibodies: conditional (ESHRE 2022; ATA 2017 rec. 29 is
    # stated for pregnancy) - issue 9 §5
    assert s["treat.levothyroxine"] == "conditional"
    lt4 = a.rec("treat.levothyroxine")
    assert any(src["id"] == "ata2017" and "rec. 29" in src["locator"] for src in lt4.sources)
    assert s["test.uterine_anatomy"] == "recommended"
    assert s["advice.lifestyle"] == "recommended"


def test_bleeding_example_lmp_dating_hcg_viable_progesterone_to_16_weeks(examples_dir):
    a = run_example(examples_dir, "bleeding-early-pregnancy")
    p = a.pregnancy
    assert p["dating"]["basis"] == "lmp" and "cycle 30 days" in p["dating"]["why"]
    (pair,) = p["hcg"]["pairs"]
    assert pair["change_48h_pct"] == pytest.approx(87.0, abs=0.1)
    assert pair["nice"] == "likely_intrauterine"
    assert p["viability"]["status"] == "viable"
    s = statuses(a)
    assert s["treat.vaginal_progesterone_bleeding"] == "recommended"
    lut = p["luteal_support"]
    assert lut["regimen"] == "vaginal micronised progesterone 400 mg twice daily"
    assert lut["stop_ga"] == "16+0"
    assert s["advice.no_bed_rest"] == "recommended"


def test_carrier_example_art_dating_and_luteal_support_not_stopped_early(examples_dir):
    a = run_example(examples_dir, "carrier-frozen-transfer")
    p = a.pregnancy
    assert p["dating"]["basis"] == "art"
    assert p["dating"]["edd"] == "2027-07-16"  # 2026-10-28 + 261 days (day-5 embryo)
    assert p["hcg"]["pairs"][0]["nice"] == "likely_intrauterine"
    prog = p["progesterone"]
    assert prog["on_progestogen"] is True and prog["usable_for_pul_triage"] is False
    assert prog["dose_review_suggested"] is True
    rec = a.rec("treat.luteal_phase_support_art")
    assert rec.status == "recommended" and "must not be stopped early" in rec.text


@pytest.mark.parametrize(
    "name",
    [
        "aps-three-losses",
        "thyroid-two-losses",
        "bleeding-early-pregnancy",
        "carrier-frozen-transfer",
    ],
)
def test_assessment_json_has_the_spec_fields(examples_dir, name):
    d = json.loads(run_example(examples_dir, name).to_json())
    assert d["format"] == "rplcare.assessment/1"
    assert set(d["knowledge_base"]) >= {"version", "definition", "luteal_policy"}
    assert set(d["classification"]) >= {
        "rpl",
        "losses_counted",
        "first_trimester_losses",
        "second_trimester_losses",
        "type",
        "care_tier",
    }
    for r in d["recommendations"]:
        assert set(r) >= {"id", "kind", "status", "because", "sources", "text", "patient_text"}
        assert r["status"] in ("recommended", "conditional", "not_recommended")
        assert r["sources"] and all("id" in s for s in r["sources"])
    for f in d["findings"]:
        assert set(f) >= {"id", "evidence", "text"}
    assert "Decision support" in d["disclaimer"]


def test_same_case_same_options_same_output(examples_dir):
    one = run_example(examples_dir, "aps-three-losses").to_json()
    two = run_example(examples_dir, "aps-three-losses").to_json()
    assert one == two


@pytest.mark.parametrize(
    "name",
    [
        "aps-three-losses",
        "thyroid-two-losses",
        "bleeding-early-pregnancy",
        "carrier-frozen-transfer",
    ],
)
def test_every_because_id_resolves_to_a_finding_in_the_json(examples_dir, name):
    d = json.loads(run_example(examples_dir, name).to_json())
    listed = {f["id"] for f in d["findings"]}
    for r in d["recommendations"]:
        assert set(r["because"]) <= listed, r["id"]


def test_satisfied_tests_are_listed_under_workup_done_not_as_recommendations(examples_dir):
    d = json.loads(run_example(examples_dir, "aps-three-losses").to_json())
    done = {item["id"]: item for item in d["workup"]["done"]}
    assert {
        "test.antiphospholipid_antibodies",
        "test.thyroid_function",
        "test.uterine_anatomy",
        "test.parental_karyotype",
    } <= set(done)
    assert done["test.uterine_anatomy"]["evidence"] == ["results[6]"]
    recommended = {r["id"] for r in d["recommendations"]}
    assert not set(done) & recommended
