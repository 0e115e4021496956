"""Sentence templates: numbers come from named parameters and doses, resolved at load.

Rule checked (issue 8 §1): a sentence in the knowledge base names the parameter instead of
repeating its number; an unknown name fails at load; a changed parameter changes every sentence
that names it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from casebuilder import TODAY
from rplcare import assess, load_case
from rplcare.knowledge import KnowledgeError, get_kb, load_kb
from rplcare.knowledge.loader import DATA_DIR
from rplcare.knowledge.templates import format_value

ROOT = Path(__file__).resolve().parents[2]


def _copy_kb(tmp_path: Path) -> Path:
    dst = tmp_path / "kb"
    shutil.copytree(DATA_DIR, dst)
    return dst


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


# display conventions, expected values written by hand ("W+D" = completed weeks + days)
@pytest.mark.parametrize(
    ("value", "style", "shown"),
    [
        (84, "ga", "12+0"),
        (112, "ga", "16+0"),
        (238, "ga", "34+0"),
        (168, "ga_before", "23+6"),
        (84, "weeks", "12"),
        (112, "weeks", "16"),
        (91, "months", "3"),
        (48, "number", "48"),
        (2.5, "number", "2.5"),
        (4.0, "number", "4"),
        (10.0, "number", "10"),
    ],
)
def test_parameter_display_conventions(value, style, shown):
    assert format_value(value, style) == shown


def test_gestational_style_refuses_a_fraction_of_a_day():
    with pytest.raises(ValueError, match="whole days"):
        format_value(2.5, "ga")


def test_unknown_parameter_in_a_finding_sentence_fails_at_load_naming_it(tmp_path):
    d = _copy_kb(tmp_path)
    _replace(
        d / "findings.yaml",
        "{param:diabetes.hba1c_recent_days}",
        "{param:diabetes.hba1c_recnt_days}",
    )
    with pytest.raises(KnowledgeError) as exc:
        load_kb(d)
    joined = "\n".join(exc.value.problems)
    assert "gap.hba1c_recent" in joined
    assert "unknown parameter 'diabetes.hba1c_recnt_days'" in joined


def test_unknown_parameter_or_dose_in_a_recommendation_fails_at_load(tmp_path):
    d = _copy_kb(tmp_path)
    f = d / "recommendations.yaml"
    _replace(f, "{param:diabetes.hba1c_avoid_pregnancy}", "{param:diabetes.nope}")
    _replace(f, "{dose:folic_acid_standard}", "{dose:folic_acid_typo}")
    with pytest.raises(KnowledgeError) as exc:
        load_kb(d)
    joined = "\n".join(exc.value.problems)
    assert "recommendation treat.glycaemic_optimisation.text: unknown parameter" in joined
    assert "recommendation treat.folic_acid.text: unknown dose 'folic_acid_typo'" in joined


def test_runtime_slot_in_a_recommendation_text_fails_at_load(tmp_path):
    d = _copy_kb(tmp_path)
    _replace(
        d / "recommendations.yaml",
        "text: Test TSH and TPO antibodies.",
        "text: Test TSH {value} and TPO antibodies.",
    )
    with pytest.raises(KnowledgeError) as exc:
        load_kb(d)
    assert any(
        p.startswith("recommendation test.thyroid_function.text: runtime slot(s) ['value']")
        for p in exc.value.problems
    )


def test_a_patched_parameter_moves_every_sentence_that_names_it(tmp_path):
    d = _copy_kb(tmp_path)
    _replace(
        d / "parameters.yaml",
        "diabetes.hba1c_target: {value: 48,",
        "diabetes.hba1c_target: {value: 53,",
    )
    kb = load_kb(d)
    assert "< 53 mmol/mol" in kb.recommendations["treat.glycaemic_optimisation"].text
    assert "(53 mmol/mol)" in kb.findings["cause.diabetes_suboptimal"].text
    assert kb.sentences["cause.diabetes_suboptimal"].endswith("preconception target of 53.")
    packaged = get_kb()
    assert "< 48 mmol/mol" in packaged.recommendations["treat.glycaemic_optimisation"].text


def test_a_patched_gestation_window_moves_finding_sentences(tmp_path):
    d = _copy_kb(tmp_path)
    _replace(
        d / "parameters.yaml",
        "cervix.history_end_days: {value: 238,",
        "cervix.history_end_days: {value: 245,",
    )
    kb = load_kb(d)
    s = kb.say("history.spontaneous_preterm_or_midtrimester_loss", caveat="")
    assert s.endswith("between 16+0 and 35+0.")


def test_say_names_a_missing_or_unexpected_slot():
    kb = get_kb()
    with pytest.raises(KeyError, match="missing slot"):
        kb.say("cause.lifestyle_bmi_low")
    with pytest.raises(KeyError, match="unexpected slot"):
        kb.say("current.pregnant", value=1)
    with pytest.raises(KeyError, match="no sentence"):
        kb.say("state.not_a_finding")


def test_every_sentence_code_asks_for_exists():
    kb = get_kb()
    asked: set[str] = set()
    for path in (ROOT / "src/rplcare").rglob("*.py"):
        asked |= set(re.findall(r'kb\.say\(\s*"([^"{}]+)"', path.read_text(encoding="utf-8")))
    assert len(asked) > 60
    assert sorted(asked - set(kb.sentences)) == []


def _raw_texts() -> list[tuple[str, str]]:
    """Every sentence as written in the YAML (before resolution)."""
    from rplcare.util import yamlio

    out: list[tuple[str, str]] = []
    for path in sorted(DATA_DIR.glob("*.yaml")):
        doc = yamlio.load(path.read_text(encoding="utf-8")) or {}
        for f in doc.get("findings", []):
            out.append((f"{path.name}:{f['id']}", f["text"]))
            out.extend((f"{path.name}:{f['id']}:{k}", v) for k, v in f.get("sentences", {}).items())
        for r in doc.get("recommendations", []):
            for key in ("title", "text", "patient_text"):
                out.append((f"{path.name}:{r['id']}.{key}", r[key]))
            for i, rule in enumerate(r["rules"]):
                for key in ("text", "patient_text"):
                    if rule.get(key):
                        out.append((f"{path.name}:{r['id']}.rules[{i}].{key}", rule[key]))
                for key, v in (rule.get("when_pregnant") or {}).items():
                    if key in ("text", "patient_text"):
                        out.append((f"{path.name}:{r['id']}.rules[{i}].when_pregnant.{key}", v))
        for rid, pop in (doc.get("populations") or {}).items():
            for key, v in ((pop or {}).get("when_pregnant") or {}).items():
                if key in ("text", "patient_text"):
                    out.append((f"{path.name}:{rid}.when_pregnant.{key}", v))
        for k, v in (doc.get("sentences") or {}).items():
            out.append((f"{path.name}:{k}", v))
    return out


def test_no_sentence_writes_a_gestational_age_or_a_parameter_value_with_its_unit():
    """GA literals ("16+0") and "<value> <unit>" of a parameter must be placeholders."""
    kb = get_kb()
    units = {"mm", "mmol/mol", "mIU/L", "kg/m2", "units/week", "mg/day"}
    literals = {
        f"{p.value:g} {p.unit}"
        for p in kb.parameters.values()
        if p.unit in units and isinstance(p.value, int | float)
    }
    bad = []
    for where, text in _raw_texts():
        if re.search(r"(?<![\d.])\d{1,2}\+\d(?!\d)", text):
            bad.append((where, text))
        bad.extend((where, lit) for lit in literals if lit in text)
    assert bad == []


def test_doses_are_structured_and_written_from_one_place():
    kb = get_kb()
    high = kb.doses["folic_acid_high"]
    assert (high.drug, high.dose, high.unit, high.route) == ("folic acid", 5, "mg", "oral")
    assert high.timing is not None and (high.timing.frequency, high.timing.period_unit) == (1, "d")
    assert kb.doses["aspirin_low_dose"].amount() == "75-100 mg"
    assert kb.doses["progesterone_vaginal_bleeding"].full() == "400 mg twice daily"
    for d in kb.doses.values():
        assert d.source in kb.sources and d.start and d.stop
        if d.stop_ga_param:
            assert d.stop_ga_param in kb.parameters
    rules = {r.text for r in kb.recommendations["treat.folic_acid"].rules}
    assert any("5 mg daily" in (t or "") for t in rules)
    assert "400 micrograms daily" in kb.recommendations["treat.folic_acid"].text


def test_a_patched_dose_changes_the_plan_text(tmp_path, examples_dir):
    d = _copy_kb(tmp_path)
    _replace(d / "doses.yaml", "    dose: 400\n    unit: mg\n", "    dose: 200\n    unit: mg\n")
    kb = load_kb(d)
    case = load_case(examples_dir / "bleeding-early-pregnancy.yaml", today=TODAY)
    a = assess(case, today=TODAY, kb=kb)
    rec = a.rec("treat.vaginal_progesterone_bleeding")
    assert "progesterone 200 mg twice daily" in rec.text
