"""The knowledge base and the code agree, and every rule is exercised by a named test."""

from __future__ import annotations

import re
from pathlib import Path

from rplcare.knowledge import get_kb
from rplcare.reasoning import rules

ROOT = Path(__file__).resolve().parents[2]


def test_every_finding_id_code_can_emit_is_declared_in_the_knowledge_base():
    src = "\n".join(
        (ROOT / "src/rplcare/reasoning" / f).read_text(encoding="utf-8")
        for f in ("rules.py", "rules_safety.py")
    )
    literal = set(re.findall(r'fs\.add\(\s*"([a-z]+\.[a-z0-9_]+)"', src))
    mapped = set(rules.NOT_ROUTINE_RECORDED.values()) | set(rules.RECORDED_TREATMENTS.values())
    mapping_values = set(re.findall(r"\"(cause\.[a-z_]*[a-z])\"", src))
    from_parameters = set(get_kb().param("anatomy.imaging_findings").values())
    emitted = literal | mapped | mapping_values | from_parameters
    assert len(emitted) > 60
    assert sorted(emitted - set(get_kb().findings)) == []


def test_every_recommendation_id_is_named_in_a_test():
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    missing = [rid for rid in get_kb().recommendations if rid not in text]
    assert missing == []


def test_every_declared_finding_is_used_by_a_rule_or_emitted():
    kb = get_kb()
    used = {n for r in kb.recommendations.values() for rule in r.rules for n in rule.when.names()}
    src = "\n".join(
        (ROOT / "src/rplcare/reasoning" / f).read_text(encoding="utf-8")
        for f in ("rules.py", "rules_safety.py")
    )
    orphans = [
        f
        for f in kb.findings
        if f not in used
        and f not in src
        and f not in rules.NOT_ROUTINE_RECORDED.values()
        and f not in rules.RECORDED_TREATMENTS.values()
    ]
    assert orphans == []
