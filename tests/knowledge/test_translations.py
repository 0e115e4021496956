"""The clinician texts of the knowledge base in Simplified Chinese (knowledge/data/zh_Hans).

Rule (issue 11 §6): every finding and recommendation has its zh-Hans text, beside the YAML, and
every placeholder of the English (`{param:NAME|style}`, `{dose:ID|style}`) is in the
translation with the same name and style, so a translated sentence never carries a number of
its own that could drift from the parameters.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rplcare.knowledge import get_kb
from rplcare.knowledge.loader import DATA_DIR
from rplcare.knowledge.translations import (
    raw_translation,
    read_translations,
    translation_file,
    translator,
)
from rplcare.util import yamlio

PLACEHOLDER = re.compile(r"\{(?:param|dose):[A-Za-z0-9_.\-]+(?:\|[a-z_]+)?\}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _yaml(name: str) -> dict:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return yamlio.load(fh)


def english_raw() -> list[tuple[str, str, str]]:
    """(kind, id, English as written, placeholders unresolved), read from the YAML itself."""
    out = []
    for path in sorted(Path(DATA_DIR).glob("findings*.yaml")):
        for f in _yaml(path.name)["findings"]:
            out.append(("finding", f["id"], f["text"]))
    pops = _yaml("populations.yaml")["populations"]
    for path in sorted(Path(DATA_DIR).glob("recommendations*.yaml")):
        for r in _yaml(path.name)["recommendations"]:
            out.append(("title", r["id"], r["title"]))
            out.append(("text", r["id"], r["text"]))
            for i, rule in enumerate(r["rules"]):
                if rule.get("text"):
                    out.append((f"rule.{i}", r["id"], rule["text"]))
                if (rule.get("when_pregnant") or {}).get("text"):
                    out.append((f"when_pregnant.{i}", r["id"], rule["when_pregnant"]["text"]))
            wp = (pops.get(r["id"]) or {}).get("when_pregnant") or {}
            if wp.get("text"):
                out.append(("population", r["id"], wp["text"]))
    return out


def test_the_translations_sit_beside_the_knowledge_base_and_out_of_its_hash():
    path = translation_file("zh")
    assert path.parent.parent == Path(DATA_DIR)
    assert path.parent.name == "zh_Hans"
    # the loader reads data/*.yaml only: a translation changes no assessment
    assert path not in set(Path(DATA_DIR).glob("*.yaml"))


def test_every_knowledge_base_item_has_a_chinese_text_with_the_same_placeholders():
    data = read_translations("zh")
    items = english_raw()
    assert len([k for k, _, _ in items if k == "finding"]) == len(get_kb().findings)
    assert len([k for k, _, _ in items if k == "title"]) == len(get_kb().recommendations)
    missing, wrong = [], []
    for kind, ident, english in items:
        zh = raw_translation(data, kind, ident)
        if not zh or not CJK.search(zh):
            missing.append(f"{ident} {kind}")
            continue
        if sorted(PLACEHOLDER.findall(zh)) != sorted(PLACEHOLDER.findall(english)):
            wrong.append(f"{ident} {kind}: {PLACEHOLDER.findall(english)}")
    assert not missing, missing
    assert not wrong, wrong


def test_no_translation_of_something_the_knowledge_base_does_not_have():
    data = read_translations("zh")
    kb = get_kb()
    assert set(data["findings"]) <= set(kb.findings)
    assert set(data["recommendations"]) <= set(kb.recommendations)
    wanted = {(k, i) for k, i, _ in english_raw()}
    for rid, entry in data["recommendations"].items():
        for key in entry:
            if key in ("rules", "when_pregnant"):
                part = "rule" if key == "rules" else "when_pregnant"
                for index in entry[key]:
                    assert (f"{part}.{index}", rid) in wanted, (rid, key, index)
            else:
                kind = "population" if key == "population_when_pregnant" else key
                assert (kind, rid) in wanted, (rid, key)


def test_resolved_translations_carry_the_parameter_values():
    """The placeholders resolve as the English ones do (values from parameters.yaml)."""
    t = translator("zh")
    kb = get_kb()
    # test.antiphospholipid_repeat: {param:aps.persistence_days|weeks} -> 12 (84 days)
    assert kb.recommendations["test.antiphospholipid_repeat"].title.startswith(
        "Repeat antiphospholipid test at least 12 weeks"
    )
    assert t.title("test.antiphospholipid_repeat", None) == "阳性结果至少 12 周后复查抗磷脂抗体"
    assert t.finding("current.ga_12w_plus") == "本次妊娠已达孕 12+0 周或以上"
    assert "{" not in "".join(t.by_english.values())


@pytest.mark.parametrize(
    ("rid", "words"),
    [
        ("treat.aspirin_heparin", "低分子肝素"),
        ("test.antiphospholipid_antibodies", "狼疮抗凝物"),
        ("treat.vaginal_progesterone_bleeding", "孕酮"),
        ("treat.progesterone_without_bleeding", "复发性流产"),
        ("treat.therapeutic_anticoagulation", "抗磷脂综合征"),
    ],
)
def test_standard_chinese_medical_terms(rid, words):
    t = translator("zh")
    rec = get_kb().recommendations[rid]
    assert words in (t.text(rec.text) or "") + (t.title(rid, rec.title) or "")


def test_an_unverified_note_is_translated_with_its_source_ids():
    t = translator("zh")
    english = get_kb().recommendations["test.anti_b2gpi"].text
    out = t.text(f"{english} (source wording not verified: eshre2022)")
    assert (
        out
        == "可考虑检测抗β2糖蛋白I抗体 IgG/IgM，以完善抗磷脂抗体谱。（来源原文未核实：eshre2022）"
    )
    assert t.text("A sentence no translation knows.") == "A sentence no translation knows."


def test_english_has_no_translator():
    assert translator("en") is None
