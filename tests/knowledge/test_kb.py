"""The knowledge base loads, is complete against the spec, and rejects bad files clearly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from rplcare.knowledge import KnowledgeError, get_kb, load_kb
from rplcare.knowledge.loader import DATA_DIR

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "recommendations.md"

# every id named in ../shared/spec/recommendations.md §2-4
# (kept here so a CI run without shared/ checks it too)
SPEC_IDS = [
    "test.antiphospholipid_antibodies",
    "test.antiphospholipid_repeat",
    "test.anti_b2gpi",
    "test.thyroid_function",
    "test.free_t4",
    "test.uterine_anatomy",
    "test.full_blood_count",
    "test.hba1c",
    "test.prolactin",
    "test.poc_genetics",
    "test.parental_karyotype",
    "test.inherited_thrombophilia",
    "test.cervical_length_surveillance",
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
    "test.antinuclear_antibodies",
    "treat.aspirin_heparin",
    "treat.therapeutic_anticoagulation",
    "treat.levothyroxine",
    "treat.levothyroxine_pregnancy_adjustment",
    "treat.glycaemic_optimisation",
    "treat.folic_acid",
    "treat.bromocriptine",
    "treat.septum_resection",
    "treat.hysteroscopic_surgery",
    "treat.history_indicated_cerclage",
    "treat.cerclage_or_vaginal_progesterone_short_cervix",
    "treat.genetic_counselling",
    "treat.vaginal_progesterone_bleeding",
    "treat.progesterone_without_bleeding",
    "treat.dydrogesterone",
    "treat.luteal_phase_support_art",
    "treat.lymphocyte_immunotherapy",
    "treat.ivig",
    "treat.glucocorticoids",
    "treat.intralipid",
    "treat.g_csf",
    "treat.hcg_supplementation",
    "treat.heparin_aspirin_unexplained",
    "advice.no_bed_rest",
    "advice.supportive_care",
    "advice.lifestyle",
    "advice.mental_health",
    # §7, added with the clinical-safety work (issue 9)
    "treat.vte_thromboprophylaxis",
    "treat.metformin",
    "treat.vaginal_progesterone_short_cervix",
]

SPEC_FINDINGS = [
    "cause.antiphospholipid_syndrome",
    "state.antiphospholipid_persistent_noncriteria",
    "state.antiphospholipid_positive_unconfirmed",
    "cause.overt_hypothyroidism",
    "cause.subclinical_hypothyroidism",
    "state.thyroid_autoimmunity",
    "cause.diabetes_suboptimal",
    "state.diabetes_avoid_pregnancy",
    "cause.hyperprolactinaemia",
    "cause.septate_uterus",
    "cause.submucosal_fibroid",
    "cause.intrauterine_adhesions",
    "cause.endometrial_polyp",
    "cause.other_uterine_anomaly",
    "cause.cervical_insufficiency_history",
    "cause.parental_structural_rearrangement",
    "state.fetal_aneuploidy_explained_loss",
    "cause.lifestyle_smoking",
    "cause.lifestyle_bmi_high",
    "cause.lifestyle_bmi_low",
    "cause.lifestyle_alcohol",
    "cause.lifestyle_caffeine",
    "state.workup_incomplete",
    "cause.unexplained",
    "state.lupus_anticoagulant_on_anticoagulation",
]


def test_packaged_knowledge_base_loads_with_a_version():
    kb = get_kb()
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", kb.version)


def test_every_spec_recommendation_id_is_in_the_knowledge_base():
    assert sorted(set(SPEC_IDS) - set(get_kb().recommendations)) == []


@pytest.mark.skipif(not SPEC.exists(), reason="shared/spec not beside the repo")
def test_spec_file_names_no_id_missing_from_this_test():
    text = SPEC.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:test|treat|advice)\.[a-z0-9_]+)`", text))
    named |= {m for m in re.findall(r"\b((?:test|treat|advice)\.[a-z0-9_]+)", text)}
    assert named - set(SPEC_IDS) == set()


def test_every_spec_finding_is_declared():
    assert sorted(set(SPEC_FINDINGS) - set(get_kb().findings)) == []


def test_every_rule_cites_a_source_and_unverified_sources_are_flagged():
    kb = get_kb()
    for rec in kb.recommendations.values():
        for rule in rec.rules:
            assert rule.sources, rec.id
    # ESHRE 2022 recommendation texts were not retrievable: the registry must say so
    assert kb.sources["eshre2022"].verified is False
    assert kb.parameters["lifestyle.caffeine_mg_day"].verified is False


def test_every_parameter_names_a_known_source():
    kb = get_kb()
    assert all(p.source in kb.sources for p in kb.parameters.values())


def _copy_kb(tmp_path: Path) -> Path:
    dst = tmp_path / "kb"
    shutil.copytree(DATA_DIR, dst)
    return dst


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_bad_kb_unknown_finding_fails_at_load_naming_it(tmp_path):
    d = _copy_kb(tmp_path)
    f = d / "recommendations.yaml"
    f.write_text(
        f.read_text(encoding="utf-8").replace(
            "when: {all: [state.antiphospholipid_positive_unconfirmed], none:",
            "when: {all: [state.antiphospholipid_positve_unconfirmed], none:",
        ),
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError) as exc:
        load_kb(d)
    assert any(
        "unknown finding 'state.antiphospholipid_positve_unconfirmed'" in p
        for p in exc.value.problems
    )


def test_bad_kb_missing_source_fails_at_load(tmp_path):
    d = _copy_kb(tmp_path)
    _append(d / "parameters.yaml", "  x.new: {value: 1, source: nowhere-2099}\n")
    with pytest.raises(KnowledgeError) as exc:
        load_kb(d)
    assert "parameter x.new: unknown source 'nowhere-2099'" in exc.value.problems


def test_bad_kb_duplicate_recommendation_id_fails_at_load(tmp_path):
    d = _copy_kb(tmp_path)
    _append(
        d / "recommendations.yaml",
        """
  - id: advice.no_bed_rest
    kind: advice
    title: duplicate
    text: duplicate
    patient_text: duplicate
    rules:
      - status: recommended
        when: {all: [state.rpl]}
        sources: [{id: cochrane-bedrest}]
""",
    )
    with pytest.raises(KnowledgeError) as exc:
        load_kb(d)
    assert any("duplicate recommendation id 'advice.no_bed_rest'" in p for p in exc.value.problems)


def test_bad_kb_rule_without_source_and_bad_status_all_reported(tmp_path):
    d = _copy_kb(tmp_path)
    _append(
        d / "recommendations.yaml",
        """
  - id: advice.extra
    kind: advice
    title: t
    text: t
    patient_text: t
    rules:
      - status: maybe
        when: {all: [state.rpl]}
        sources: []
""",
    )
    with pytest.raises(KnowledgeError) as exc:
        load_kb(d)
    joined = "\n".join(exc.value.problems)
    assert "rules.0.status" in joined and "rules.0.sources" in joined


def test_bad_kb_parameter_mapping_to_an_unknown_finding_fails_at_load(tmp_path):
    d = _copy_kb(tmp_path)
    f = d / "parameters.yaml"
    f.write_text(
        f.read_text(encoding="utf-8").replace(
            "septate_uterus: cause.septate_uterus", "septate_uterus: cause.septet_uterus"
        ),
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError) as exc:
        load_kb(d)
    assert (
        "parameter anatomy.imaging_findings.septate_uterus: unknown finding 'cause.septet_uterus'"
    ) in exc.value.problems
