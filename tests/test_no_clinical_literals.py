"""No clinical number or clinical sentence in the code of the engine and its faces (issue 8 §1).

Rule checked: thresholds and sentences live in the knowledge base (knowledge/data/*.yaml);
`reasoning/`, `pregnancy/`, `prognosis/`, `interop/` and `render/` hold only units, indices and
formatting. The scan reads every module's syntax tree:

- a numeric literal other than 0 and 1 must be in NUMBERS (file, value, why: a unit
  conversion, a formatting width, a protocol constant), or it fails;
- a string of four or more words that uses clinical vocabulary must not appear outside
  docstrings, exception messages and `Literal[...]` types, except the counts in SENTENCES,
  each with the reason it is still in code (these counts may only go down).

Rows marked as debt (KNOWN_CLINICAL, interop sentence counts) name where each belongs.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "rplcare"
FOLDERS = ("reasoning", "pregnancy", "prognosis", "interop", "render")
CLINICAL = re.compile(
    r"pregnan|miscarr|\bloss|scan\b|hcg|progest|antibod|thyroid|\btsh\b|week|gestation|"
    r"ectopic|heartbeat|embryo|luteal|cervi|aspirin|heparin|folic|\bdose|bleed|diagnos|"
    r"recommend|guideline|\bnice\b|rcog|eshre|trial",
    re.I,
)

# (file under src/rplcare, value) -> why the number is not clinical
NUMBERS: dict[tuple[str, float], str] = {
    ("reasoning/aps.py", 2): "ISCN string index: fields after the sex chromosomes",
    ("reasoning/aps.py", 365.25): "days per year (unit)",
    ("reasoning/assess.py", 2): "JSON indent",
    ("interop/fhir/export.py", 2): "JSON indent",
    ("reasoning/assess.py", 3): "default fold minimum, set from the KB that made the assessment",
    ("pregnancy/dating.py", 2): "round() digits",
    ("pregnancy/gestation.py", 7): "days per week (the W+D notation)",
    ("pregnancy/gestation.py", 2): "regex group index",
    ("pregnancy/hcg.py", 1e-06): "floating-point tolerance in percentage points",
    ("pregnancy/hcg.py", 3600): "seconds per hour (unit)",
    ("pregnancy/hcg.py", 100): "percent (unit)",
    ("pregnancy/hcg.py", 24): "hours per day (unit)",
    ("pregnancy/hcg.py", 2): "log(2) for doubling time / half-life",
    ("prognosis/brigham.py", 100): "percent (unit)",
}

# the faces: protocol limits, layout and units, one reason per file
FACES: dict[str, tuple[tuple[float, ...], str]] = {
    "reasoning/actions.py": (
        (2, 3),
        "sort-key arithmetic (rank weights); default of the fold minimum, overridden by the KB's "
        "actions.fold_not_recommended_min",
    ),
    "reasoning/rules_safety.py": (
        (2, 46),
        "regex group index / ISCN field index; 46 = the normal human chromosome count (ISCN)",
    ),
    "interop/cds/app.py": (
        (5, 5.0, 10, 600),
        "fetch timeout (s) and page bound, error-path list truncation, CORS max-age (s)",
    ),
    "interop/cds/auth.py": (
        (5.0, 30.0, 60.0, 77, 80, 512, 2048, 3600.0, 16384, 65536, 100000),
        "security limits: key sizes, cache sizes, JWKS size cap (bytes), clock skew and "
        "lifetimes (s), text truncation",
    ),
    "interop/cds/cards.py": (
        (3, 20, 80, 119, 120, 50000),
        "CDS Hooks text lengths, links per card, items listed, feedback cache size",
    ),
    "interop/cds/fetch.py": ((100, 200, 404), "FHIR search page size, HTTP status codes"),
    "interop/cds/smart.py": (
        (5, 5.0, 24, 48, 200, 302, 600.0, 1000),
        "fetch timeout (s) and page bound, state/verifier random bytes, HTTP status codes, "
        "pending-launch TTL (s) and bound",
    ),
    "interop/cds/models.py": ((139,), "CDS Hooks 2.0 card summary length limit"),
    "interop/cds/orders.py": ((7, 10, 30), "UCUM factors 7 d/wk, 30 d/mo; ISO-date length"),
    "interop/commands.py": ((2, 100), "exit code (ExitCode.INVALID_INPUT), YAML line width"),
    "interop/fhir/export.py": ((250,), "FHIR display length"),
    "interop/fhir/importer.py": ((50, 60, 64), "problems listed, text shown, resource-type length"),
    "interop/fhir/jsonutil.py": ((7, 8, 55, 64), "weeks to days (7); id and hash lengths"),
    "interop/fhir/read.py": (
        (2, 3, 4, 5, 6, 9, 10, 64, 1000),
        "outcome ranking order (2-6, 9 = unranked), reading rounds, ISO-date and ICD-10 category "
        "lengths (10, 4, 3), reference path parts (2), unit factor (x1000), longest valueString "
        "read as a number (64 characters)",
    ),
    "interop/fhir/write.py": ((16,), "id hash length"),
    "interop/fhir/bulk.py": (
        (2, 8, 9, 16, 64, 200, 1000, 1024, 2000),
        "spill sizes (bytes, 64 MiB buckets, gz size factor), buffer shift, progress and report "
        "intervals, reference prefix lengths ('Patient/', 'urn:uuid:')",
    ),
    "interop/fhir/bulk_import.py": ((2, 100), "exit code 2 (invalid input), YAML line width"),
    "render/chart.py": (
        (0.14, 0.22, 0.35, 0.4, 0.5, 1.5, 2, 3, 3.8, 4, 7, 7.5, 8, 9, 10, 12, 100, 3600),
        "figure layout (inches, points, alpha, ticks), percent, seconds per hour",
    ),
    "render/ics.py": ((16, 1970), "UID hash length, iCalendar epoch"),
    "render/text.py": ((80,), "terminal line width"),
    "render/plain.py": ((2, 4, 5), "Rich's layout: backslash pairs, a centred rule's halves"),
}
NUMBERS |= {(f, v): why for f, (values, why) in FACES.items() for v in values}

# clinical numbers still in code (debt, each with where it belongs): none left; FHIR Dosage
# in export.py reads doses.yaml (kb.doses) since the rules name their doses
KNOWN_CLINICAL: dict[tuple[str, float], str] = {}

# file under src/rplcare -> (clinical sentences still in code, why)
SENTENCES: dict[str, tuple[int, str]] = {
    "reasoning/assess.py": (3, "the product disclaimer; action-list labels of the JSON format"),
    "reasoning/pregnancy.py": (3, "glue labels around calculator texts (issue 9 action list)"),
    "pregnancy/hcg.py": (2, "values of the assessment format's Literal labels"),
    "pregnancy/luteal.py": (1, "a value of the Label Literal of the assessment format"),
    "render/handout.py": (32, "patient-handout msgids of the Babel catalogue (render/locale)"),
    "render/chart.py": (2, "chart axis label and the figure's text alternative"),
    "render/report.py": (1, "copy of the disclaimer for the Babel catalogue"),
    "render/text.py": (3, "terminal labels around KB texts"),
    # interop: FHIR displays / CDS card labels of the wire formats; to move to terminology.yaml
    "interop/cds/cards.py": (3, "card labels and messages"),
    "interop/cds/discovery.py": (4, "service descriptions of the CDS discovery document"),
    "interop/cds/orders.py": (2, "order-sign card labels"),
    "interop/fhir/codes.py": (12, "FHIR displays of rplcare's local code systems"),
    "interop/fhir/export.py": (4, "FHIR Dosage / note texts"),
    "interop/fhir/read.py": (17, "import notes and unmapped reasons (the report to the user)"),
    "interop/fhir/write.py": (1, "an extension's display"),
}


def _skipped(tree: ast.AST) -> set[int]:
    """ids of string constants that are docstrings, exception messages or Literal[...] values."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
        if isinstance(node, ast.Raise) and node.exc is not None:
            out |= {id(n) for n in ast.walk(node.exc)}
        if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("Literal"):
            out |= {id(n) for n in ast.walk(node.slice)}
    return out


def scan() -> tuple[dict[tuple[str, float], int], Counter[str], list[str]]:
    numbers: dict[tuple[str, float], int] = {}
    sentences: Counter[str] = Counter()
    where: list[str] = []
    for folder in FOLDERS:
        for path in sorted((SRC / folder).rglob("*.py")):
            rel = path.relative_to(SRC).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = _skipped(tree)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Constant) or id(node) in skip:
                    continue
                v = node.value
                if type(v) in (int, float) and v not in (0, 1):
                    numbers[(rel, v)] = numbers.get((rel, v), 0) + 1
                    if (rel, v) not in NUMBERS:
                        where.append(f"{rel}:{node.lineno}: number {v!r}")
                elif isinstance(v, str) and len(v.split()) >= 4 and CLINICAL.search(v):
                    sentences[rel] += 1
                    where.append(f"{rel}:{node.lineno}: sentence {v[:70]!r}")
    return numbers, sentences, where


def test_no_clinical_number_in_code():
    numbers, _, where = scan()
    known = NUMBERS.keys() | KNOWN_CLINICAL.keys()
    unexplained = sorted(k for k in numbers if k not in known)
    assert unexplained == [], "\n".join(
        w for w in where if " number " in w and (w.split(":")[0], _num(w)) not in known
    )
    stale = sorted(k for k in known if k not in numbers)
    assert stale == []  # an allowed number no longer in the code: drop its row


def _num(line: str) -> float:
    return float(line.rsplit(" ", 1)[1])


def test_no_clinical_sentence_in_code():
    _, sentences, where = scan()
    allowed = {f: n for f, (n, _) in SENTENCES.items()}
    over = {f: n for f, n in sentences.items() if n > allowed.get(f, 0)}
    assert over == {}, "\n".join(w for w in where if " sentence " in w and w.split(":")[0] in over)
    assert {f: n for f, n in sentences.items()} == allowed  # lower the counts as texts move
