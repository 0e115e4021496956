"""Knowledge-base texts on the clinician pages in the reader's language (web/i18n.py), from
`rplcare.knowledge.translations`; English (the knowledge base's own language) passes through."""

from __future__ import annotations

from typing import Any

from rplcare.knowledge.translations import translator
from rplcare.web import i18n


def title(rid: Any, english: Any) -> Any:
    t = translator(i18n.current())
    return english if t is None else t.title(str(rid), english)


def text(english: Any) -> Any:
    t = translator(i18n.current())
    return english if t is None else t.text(english)


def finding(fid: Any) -> str | None:
    """The translated definition of a finding; None in English or when it has none."""
    t = translator(i18n.current())
    return None if t is None else t.finding(str(fid))


def any(english: Any) -> Any:  # the templates' `kb.any(...)`
    """A text of an assessment: a KB text or a computed sentence in the reader's language."""
    t = translator(i18n.current())
    return english if t is None else t.any(english)


def tree(value: Any) -> Any:
    """Every string of a nested part of an assessment (the pregnancy panel) translated."""
    t = translator(i18n.current())
    return value if t is None else t.tree(value)


def path_label(case: Any, path: str) -> str:
    """A case path in the reader's words (`results[5]` -> "result 6 (...)" / "检查结果 6 (...)")."""
    from rplcare.render.report import path_label as label

    return label(case, path, i18n.current())


def finding_line(f: Any) -> str:
    """A finding as the plan lists it: its computed sentence in the reader's language, else the
    translated definition with the English sentence (it carries the case's values) beside it."""
    english = str(f.get("text") or f.get("id"))
    t = translator(i18n.current())
    if t is None:
        return english
    said = t.sentence(english)
    if said:
        return said
    words = t.finding(str(f.get("id")))
    return f"{words}（{english}）" if words else english
