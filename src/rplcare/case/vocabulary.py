"""The case vocabulary (tests, units, conditions, medications), read from vocabulary.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rplcare.util import yamlio

_PATH = Path(__file__).with_name("vocabulary.yaml")
# the terminology module and file, named without importing the module: a run that finds the
# vocabulary in the cache does not read the terminology (issue 12 §2)
_TERMINOLOGY = Path(__file__).parents[1] / "knowledge"
_TERMINOLOGY_FILES = (_TERMINOLOGY / "terminology.py", _TERMINOLOGY / "data" / "terminology.yaml")
QUALITATIVE = ("positive", "negative", "equivocal")


@dataclass(frozen=True)
class UnitFactor:
    """A unit's conversion to the test's canonical unit, with its source."""

    factor: float | str  # a number, or the name of an affine conversion (see convert())
    source: str


@dataclass(frozen=True)
class TestDef:
    """One laboratory test of the case vocabulary."""

    code: str
    meaning: str
    loinc: tuple[str, ...]
    kind: str  # quantity | qualitative | qualitative_or_quantity | karyotype | imaging | recorded
    canonical: str | None
    units: dict[str, UnitFactor]
    rejected_units: dict[str, str]
    bounds: tuple[float, float] | None
    needs_reference_high: bool
    qualitative_allowed: bool
    answers: tuple[str, ...] = ()  # qualitative words this test accepts (empty: the general ones)
    lab_range_units: dict[str, str] | None = None  # unit -> source: read against the lab's range


@dataclass(frozen=True)
class Vocabulary:
    """The case vocabulary: tests, units, medications, conditions."""

    version: str
    tests: dict[str, TestDef]
    by_loinc: dict[str, str]
    conditions: frozenset[str]
    medications: frozenset[str]
    medication_aliases: dict[str, str]
    medication_rejected: dict[str, str]
    progestogens: frozenset[str]
    qualitative_answers: dict[str, tuple[str, str | None]] | None = None  # word -> (means, LOINC)
    general_answers: tuple[str, ...] = ()

    def answers_for(self, test: TestDef) -> dict[str, str]:
        """Accepted qualitative words (and LOINC answer codes) of a test -> canonical meaning
        (positive | negative | equivocal)."""
        table = self.qualitative_answers or {}
        words = test.answers or self.general_answers
        out: dict[str, str] = {}
        for w in words:
            means, code = table[w]
            out[w] = means
            if code:
                out[code.lower()] = means
        return out


def _affine(name: str, value: float) -> float:
    if name == "ngsp_to_ifcc":
        # IFCC mmol/mol = (NGSP % - 2.15) x 10.929, reported as a whole number as NICE pairs
        # them (6.5 % = 48, 10 % = 86; unit-hba1c-nice)
        return float(round((value - 2.15) * 10.929))
    raise KeyError(name)


def convert(test: TestDef, value: float, unit: str) -> float:
    """Value in the test's canonical unit (caller has checked that `unit` is accepted)."""
    f = test.units[unit].factor
    return _affine(f, value) if isinstance(f, str) else value * f


@cache
def vocabulary() -> Vocabulary:
    """The case vocabulary, loaded once per process, and kept between runs in the user's
    cache under the hash of its file, the terminology's and the code (`rplcare.util.cache`)."""
    from rplcare.util.cache import cached, fingerprint

    files = [Path(__file__), _PATH, *_TERMINOLOGY_FILES, Path(yamlio.__file__)]
    return cached("vocabulary", fingerprint(files), _load_vocabulary, Vocabulary)


def _load_vocabulary() -> Vocabulary:
    from rplcare.knowledge.terminology import terminology

    raw: dict[str, Any] = yamlio.load(_PATH.read_text(encoding="utf-8"))
    term = terminology()  # the LOINC codes of each test: one terminology file
    tests: dict[str, TestDef] = {}
    for code, t in raw["tests"].items():
        tests[code] = TestDef(
            code=code,
            meaning=t["meaning"],
            loinc=term.loinc_codes(code),
            kind=t["kind"],
            canonical=t.get("canonical"),
            units={u: UnitFactor(f, s) for u, (f, s) in t.get("units", {}).items()},
            rejected_units=dict(t.get("rejected_units", {})),
            bounds=tuple(t["bounds"]) if "bounds" in t else None,
            needs_reference_high=bool(t.get("needs_reference_high", False)),
            qualitative_allowed=bool(t.get("qualitative_allowed", False)),
            answers=tuple(t.get("answers", ())),
            lab_range_units=dict(t.get("lab_range_units", {})),
        )
    by_loinc = {code: t.code for t in tests.values() for code in t.loinc}
    return Vocabulary(
        version=str(raw["version"]),
        tests=tests,
        by_loinc=by_loinc,
        conditions=frozenset(raw["conditions"]),
        medications=frozenset(raw["medications"]),
        medication_aliases=dict(raw["medication_aliases"]),
        medication_rejected=dict(raw["medication_rejected"]),
        progestogens=frozenset(raw["progestogens"]),
        qualitative_answers={
            w: (a["means"], a.get("loinc")) for w, a in raw["qualitative_answers"].items()
        },
        general_answers=tuple(raw["general_answers"]),
    )
