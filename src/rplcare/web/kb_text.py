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
