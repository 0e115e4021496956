"""Rule (issue 12 §2): off a terminal, the terminal summary is written without Rich
(`rplcare.render.plain`), and to the byte what Rich writes: on every case of the golden corpus
under every definition and luteal policy, and on generated markup, the plain writer either
hands the line back to Rich (NotPlain) or prints what `Console(width=W, highlight=False,
soft_wrap=False).print` prints. When it hands back, the whole summary is Rich's."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import _SINGLE_CELL_UNICODE_RANGES, get_character_cell_size
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.rule import Rule as RichRule

from rplcare.case.loader import load_case
from rplcare.reasoning.assess import assess
from rplcare.reasoning.classification import DEFINITIONS
from rplcare.render import plain, text

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "reasoning" / "golden" / "outputs.json.gz"
TODAY_GOLDEN = "2026-11-23"


@pytest.fixture(autouse=True)
def _no_forced_terminal(monkeypatch):
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def rich_print(markup_or_rule, width=80, style=None):
    buf = io.StringIO()
    con = Console(file=buf, width=width, highlight=False, soft_wrap=False)
    con.print(markup_or_rule, style=style)
    return buf.getvalue()


def plain_print(markup_or_rule, width=80, style=None):
    buf = io.StringIO()
    out = plain.PlainConsole(buf, width)
    out.print(markup_or_rule, style=style)
    out.write()
    return buf.getvalue()


def rich_summary(a, width=80):
    buf = io.StringIO()
    text.print_assessment(a, Console(file=buf, width=width, highlight=False, soft_wrap=False))
    return buf.getvalue()


def plain_summary(a, width=80):
    buf = io.StringIO()
    out = plain.PlainConsole(buf, width)
    text._render(a, out, plain.Rule)  # raises NotPlain if any line is handed back
    out.write()
    return buf.getvalue()


def test_the_one_cell_characters_are_richs():
    ranges = [(ord(a), ord(b)) for a, b in plain.SINGLE_CELL_RANGES]
    assert ranges == list(_SINGLE_CELL_UNICODE_RANGES)
    from rich._unicode_data._versions import VERSIONS

    for c in plain.ONE_CELL_EXTRA:
        assert {get_character_cell_size(c, v) for v in VERSIONS} == {1}, c


def test_the_emoji_names_are_richs():
    from rich._emoji_codes import EMOJI

    assert "" not in EMOJI
    assert set("".join(EMOJI)) <= plain.EMOJI_NAME_CHARACTERS


def test_escape_is_richs():
    for s in ["a [b] c", "[bold]x[/]", "\\", "a\\", "a\\\\", "x\\[bold]", "[1] ok", "[/] [@x]"]:
        assert plain.escape(s) == rich_escape(s)


@pytest.fixture(scope="module")
def golden_cases():
    return json.loads(gzip.decompress(GOLDEN.read_bytes()))["cases"]


def test_every_golden_summary_is_plain_and_richs(golden_cases):
    from datetime import date

    today = date.fromisoformat(TODAY_GOLDEN)
    differ = []
    for name, data in golden_cases.items():
        case = load_case(data, today=today)
        for definition in sorted(DEFINITIONS):
            for policy in ("guideline", "article"):
                a = assess(case, today=today, definition=definition, luteal_policy=policy)
                if plain_summary(a) != rich_summary(a):
                    differ.append(f"{name}|{definition}|{policy}")
    assert not differ, differ[:5]


def test_a_summary_plain_cannot_write_is_richs(golden_cases, monkeypatch):
    from datetime import date

    today = date.fromisoformat(TODAY_GOLDEN)
    name = next(n for n, c in golden_cases.items() if isinstance(c, dict))
    data = {**golden_cases[name], "id": "病例 :smile: 1"}  # wide characters, an emoji code
    a = assess(load_case(data, today=today), today=today)
    with pytest.raises(plain.NotPlain):
        plain_summary(a)
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    text.print_assessment(a)  # stdout is not a terminal: plain is tried, hands back to Rich
    assert buf.getvalue() == rich_summary(a)


def test_stdout_console_only_off_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert plain.stdout_console(80) is not None
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert plain.stdout_console(80) is None  # Rich writes styles
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    assert plain.stdout_console(80) is not None  # Rich: never a terminal
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert plain.stdout_console(80) is None
    monkeypatch.delenv("TTY_COMPATIBLE")
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setattr(sys, "stdout", Tty())
    assert plain.stdout_console(80) is None
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_out)
    assert plain.stdout_console(80) is None  # Rich writes ASCII rules there


# markup pieces: the tags the summary writes, ones it does not, escapes, emoji codes, and
# characters on both sides of Rich's one-cell list
PIECES = st.sampled_from(
    [
        "[bold]", "[/]", "[dim]", "[/dim]", "[bold red]", "[/bold red]", "[yellow]", "[italic]",
        "[red]", "[link=x]", "[@click]", "[1]", "[/bold]", "\\", "\\[", "[", "]", ":", "::",
        ":smile:", ":Smile:", ":smile-text:", ":x}y:", " ", "  ", "\t", "\n", "\r", "•", "–", "≥",
        "─", "é", "中", "\u200d", "\ufe0f",
        "a", "word", "longerword", "x" * 30, "y" * 90, ". ", ", ",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(PIECES, max_size=30),
    width=st.integers(min_value=5, max_value=100),
    style=st.sampled_from([None, "dim", "yellow", "italic"]),
)
def test_a_line_is_richs_or_handed_back(parts, width, style):
    markup = "".join(parts)
    try:
        got = plain_print(markup, width, style)
    except plain.NotPlain:
        return
    assert got == rich_print(markup, width, style)


# pieces the plain writer takes: most lines built from them are compared, not handed back
PLAIN_PIECES = st.sampled_from(
    [
        "[bold]", "[/]", "[dim]", "[/dim]", "[bold red]", "[/bold red]", "[yellow]", "[1]", "\\",
        "\\[", "[", "]", ":", ":x}y:", " ", "  ", "\xa0", "•", "–", "≥", "─", "é", "a", "word",
        "x" * 30, "y" * 90, ". ",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(PLAIN_PIECES, max_size=25), width=st.integers(min_value=5, max_value=100))
def test_a_plain_line_is_richs(parts, width):
    markup = "".join(parts)
    try:
        got = plain_print(markup, width)
    except plain.NotPlain:
        return
    assert got == rich_print(markup, width)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(PIECES, max_size=12), width=st.integers(min_value=5, max_value=100))
def test_escaped_text_is_richs_or_handed_back(parts, width):
    s = "".join(parts)
    assert plain.escape(s) == rich_escape(s)
    try:
        got = plain_print(f"[bold]x[/] {plain.escape(s)}", width)
    except plain.NotPlain:
        return
    assert got == rich_print(f"[bold]x[/] {rich_escape(s)}", width)


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(st.sampled_from("abc XYZ,-()é•中"), min_size=1, max_size=90),
    width=st.integers(min_value=5, max_value=100),
)
def test_a_rule_is_richs_or_handed_back(title, width):
    try:
        got = plain_print(plain.Rule(title), width)
    except plain.NotPlain:
        return
    assert got == rich_print(RichRule(title), width)


def test_the_cli_text_summary_does_not_import_rich():
    code = (
        "import sys\n"
        "from rplcare.cli import main\n"
        "sys.argv = ['rplcare', 'assess', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')),"
        " file=sys.stderr)\n"
    )
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        r = subprocess.run(
            [sys.executable, "-c", code, str(example)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        )
        assert r.stderr.strip() == "[]", (example.name, r.stderr)
        assert r.stdout.startswith(("rplcare assessment", "IMMEDIATE", "SAME DAY"))
