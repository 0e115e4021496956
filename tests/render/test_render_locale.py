"""The Babel catalogs: complete, placeholders kept, and the committed .mo files up to date."""

from __future__ import annotations

import re

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from rplcare.render.report import LOCALE_DIR

PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")


def _po(lang: str):
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def _strings(message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, tuple | list) else (message.string,)


def _ids(message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, tuple | list) else (message.id,)


def test_chinese_catalog_is_complete_and_keeps_placeholders():
    with (LOCALE_DIR / "messages.pot").open("rb") as fh:
        pot = read_po(fh)
    zh = _po("zh_Hans")
    assert zh.plural_forms == "nplurals=1; plural=0;"
    template_ids = {m.id for m in pot if m.id}
    assert template_ids == {m.id for m in zh if m.id}
    for m in zh:
        if not m.id:
            continue
        assert not m.fuzzy, m.id
        assert all(_strings(m)), f"untranslated: {m.id!r}"
        want = sorted(PLACEHOLDER.findall(_ids(m)[0]))
        for s in _strings(m):
            assert sorted(PLACEHOLDER.findall(s)) == want, m.id


@pytest.mark.parametrize("lang", ["en", "zh_Hans"])
def test_compiled_catalog_matches_the_po(lang):
    po = _po(lang)
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)
    translated = {_ids(m): _strings(m) for m in po if m.id and all(_strings(m))}
    compiled = {_ids(m): _strings(m) for m in mo if m.id}
    assert compiled == translated, "run: cd src/rplcare/render && pybabel compile -d locale"


def test_templates_strings_are_all_in_the_template_catalog():
    """Every _("...") in the templates was extracted (catches a forgotten `pybabel extract`)."""
    with (LOCALE_DIR / "messages.pot").open("rb") as fh:
        ids = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    templates = LOCALE_DIR.parent / "templates"
    found = set()
    for path in templates.glob("*.html"):
        found |= set(re.findall(r'_\("((?:[^"\\]|\\.)*)"', path.read_text("utf-8")))
        found |= set(re.findall(r"_\('((?:[^'\\]|\\.)*)'", path.read_text("utf-8")))
    assert found and found <= ids, sorted(found - ids)
