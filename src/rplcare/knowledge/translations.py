"""Knowledge-base texts for clinicians in another language (issue 11 §6): Simplified Chinese.

The translations sit beside the knowledge base, in `data/zh_Hans/clinician.yaml` (a folder
the loader does not read, so they are not part of the content hash: a translation changes no
assessment). One entry per finding (its `text`) and per recommendation (`title`, `text`, the
`text` of each rule that has its own, `when_pregnant.text` of rules and of the
recommendation's population), written with the same `{param:...}` / `{dose:...}` placeholders
as the English, which are resolved here exactly as the loader resolves the English.

An assessment holds the English texts; `Translator` maps each back to its translation (the
English resolved text is the key), and leaves a text it does not know as it is. Computed
sentences (finding sentences and the calculators' `sentences*.yaml`, with the case's values in
their `{slots}`) are translated in `sentences:` by key: the English template is matched as a
pattern, and its values are carried into the translation; a finding whose sentence has no
translation shows its translated definition with the English sentence beside it. Patient texts
are translated for the handout in `render/locale/zh_Hans/recommendations.yaml`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from rplcare.knowledge import templates
from rplcare.knowledge.loader import DATA_DIR, KnowledgeBase

#: public language code -> folder under knowledge/data
LANG_DIRS: dict[str, str] = {"zh": "zh_Hans"}
FILE = "clinician.yaml"
# the note the engine appends to a text whose source wording is not verified
_UNVERIFIED = re.compile(r"^(?P<text>.*) \(source wording not verified: (?P<ids>[^()]*)\)$", re.S)
UNVERIFIED_WORDS: dict[str, str] = {"zh": "（来源原文未核实：{ids}）"}


def translation_file(lang: str, data_dir: Path = DATA_DIR) -> Path:
    return data_dir / LANG_DIRS[lang] / FILE


def read_translations(lang: str, data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """The raw translation file of a language (placeholders unresolved)."""
    from rplcare.util import yamlio

    with translation_file(lang, data_dir).open(encoding="utf-8") as fh:
        data = yamlio.load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{translation_file(lang, data_dir)}: top level must be a mapping")
    return data


def _indexed(raw: Any) -> dict[int, str]:
    return {int(k): str(v) for k, v in (raw or {}).items()}


def clinician_texts(kb: KnowledgeBase) -> Iterator[tuple[str, str, str | None]]:
    """Every clinician text of the knowledge base: (kind, id, resolved English), kind one of
    finding, title, text, rule.N, when_pregnant.N, population."""
    for fid, f in kb.findings.items():
        yield "finding", fid, f.text
    for rid, rec in kb.recommendations.items():
        yield "title", rid, rec.title
        yield "text", rid, rec.text
        for i, rule in enumerate(rec.rules):
            if rule.text:
                yield f"rule.{i}", rid, rule.text
            if rule.when_pregnant is not None and rule.when_pregnant.text:
                yield f"when_pregnant.{i}", rid, rule.when_pregnant.text
        pop = rec.population
        if pop is not None and pop.when_pregnant is not None and pop.when_pregnant.text:
            yield "population", rid, pop.when_pregnant.text


def raw_translation(data: Mapping[str, Any], kind: str, ident: str) -> str | None:
    """The translation (placeholders unresolved) of one clinician text, None when missing."""
    if kind == "finding":
        value = (data.get("findings") or {}).get(ident)
        return None if value is None else str(value)
    entry = (data.get("recommendations") or {}).get(ident) or {}
    if kind in ("title", "text"):
        value = entry.get(kind)
    elif kind == "population":
        value = entry.get("population_when_pregnant")
    else:
        part, _, index = kind.partition(".")
        value = _indexed(entry.get("rules" if part == "rule" else "when_pregnant")).get(int(index))
    return None if value is None else str(value)


_SEPARATORS = (("; ", "；"), (", ", "、"), (" and ", "和"))


def sentence_pattern(english: str) -> re.Pattern[str] | None:
    """A regular expression matching the sentence with its runtime slots filled in, capturing
    each slot by name; None for a template that is only slots (it would match anything)."""
    parts, seen, pos, literal = [], set(), 0, 0
    for m in templates.SLOT.finditer(english):
        text = english[pos : m.start()]
        literal += len(text.strip())
        parts.append(re.escape(text))
        name = m[1]
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        pos = m.end()
    literal += len(english[pos:].strip())
    parts.append(re.escape(english[pos:]))
    return re.compile("^" + "".join(parts) + "$", re.S) if literal >= 3 else None


def _fill(template: str, values: Mapping[str, str]) -> str:
    return templates.SLOT.sub(lambda s: values.get(s[1], s[0]), template)


@dataclass
class Translator:
    """English clinician texts of the knowledge base -> one language's texts."""

    lang: str
    by_english: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    findings: dict[str, str] = field(default_factory=dict)
    # computed sentences (finding sentences, calculator sentences): (pattern, translation)
    sentences: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    words: dict[str, str] = field(default_factory=dict)  # record values filled into sentences
    _seen: dict[str, str | None] = field(default_factory=dict)

    def sentence(self, english: str | None) -> str | None:
        """A computed sentence of an assessment in this language, its values carried over
        (a slot's value is translated too when it is itself a known sentence or a list of
        them); None when no translated template matches."""
        if not english:
            return None
        if english in self._seen:
            return self._seen[english]
        out = None
        for pattern, zh in self.sentences:
            m = pattern.match(english)
            if m:
                out = _fill(zh, {k: self._value(v) for k, v in m.groupdict().items()})
                break
        self._seen[english] = out
        return out

    def _one(self, value: str) -> str | None:
        """A slot's value: a sentence (also one the caller cut its full stop from), a KB text
        or a word of the record (`words:`); None when unknown."""
        said = self.sentence(value)
        if said is None and not value.endswith("."):
            stopped = self.sentence(value + ".")
            said = stopped.rstrip("。.") if stopped else None
        return said or self.by_english.get(value) or self.words.get(value)

    def _value(self, value: str) -> str:
        """A slot's value translated: a list joined by "; " part by part first (its parts are
        sentences), else as a whole, else a list joined by ", " or " and "."""
        for n, (sep, joiner) in enumerate(_SEPARATORS):
            if n == 1:
                whole = self._one(value)
                if whole:
                    return whole
            parts = value.split(sep)
            if len(parts) > 1:
                done = [self._one(p) for p in parts]
                if all(done):
                    return joiner.join(str(d) for d in done)
        return self._one(value) or value

    def any(self, english: Any) -> Any:
        """Any text of an assessment: a KB text, else a computed sentence, else as it is."""
        if not isinstance(english, str) or not english:
            return english
        known = self.text(english)
        if known != english:
            return known
        return self.sentence(english) or english

    def tree(self, value: Any) -> Any:
        """Every string in a nested structure (the pregnancy panel, warnings) translated."""
        if isinstance(value, Mapping):
            return {k: self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return self.any(value)

    def text(self, english: str | None) -> str | None:
        """A recommendation text of an assessment (the unverified note translated too)."""
        if not english:
            return english
        if english in self.by_english:
            return self.by_english[english]
        m = _UNVERIFIED.match(english)
        if m and m["text"] in self.by_english:
            note = UNVERIFIED_WORDS.get(self.lang, " (source wording not verified: {ids})")
            return self.by_english[m["text"]] + note.format(ids=m["ids"])
        return english

    def title(self, rid: str, english: str | None) -> str | None:
        return self.titles.get(rid, english)

    def finding(self, fid: str) -> str | None:
        """The translated definition of a finding (its KB `text`), None when not translated."""
        return self.findings.get(fid)


def dose_words(d: Any) -> tuple[str, ...]:
    """The words of a structured dose a sentence writes (unit, frequency, or its dose text)."""
    return tuple(w for w in (d.unit_text, d.frequency_text, d.dose_text) if w)


def _resolver(kb: KnowledgeBase, words: Mapping[str, str] | None = None) -> Any:
    """Resolves `{param:...}` as the loader does; `{dose:...}` with the dose's own numbers and
    its words (unit, frequency) from `words` (the translation's `dose_words:`)."""

    def shown(name: str, style: str | None) -> str:
        return kb.shown(name, style)

    def dose(did: str, style: str | None) -> str:
        d = kb.doses[did]
        if not words:
            return d.amount() if style == "amount" else d.full()
        if d.dose is None:
            amount = words.get(d.dose_text or "", d.amount())
        else:
            n = f"{d.dose:g}" + (f"-{d.dose_high:g}" if d.dose_high is not None else "")
            unit = d.unit_text or d.unit
            amount = f"{n} {words.get(unit, unit)}" if unit else n
        if style == "amount":
            return amount
        return f"{amount} {words.get(d.frequency_text, d.frequency_text)}".strip()

    return lambda text: templates.resolve(text, shown, dose)


@cache
def translator(lang: str) -> Translator | None:
    """The translator of a language, None for English (the knowledge base's own language)."""
    from rplcare.knowledge import get_kb

    if lang not in LANG_DIRS:
        return None
    kb = get_kb()
    data = read_translations(lang)
    resolve = _resolver(kb, {str(k): str(v) for k, v in (data.get("dose_words") or {}).items()})
    out = Translator(lang)
    for kind, ident, english in clinician_texts(kb):
        raw = raw_translation(data, kind, ident)
        if raw is None or english is None:
            continue
        text = resolve(raw)
        if kind == "finding":
            out.findings[ident] = text
            continue
        if kind == "title":
            out.titles[ident] = text
        out.by_english.setdefault(english, text)
    out.words = {str(k): str(v) for k, v in (data.get("words") or {}).items()}
    pairs = []
    for key, zh in (data.get("sentences") or {}).items():
        english = kb.sentences.get(str(key))
        pattern = sentence_pattern(english) if english else None
        if pattern is not None:
            pairs.append((len(english or ""), pattern, resolve(str(zh))))
    # the most specific (longest) template first
    out.sentences = [(p, zh) for _, p, zh in sorted(pairs, key=lambda x: -x[0])]
    return out
