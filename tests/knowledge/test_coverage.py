"""The knowledge base and the code agree, and every rule is exercised by a named test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from rplcare.knowledge import get_kb
from rplcare.reasoning import rules

ROOT = Path(__file__).resolve().parents[2]
STATUSES = {"recommended", "conditional", "not_recommended"}


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


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _checks_status(node: ast.AST, status_names: set[str]) -> bool:
    """An assert on a status: it names a status value, or a test parameter whose values are
    statuses (`expected` of a parametrize table holding "recommended" ...). A membership test
    alone (`"treat.x" in ids`, `... not in statuses(a)`) checks presence, not the status."""
    return bool(_strings(node) & STATUSES) or bool(_names(node) & status_names)


def status_asserted_ids(tree: ast.AST, ids: set[str]) -> set[str]:
    """Recommendation ids whose status some `assert` checks.

    An id counts when it appears in an assert that checks a status, or reaches one through a
    loop variable (`for rid in (...)`), a local variable (`rec = a.rec("id")`) or a
    `pytest.mark.parametrize` argument the function asserts on.
    """
    found: set[str] = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        via: dict[str, set[str]] = {}
        status_names: set[str] = set()
        for deco in fn.decorator_list:
            if isinstance(deco, ast.Call) and "parametrize" in ast.unparse(deco.func):
                for arg in fn.args.args:
                    via[arg.arg] = via.get(arg.arg, set()) | (_strings(deco) & ids)
                    if _strings(deco) & STATUSES:
                        status_names.add(arg.arg)
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    reached = _strings(node.value) & ids
                    for used in _names(node.value):
                        reached |= via.get(used, set())
                    for name in _names(t):
                        via[name] = via.get(name, set()) | reached
            if isinstance(node, ast.For):
                for name in _names(node.target):
                    via[name] = via.get(name, set()) | (_strings(node.iter) & ids)
        for node in ast.walk(fn):
            if isinstance(node, ast.Assert) and _checks_status(node, status_names):
                found |= _strings(node) & ids
                for name in _names(node):
                    found |= via.get(name, set())
    return found


def test_every_recommendation_has_a_test_that_asserts_its_status():
    ids = set(get_kb().recommendations)
    covered: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        covered |= status_asserted_ids(ast.parse(path.read_text(encoding="utf-8")), ids)
    assert sorted(ids - covered) == []


def test_the_coverage_counter_ignores_a_mere_mention():
    ids = {"test.x", "test.y", "test.z"}
    tree = ast.parse(
        "def test_a():\n"
        "    listed = ['test.x']\n"
        "    assert len(listed) == 1\n"
        "def test_b(s):\n"
        "    assert s['test.y'] == 'recommended'\n"
        "def test_c(a):\n"
        "    rec = a.rec('test.z')\n"
        "    assert rec.status == 'conditional'\n"
        "@pytest.mark.parametrize('rid', ['test.x'])\n"
        "def test_d(rid):\n"
        "    assert rid.startswith('test')\n"
        "def test_e(a):\n"
        "    assert 'test.x' in statuses(a) and 'test.x' not in a.ids\n"
    )
    assert status_asserted_ids(tree, ids) == {"test.y", "test.z"}


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
