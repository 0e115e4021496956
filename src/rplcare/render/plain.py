"""What Rich prints for a line of console markup when it writes no styles (not a terminal),
without importing Rich (its import is about a third of an `rplcare assess` run, issue 12 §2).

`PlainConsole.print(markup)` and `print(Rule(title))` follow Rich 13-15's `Console(width=W,
highlight=False, soft_wrap=False).print`: the markup tags dropped (`escape` below is Rich's
`rich.markup.escape`), the text wrapped at W cells by Rich's word division (`rich._wrap`),
each line ending in a newline; a rule as Rich's centred `Rule`. It only vouches for lines whose
every character Rich measures as one cell (Rich's own list of such characters, and a few more
checked against its unicode tables) and that hold
no emoji code (`:name:`), no control character, no tab, no newline and no tag other than the
styles `rplcare.render.text` writes: anything else raises `NotPlain`, and the caller prints
the whole summary with Rich. tests/render/test_plain_text.py checks it against Rich, byte for
byte, on every golden case and on generated markup.
"""

from __future__ import annotations

import builtins
import os
import re
import sys
from collections.abc import Iterator
from typing import IO

# rich.cells._SINGLE_CELL_UNICODE_RANGES: the characters Rich counts as one cell without its
# unicode tables (the test checks the two lists are the same)
SINGLE_CELL_RANGES = (
    ("\x20", "\x7e"),
    ("\xa0", "\xac"),
    ("\xae", "\u02ff"),
    ("\u0370", "\u0482"),
    ("\u2500", "\u25fc"),
    ("\u2800", "\u28ff"),
)
#: characters the knowledge base writes that Rich measures as one cell through its unicode
#: tables, in every version of them it ships (the test checks each against them)
ONE_CELL_EXTRA = "–—‘’“”•…→−≤≥⊕"
_TAGS = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")  # rich.markup.RE_TAGS
_ESCAPE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")  # rich.markup.escape's pattern
_EMOJI = re.compile(r"(:(\S*?)(?:(?:\-)(emoji|text))?:)")  # rich._emoji_replace's pattern
#: every character of Rich's emoji names (rich._emoji_codes.EMOJI, lower case; the test checks)
EMOJI_NAME_CHARACTERS = frozenset("!#&()*+-.0123456789_abcdefghijklmnopqrstuvwxyzãåçéíô’")
_WORD = re.compile(r"\s*\S+\s*")  # rich._wrap.re_word
_TRAILING_SPACE = re.compile(r"\s+$")  # rich.text._re_whitespace
#: the styles rplcare.render.text writes (Rich resolves them; plain output drops them)
STYLES = frozenset({"bold", "dim", "italic", "yellow", "bold red"})
RULE_CHARACTER = "─"  # rich.rule.Rule's default characters


class NotPlain(Exception):
    """A line this module does not vouch for: print the summary with Rich."""


def one_cell(text: str) -> bool:
    """Whether Rich measures every character of `text` as one cell (no control character,
    tab or newline either). A check, not a regular expression: compiling a character class
    this wide costs more than the whole summary."""
    if text.isascii():
        return text.isprintable()
    for c in set(text):
        if c < " " or (
            c > "~"
            and not any(a <= c <= b for a, b in SINGLE_CELL_RANGES)
            and c not in ONE_CELL_EXTRA
        ):
            return False
    return True


def escape(markup: str) -> str:
    """rich.markup.escape: text that Rich prints as written."""

    def escape_backslashes(match: re.Match[str]) -> str:
        backslashes, text = match.groups()
        return f"{backslashes}{backslashes}\\{text}"

    markup = _ESCAPE.sub(escape_backslashes, markup)
    if markup.endswith("\\") and not markup.endswith("\\\\"):
        return markup + "\\"
    return markup


class Rule:
    """A centred rule with a title, as `rich.rule.Rule(title)` prints it."""

    def __init__(self, title: str):
        self.title = title


def stdout_console(width: int) -> PlainConsole | None:
    """A plain console for stdout when Rich would write no styles there, else None."""
    out = sys.stdout
    if out is None or hasattr(out, "rich_proxied_file") or sys.platform == "win32":
        return None
    if hasattr(builtins, "get_ipython"):  # Rich's Jupyter rendering
        return None
    env = os.environ
    if env.get("TTY_COMPATIBLE") != "0":  # "0": Rich never treats it as a terminal
        if env.get("TTY_COMPATIBLE", "") != "" or env.get("FORCE_COLOR", "") != "":
            return None
        try:
            if out.isatty():
                return None
        except Exception:
            return None
    encoding = (getattr(out, "encoding", "utf-8") or "utf-8").lower()
    if not encoding.startswith("utf"):  # Rich writes ASCII rules: left to it
        return None
    return PlainConsole(out, width)


class PlainConsole:
    """Collects the lines; `write()` puts them on the stream at once."""

    def __init__(self, file: IO[str], width: int):
        self.file = file
        self.width = width
        self.parts: list[str] = []

    def print(self, obj: str | Rule, style: str | None = None) -> None:
        if style is not None and style not in STYLES:
            raise NotPlain(style)
        if isinstance(obj, Rule):
            self.parts.append(rule_line(obj.title, self.width))
        else:
            self.parts.extend(wrap(plain_text(obj), self.width))

    def write(self) -> None:
        self.parts.append("")
        self.file.write("\n".join(self.parts))
        self.file.flush()


def plain_text(markup: str) -> str:
    """The text of a markup line (rich.markup.render without its styles)."""
    if "[" not in markup:
        out = markup
        _no_emoji(out)
    else:
        pieces: list[str] = []
        stack: list[str] = []
        for text, tag in _parse(markup):
            if text is not None:
                text = text.replace("\\[", "[")
                _no_emoji(text)
                pieces.append(text)
            elif tag.startswith("/"):
                name = tag[1:].strip()
                if name:
                    if name not in stack:
                        raise NotPlain(tag)  # Rich: MarkupError, or a style it normalizes
                    del stack[len(stack) - 1 - stack[::-1].index(name)]
                elif not stack:
                    raise NotPlain(tag)  # Rich: MarkupError
                else:
                    stack.pop()
            elif tag in STYLES:
                stack.append(tag)
            else:
                raise NotPlain(tag)
        out = "".join(pieces)
    if not one_cell(out):
        raise NotPlain(out)
    return out


def _no_emoji(text: str) -> None:
    """NotPlain where Rich could read an emoji code (`:name:` whose name could be one)."""
    for m in _EMOJI.finditer(text):
        name = m.group(2).lower()
        if name and EMOJI_NAME_CHARACTERS.issuperset(name):
            raise NotPlain(m.group(0))


def _parse(markup: str) -> Iterator[tuple[str | None, str]]:
    """rich.markup._parse: (text, "") for text, (None, tag) for a tag."""
    position = 0
    for match in _TAGS.finditer(markup):
        full_text, escapes, tag_text = match.groups()
        start, end = match.span()
        if start > position:
            yield markup[position:start], ""
        if escapes:
            backslashes, escaped = divmod(len(escapes), 2)
            if backslashes:
                yield "\\" * backslashes, ""
            if escaped:
                yield full_text[len(escapes) :], ""
                position = end
                continue
        if "=" in tag_text:  # a parameter (link=, @click=...): Rich's business
            raise NotPlain(tag_text)
        yield None, tag_text
        position = end
    if position < len(markup):
        yield markup[position:], ""


def wrap(text: str, width: int) -> list[str]:
    """The lines Rich prints for one line of one-cell text (Text.wrap, overflow "fold")."""
    breaks = _divide_line(text, width)
    lines = [text[a:b] for a, b in zip([0, *breaks], [*breaks, len(text)], strict=True)]
    out = []
    for line in lines:
        if len(line) > width:  # Text.rstrip_end, then Text.truncate (fold: crop)
            m = _TRAILING_SPACE.search(line)
            if m is not None:
                line = line[: len(line) - min(len(m.group(0)), len(line) - width)]
            line = line[:width]
        out.append(line)
    return out


def _divide_line(text: str, width: int) -> list[int]:
    """rich._wrap.divide_line(text, width, fold=True) for one-cell text."""
    breaks: list[int] = []
    offset = 0
    position = 0
    while (m := _WORD.match(text, position)) is not None:
        start, end = m.span()
        word = m.group(0)
        position = end
        word_length = len(word.rstrip())
        if width - offset >= word_length:
            offset += len(word)
        elif word_length > width:
            folded = [word[i : i + width] for i in range(0, len(word), width)]
            for n, line in enumerate(folded):
                if start:
                    breaks.append(start)
                if n == len(folded) - 1:
                    offset = len(line)
                else:
                    start += len(line)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def rule_line(title: str, width: int) -> str:
    """rich.rule.Rule(title) printed at `width` (centred, one-cell title that fits)."""
    if "[" in title or not one_cell(title) or len(title) > width - 4 or width < 5:
        raise NotPlain(title)
    side = (width - len(title)) // 2
    left = RULE_CHARACTER * min(side + 1, max(side - 1, 0))
    right = RULE_CHARACTER * min(side + 1, max(width - len(left) - len(title), 0))
    line = f"{left} {title} {right}"
    return (line + " " * (width - len(line)))[:width]
