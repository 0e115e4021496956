"""Rule: every field of the case model is documented, either in the shared case-format spec
(shared/spec/case-format.md, its YAML block) or in docs/case-format-extensions.md (its field
tables), and every condition and medication word likewise; the extensions file names nothing
the model does not have. So the spec and the model cannot drift apart silently.

The markdown is parsed for names here, by hand, and the model is walked through its pydantic
fields: neither list is written from the other."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from rplcare.case.model import Case
from rplcare.case.vocabulary import vocabulary

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "spec" / "case-format.md"
EXTENSIONS = ROOT / "docs" / "case-format-extensions.md"
needs_spec = pytest.mark.skipif(not SPEC.exists(), reason="shared/spec not beside the repo")

_KEY = re.compile(r"^(-\s+)?([a-z_][a-z0-9_]*):")
_COMMENT_KEY = re.compile(r"\bor\s+([a-z_][a-z0-9_]*):")  # "# or age_years: 37"


def spec_paths(text: str) -> set[str]:
    """Field paths of the spec's YAML example: nesting from the indentation, `[]` under a list,
    and alternatives named in a line's comment ("or year: 2023") as siblings of its key."""
    block = text.split("```yaml", 1)[1].split("```", 1)[0]
    paths: set[str] = set()
    stack: list[tuple[int, str, bool]] = [(-1, "", False)]  # (indent, path, children in a list)
    for raw in block.splitlines():
        code, _, comment = raw.partition("#")
        if not code.strip():
            continue
        indent = len(code) - len(code.lstrip())
        m = _KEY.match(code.strip())
        if m is None:
            continue
        if m.group(1):  # "- key:" opens a list item; the key sits after the dash
            indent += len(m.group(1))
        while stack[-1][0] >= indent:
            stack.pop()
        parent_indent, parent, in_list = stack[-1]
        if m.group(1) and not in_list:
            stack[-1] = (parent_indent, parent, True)
            in_list = True
        base = f"{parent}[]." if in_list else (f"{parent}." if parent else "")
        for key in [m.group(2), *_COMMENT_KEY.findall(comment)]:
            paths.add(base + key)
        stack.append((indent, base + m.group(2), False))
    return paths


def _section(text: str, heading: str) -> str:
    """The text under a markdown heading, up to the next heading of the same or higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n") + len(heading) + 1
    stop = re.compile(rf"^#{{1,{len(level)}}} ", re.M).search(text, start)
    return text[start : stop.start() if stop else len(text)]


def table_names(text: str) -> set[str]:
    """The backticked names in the first column of the markdown tables of `text`."""
    return set(re.findall(r"^\|\s*`([^`]+)`\s*\|", text, re.M))


def model_paths(model: type[BaseModel] = Case, prefix: str = "") -> Iterator[str]:
    """Every field path of the case model, nested models and lists of them included."""
    for name, field in model.model_fields.items():
        path = prefix + name
        yield path
        ann = field.annotation
        parts = [ann, *typing.get_args(ann)]
        is_list = any(typing.get_origin(a) is list for a in parts)
        for a in parts + [x for p in parts for x in typing.get_args(p)]:
            if isinstance(a, type) and issubclass(a, BaseModel):
                yield from model_paths(a, path + ("[]." if is_list else "."))
                break


def test_the_spec_parser_reads_nesting_lists_and_alternatives():
    text = (
        "```yaml\nid: x\npatient:\n  birth_date: 1989-04-02  # or age_years: 37\n"
        "pregnancies:\n  - outcome: miscarriage\n    ga: 8\ncurrent_pregnancy:\n  scans:\n"
        "    - date: 2026-11-10\n      crl_mm: 3\n```\n"
    )
    assert spec_paths(text) == {
        "id",
        "patient",
        "patient.birth_date",
        "patient.age_years",
        "pregnancies",
        "pregnancies[].outcome",
        "pregnancies[].ga",
        "current_pregnancy",
        "current_pregnancy.scans",
        "current_pregnancy.scans[].date",
        "current_pregnancy.scans[].crl_mm",
    }


@needs_spec
def test_every_model_field_is_in_the_spec_or_the_extensions():
    documented = spec_paths(SPEC.read_text(encoding="utf-8"))
    extended = table_names(_section(EXTENSIONS.read_text(encoding="utf-8"), "## Fields"))
    missing = [p for p in model_paths() if p not in documented | extended]
    assert not missing, f"document these in {EXTENSIONS.name}: {missing}"


@needs_spec
def test_the_extensions_name_only_fields_the_spec_lacks_and_the_model_has():
    documented = spec_paths(SPEC.read_text(encoding="utf-8"))
    extended = table_names(_section(EXTENSIONS.read_text(encoding="utf-8"), "## Fields"))
    fields = set(model_paths())
    assert not extended - fields, f"not fields of the model: {sorted(extended - fields)}"
    # the two restated from the spec's prose ("Any result may carry ...") are the only overlap
    text = SPEC.read_text(encoding="utf-8")
    assert "`reference_low` / `reference_high`" in text
    assert extended & documented == set()


@needs_spec
@pytest.mark.parametrize(
    ("words", "spec_heading", "ext_heading"),
    [
        ("conditions", "## Condition vocabulary", "### Condition words"),
        ("medications", "## Medication vocabulary", "### Medication words"),
    ],
)
def test_every_vocabulary_word_is_in_the_spec_or_the_extensions(words, spec_heading, ext_heading):
    spec = set(
        re.findall(r"`([a-z0-9_]+)`", _section(SPEC.read_text(encoding="utf-8"), spec_heading))
    )
    ext = table_names(_section(EXTENSIONS.read_text(encoding="utf-8"), ext_heading))
    known = set(getattr(vocabulary(), words))
    assert not known - spec - ext, f"document in {EXTENSIONS.name}: {sorted(known - spec - ext)}"
    assert not ext - known, f"not {words} of the vocabulary: {sorted(ext - known)}"
    assert not ext & spec, f"already in the shared spec: {sorted(ext & spec)}"
