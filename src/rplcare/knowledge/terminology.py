"""The one terminology of rplcare (`knowledge/data/terminology.yaml`) and its matcher.

Used alike by the case vocabulary (LOINC codes of tests), FHIR import (what a coded or written
medication, test or pregnancy outcome is), FHIR export (which codes to write) and CDS
order-sign (what a draft order is). Matching is by code first; text is only a fallback, by
whole words, and the longest synonym wins, so a look-alike ("hepatitis B immune globulin",
"HLA-B27", "medroxyprogesterone") is never read as the item it resembles.

`python -m rplcare.knowledge.terminology --markdown` prints the code table of
docs/fhir-mapping.md (a test keeps the two in step).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from rplcare.util import yamlio

PATH = Path(__file__).parent / "data" / "terminology.yaml"
STATUSES = ("✅", "⚠️", "❓")


class TerminologyError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Code:
    """One code of a code system (`system` is the full URI)."""

    system: str  # the full URI
    code: str
    display: str
    status: str  # ✅ confirmed, ⚠️ secondary source, ❓ unverified
    checked: str = ""


@dataclass(frozen=True)
class Concept:
    """A vocabulary item (drug or test), an ingredient, or a look-alike (`why` set)."""

    id: str
    kind: Literal["drug", "test", "ingredient", "drug_look_alike", "test_look_alike"]
    codes: tuple[Code, ...] = ()
    synonyms: tuple[str, ...] = ()
    display: str = ""
    why: str = ""
    route: str | None = None
    max_dose_mg: float | None = None
    recorded_finding: str | None = None
    loinc: tuple[Code, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """What a coded or written concept is: an item, a look-alike, or nothing."""

    concept: Concept | None
    by: Literal["code", "text", "none"]
    matched: str = ""  # the code (system|code) or the synonym that matched

    @property
    def id(self) -> str | None:
        return self.concept.id if self.concept else None

    @property
    def look_alike(self) -> bool:
        return self.concept is not None and self.concept.kind.endswith("look_alike")


@dataclass(frozen=True)
class Outcome:
    """What a code means as a pregnancy outcome, or None with the reason why not."""

    code: Code
    outcome: str | None  # None: recognised, not an outcome (see why)
    trimester: str | None
    prefix: bool
    why: str = ""


_WORD = re.compile(r"[a-z0-9]")


def normalise(text: str) -> str:
    """Lower case, one space between words, hyphens and spaces alike."""
    return " ".join(text.lower().replace("\u2011", "-").split())


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in re.split(r"[\s\-]+", normalise(phrase)) if p]
    body = r"[\s\-]*".join(parts)
    lead = r"(?<![a-z0-9*:])" if _WORD.match(parts[0][0] if parts else "") else ""
    tail = r"(?![a-z0-9*])" if parts and _WORD.match(phrase.strip()[-1].lower()) else ""
    return re.compile(lead + body + tail)


class Terminology:
    def __init__(self, raw: dict[str, Any]):
        problems: list[str] = []
        self.version = str(raw.get("version", ""))
        self.systems: dict[str, str] = dict(raw["systems"])
        self.system_aliases: dict[str, str] = {
            k: self.systems[v] for k, v in (raw.get("system_aliases") or {}).items()
        }
        self.codes: list[Code] = []

        def code(d: Mapping[str, Any], where: str, system: str | None = None) -> Code:
            sysname = system or d.get("system")
            if sysname not in self.systems:
                problems.append(f"{where}: unknown system {sysname!r}")
                sysname = "loinc"
            if d.get("status") not in STATUSES:
                problems.append(f"{where}: status {d.get('status')!r} not one of {STATUSES}")
            c = Code(
                self.systems[sysname],
                str(d["code"]),
                str(d.get("display", "")),
                str(d.get("status", "❓")),
                str(d.get("checked", "")),
            )
            self.codes.append(c)
            return c

        self.concepts: dict[str, Concept] = {}

        def concept(cid: str, kind: Any, d: Mapping[str, Any]) -> Concept:
            where = f"{kind}.{cid}"
            c = Concept(
                id=cid,
                kind=kind,
                codes=tuple(code(x, f"{where}.codes") for x in d.get("codes") or []),
                synonyms=tuple(str(s) for s in d.get("synonyms") or []),
                display=str(d.get("display") or cid.replace("_", " ")),
                why=str(d.get("why", "")),
                route=d.get("route"),
                max_dose_mg=d.get("max_dose_mg"),
                recorded_finding=d.get("recorded_finding"),
                loinc=tuple(code(x, f"{where}.loinc", "loinc") for x in d.get("loinc") or []),
                extra={
                    k: v
                    for k, v in d.items()
                    if k
                    not in {
                        "codes",
                        "synonyms",
                        "display",
                        "why",
                        "route",
                        "max_dose_mg",
                        "recorded_finding",
                        "loinc",
                    }
                },
            )
            key = f"{kind}:{cid}"
            if key in self.concepts:
                problems.append(f"{where}: duplicate")
            self.concepts[key] = c
            return c

        self.drugs = {k: concept(k, "drug", v or {}) for k, v in raw["drugs"].items()}
        self.tests = {k: concept(k, "test", v or {}) for k, v in raw["tests"].items()}
        self.ingredients = {k: concept(k, "ingredient", v) for k, v in raw["ingredients"].items()}
        self.drug_look_alikes = {
            k: concept(k, "drug_look_alike", v) for k, v in raw["drug_look_alikes"].items()
        }
        self.test_look_alikes = {
            k: concept(k, "test_look_alike", v) for k, v in raw["test_look_alikes"].items()
        }
        for ing in self.ingredients.values():
            for route, drug in (ing.extra.get("by_route") or {}).items():
                if drug not in self.drugs:
                    problems.append(f"ingredients.{ing.id}.by_route.{route}: unknown drug {drug}")
        for d in self.drugs.values():
            ing_id = d.extra.get("ingredient")
            if ing_id is not None and ing_id not in self.ingredients:
                problems.append(f"drugs.{d.id}.ingredient: unknown ingredient {ing_id!r}")
        self.orders: dict[str, dict[str, str]] = dict(raw["orders"])
        for oid, o in self.orders.items():
            if "drug" in o and o["drug"] not in self.drugs:
                problems.append(f"orders.{oid}.drug: unknown drug {o['drug']!r}")
            if "test" in o and o["test"] not in self.tests:
                problems.append(f"orders.{oid}.test: unknown test {o['test']!r}")
        cds = raw.get("cds") or {}
        self.critical: frozenset[str] = frozenset(cds.get("critical") or [])
        self.request_tests: dict[str, list[str]] = dict(cds.get("request_tests") or {})
        for rid, tests in self.request_tests.items():
            for t in tests:
                if t not in self.tests or not self.tests[t].loinc:
                    problems.append(f"cds.request_tests.{rid}: {t!r} is not a test with LOINC")

        obs = raw["observations"]
        self.observations: dict[str, Code] = {
            k: code(v, f"observations.{k}") for k, v in obs.items()
        }
        self.smoking_values: dict[str, bool] = {
            str(k): bool(v) for k, v in raw["smoking_values"].items()
        }
        self.obstetric_counts: dict[str, tuple[Code, tuple[str, ...]]] = {
            str(k): (code(v["code"], f"obstetric_counts.{k}"), tuple(v["outcomes"]))
            for k, v in raw["obstetric_counts"].items()
        }
        self.other_counts: frozenset[str] = frozenset(str(x) for x in raw["other_counts"])
        self.qualitative_values: dict[str, Code] = {
            k: code(v, f"qualitative_values.{k}") for k, v in raw["qualitative_values"].items()
        }
        self.conditions: dict[str, list[Code]] = {
            k: [code(x, f"conditions.{k}") for x in v or []] for k, v in raw["conditions"].items()
        }
        self.history_conditions = frozenset(raw["history_conditions"])
        self.derived_conditions: dict[str, str] = dict(raw["derived_conditions"])
        self.routes: dict[str, Code] = {k: code(v, f"routes.{k}") for k, v in raw["routes"].items()}
        self.ucum: dict[str, str] = dict(raw["ucum"])

        def outcome(d: Mapping[str, Any], where: str, counted: bool) -> list[Outcome]:
            systems = ["icd10", "icd10cm"] if d["system"] == "icd" else [d["system"]]
            out = []
            for s in systems:
                c = code(d, where, s)
                out.append(
                    Outcome(
                        c,
                        d.get("outcome") if counted else None,
                        d.get("trimester"),
                        bool(d.get("prefix")),
                        str(d.get("why", "")),
                    )
                )
            return out

        self.outcomes: list[Outcome] = []
        for i, d in enumerate(raw["outcomes"]):
            self.outcomes += outcome(d, f"outcomes[{i}]", True)
        for i, d in enumerate(raw["not_an_outcome"]):
            self.outcomes += outcome(d, f"not_an_outcome[{i}]", False)
        self.pregnancy_episode = [
            code(d, f"pregnancy_episode[{i}]") for i, d in enumerate(raw["pregnancy_episode"])
        ]
        self.gestational_age = [
            code(d, f"gestational_age[{i}]") for i, d in enumerate(raw["gestational_age"])
        ]
        self.pregnancy_tests = [
            code(d, f"pregnancy_tests[{i}]") for i, d in enumerate(raw["pregnancy_tests"])
        ]
        self.answer_codes: dict[str, str] = dict(raw["answer_codes"])

        # indexes
        self._by_code: dict[tuple[str, str], list[Concept]] = {}
        for c in self.concepts.values():
            for k in c.codes:
                self._by_code.setdefault((k.system, k.code), []).append(c)
        self._phrase_rows: dict[str, list[tuple[re.Pattern[str], int, Concept]]] | None = None
        if problems:
            raise TerminologyError(problems)

    @property
    def _phrases(self) -> dict[str, list[tuple[re.Pattern[str], int, Concept]]]:
        """The synonym patterns of the text matcher, compiled at its first use (most runs
        never match text; compiling them was most of loading the terminology)."""
        if self._phrase_rows is None:
            rows: dict[str, list[tuple[re.Pattern[str], int, Concept]]] = {}
            for group, kinds in (
                ("drug", ("drug", "ingredient", "drug_look_alike")),
                ("test", ("test", "test_look_alike")),
            ):
                rows[group] = [
                    (_phrase_pattern(s), len(normalise(s)), c)
                    for c in self.concepts.values()
                    if c.kind in kinds
                    for s in c.synonyms
                ]
            self._phrase_rows = rows
        return self._phrase_rows

    def __getstate__(self) -> dict[str, Any]:
        # kept without the compiled patterns: unpickling recompiles every one of them
        return {**self.__dict__, "_phrase_rows": None}

    # ------------------------------------------------------------------ lookups

    def system(self, uri: Any) -> str | None:
        """The canonical URI of a system (LOINC written as its OID is LOINC)."""
        if not isinstance(uri, str):
            return None
        return self.system_aliases.get(uri, uri)

    def loinc_codes(self, test: str) -> tuple[str, ...]:
        t = self.tests.get(test)
        return tuple(c.code for c in t.loinc) if t else ()

    def by_loinc(self) -> dict[str, str]:
        return {c.code: t.id for t in self.tests.values() for c in t.loinc}

    def loinc_display(self) -> dict[str, Code]:
        return {c.code: c for t in self.tests.values() for c in t.loinc}

    def recorded_findings(self) -> dict[str, str]:
        """Vocabulary item (drug or test) -> the `recorded.*` finding it makes."""
        return {
            c.id: c.recorded_finding
            for c in (*self.drugs.values(), *self.tests.values())
            if c.recorded_finding
        }

    def order_recommendation(self, item: str) -> str | None:
        o = self.orders.get(item)
        return o["recommendation"] if o else None

    def outcome_of(self, codings: Iterable[tuple[str, str]]) -> Outcome | None:
        """The outcome row of the first coding that names one (ICD prefixes match sub-codes)."""
        for system, value in codings:
            for o in self.outcomes:
                if o.code.system != system:
                    continue
                if value == o.code.code or (
                    o.prefix and value.startswith(o.code.code) and len(value) > len(o.code.code)
                ):
                    return o
        return None

    # ------------------------------------------------------------------ matcher

    def match(
        self, codings: Iterable[tuple[str, str]], text: str, group: Literal["drug", "test"]
    ) -> Match:
        """What a concept is: by code first, else by the longest whole-word synonym in `text`."""
        kinds = (
            ("drug", "ingredient", "drug_look_alike")
            if group == "drug"
            else ("test", "test_look_alike")
        )
        for system, value in codings:
            canon = self.system(system) or ""
            for c in self._by_code.get((canon, value), []):
                if c.kind in kinds:
                    return Match(c, "code", f"{canon}|{value}")
        norm = normalise(text)
        best: tuple[int, Concept, str] | None = None
        if norm:
            for pattern, length, c in self._phrases[group]:
                m = pattern.search(norm)
                if m and (best is None or length > best[0]):
                    best = (length, c, m.group(0))
        if best is not None:
            return Match(best[1], "text", best[2])
        return Match(None, "none")


@cache
def terminology() -> Terminology:
    """The packaged terminology, loaded once per process, and kept between runs in the user's
    cache under the hash of the file and of this module (`rplcare.util.cache`)."""
    from rplcare.util.cache import cached, fingerprint

    key = fingerprint([Path(__file__), Path(yamlio.__file__), PATH])
    return cached("terminology", key, lambda: load_terminology(PATH), Terminology)


def load_terminology(path: Path | str = PATH) -> Terminology:
    raw = yamlio.load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise TerminologyError([f"{path}: not a mapping"])
    try:
        return Terminology(raw)
    except KeyError as exc:
        raise TerminologyError([f"{path}: missing key {exc}"]) from None


_SYSTEM_NAMES = {
    "http://loinc.org": "LOINC",
    "http://snomed.info/sct": "SNOMED CT",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://www.whocc.no/atc": "ATC",
}


def markdown_table(t: Terminology | None = None) -> str:
    """The code table of docs/fhir-mapping.md, generated from the terminology file."""
    t = t or terminology()
    seen: dict[tuple[str, str], Code] = {}
    for c in t.codes:
        seen.setdefault((c.system, c.code), c)
    rows = sorted(seen.values(), key=lambda c: (_SYSTEM_NAMES.get(c.system, c.system), c.code))
    lines = ["| system | code | display | status | checked in |", "|---|---|---|---|---|"]
    for c in rows:
        disp = c.display.replace("|", "\\|")
        sysname = _SYSTEM_NAMES.get(c.system, c.system)
        lines.append(f"| {sysname} | `{c.code}` | {disp} | {c.status} | {c.checked} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - a docs helper
    if "--markdown" in sys.argv:
        sys.stdout.write(markdown_table())
