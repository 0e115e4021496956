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


SLOT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def _english_sentences() -> dict[str, str]:
    """Every sentence template as written (findings*.yaml `sentences`, sentences*.yaml)."""
    out = {}
    for path in sorted(Path(DATA_DIR).glob("findings*.yaml")):
        for f in _yaml(path.name)["findings"]:
            for k, v in (f.get("sentences") or {}).items():
                out[f["id"] if k == "default" else f"{f['id']}:{k}"] = v
    for path in sorted(Path(DATA_DIR).glob("sentences*.yaml")):
        out.update({str(k): str(v) for k, v in (_yaml(path.name).get("sentences") or {}).items()})
    return out


def test_translated_sentences_keep_their_slots_and_placeholders():
    """Rule: a computed sentence's translation has the English runtime slots ({value}, {n})
    and parameter placeholders, each once per use, so the values carry over unchanged."""
    english = _english_sentences()
    data = read_translations("zh")["sentences"]
    unknown = [k for k in data if k not in english]
    assert not unknown, unknown
    for key, zh in data.items():
        en = english[key]
        assert sorted(SLOT.findall(zh)) == sorted(SLOT.findall(en)), key
        assert sorted(PLACEHOLDER.findall(zh)) == sorted(PLACEHOLDER.findall(en)), key
        assert CJK.search(zh) or zh == en, key


def test_every_finding_sentence_is_translated():
    finding_ids = set(get_kb().findings)
    wanted = {k for k in _english_sentences() if k.split(":", 1)[0] in finding_ids}
    have = set(read_translations("zh")["sentences"])
    assert len(wanted) > 120
    assert wanted <= have, sorted(wanted - have)


def test_computed_sentences_carry_their_values_into_chinese():
    t = translator("zh")
    # state.rpl with its slots; {type} is a record word (words:)
    said = t.sentence(
        "Recurrent pregnancy loss under eshre2022: 3 losses counted (primary RPL, care tier 3)."
    )
    assert (
        said == "按 eshre2022 为复发性流产：计入 3 次妊娠丢失（原发性复发性流产，诊疗分级 3 级）。"
    )
    # a slot holding a list of other sentences, themselves holding lists
    nested = t.sentence(
        "RPL workup incomplete: Not yet tested: lupus anticoagulant, anticardiolipin IgG/IgM; "
        "Not yet tested: TSH, TPO antibodies; Uterine anatomy not yet imaged."
    )
    assert nested == (
        "复发性流产检查未完成：尚未检测：狼疮抗凝物、抗心磷脂抗体 IgG/IgM；"
        "尚未检测：TSH、TPO 抗体；尚未做子宫形态影像学检查。"
    )
    # a calculator alert, and a sentence no template matches
    assert t.any("a scan reports an ectopic pregnancy: urgent gynaecology care (NICE NG126)") == (
        "超声提示异位妊娠：紧急妇科处理（NICE NG126）"
    )
    assert t.sentence("Something else entirely.") is None


def test_doses_keep_their_numbers_with_chinese_words():
    """Rule: a dose in a translated text has the numbers of doses.yaml and translated words
    (every unit/frequency word of every dose has one)."""
    from rplcare.knowledge.translations import dose_words

    words = read_translations("zh")["dose_words"]
    for d in get_kb().doses.values():
        assert all(w in words for w in dose_words(d)), d.id
    t = translator("zh")
    text = t.text(get_kb().recommendations["treat.folic_acid"].text)
    assert text == "叶酸 400 微克 每日，自受孕前至孕 12 周。"
