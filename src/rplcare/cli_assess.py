"""`rplcare assess`, the command both CLI paths run (issue 12 §2).

`rplcare.cli.main` parses a plain `assess CASE [options]` line here, without importing typer
(typer and its click cost about a tenth of a run); every other line (help, an unknown option, a
value that is not a choice, any other command) goes to the typer app (`rplcare.cli_app`), whose
`assess` command calls the same `run()`. So the output, the errors and the exit codes are those
of one function whichever path parsed the line; `parse()` only accepts what typer would parse
to the same options, and hands anything else on.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import IO, Any, NamedTuple

FORMATS = ("text", "json", "fhir")
DEFINITIONS = ("eshre2022", "asrm2012", "rcog2023")  # the CLI's choices (cli_app.Definition)
POLICIES = ("guideline", "article")
_OPTIONS = {
    "--format": "fmt",
    "-f": "fmt",
    "--definition": "definition",
    "--luteal-policy": "luteal_policy",
    "--today": "today",
}
_CHOICES = {"fmt": FORMATS, "definition": DEFINITIONS, "luteal_policy": POLICIES}
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")  # what click strips when not on a terminal


class Options(NamedTuple):
    case: Path
    fmt: str = "text"
    definition: str = "eshre2022"
    luteal_policy: str = "guideline"
    today: str | None = None


class Exit(Exception):
    """Leave the command with this exit code (what `typer.Exit` does on the typer path)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def parse(args: list[str]) -> Options | None:
    """The options of `assess ARGS`, or None for the typer app to parse (and report on).

    Accepted: one case path, and `--format/-f`, `--definition`, `--luteal-policy`, `--today`
    each as `--opt VALUE` or `--opt=VALUE` (the last one wins, as in click), a choice where the
    option has choices. Anything else, `--help` and `--` included, is None.
    """
    values: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and arg != "-":
            name, eq, value = arg.partition("=")
            key = _OPTIONS.get(name)
            if key is None or (eq and name == "-f"):
                return None
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            if value.startswith("-") or (key in _CHOICES and value not in _CHOICES[key]):
                return None
            values[key] = value
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 1 or not positional[0]:
        return None
    if os.path.exists(positional[0]) and not os.access(positional[0], os.R_OK):
        return None  # typer's Path check words this one
    return Options(Path(positional[0]), **values)


def echo(text: str, err: bool = False) -> None:
    """One line out as `click.echo` writes it: ANSI codes stripped off a terminal, UTF-8 on a
    stream whose encoding is ASCII, flushed."""
    stream: IO[Any] = sys.stderr if err else sys.stdout
    out = text + "\n"
    if not _isatty(stream):
        out = _ANSI.sub("", out)
    if _is_ascii(getattr(stream, "encoding", None) or "ascii") and hasattr(stream, "buffer"):
        stream.flush()
        stream.buffer.write(out.encode("utf-8", "replace"))
        stream.buffer.flush()
        return
    stream.write(out)
    stream.flush()


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except Exception:
        return False


def _is_ascii(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "ascii"
    except LookupError:
        return False


def fail(lines: list[str], code: int = 2) -> None:  # 2 = ExitCode.INVALID_INPUT
    for line in lines:
        echo(line, err=True)
    raise Exit(code)


def parse_day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail([f"{name}: {value!r} is not a date (YYYY-MM-DD)"])
    return None


def load_and_assess(
    path: Path, today: str | None, definition: str = "eshre2022", luteal_policy: str = "guideline"
) -> tuple[Any, Any]:
    """Parse --today, load the case and assess it; any input problem exits 2 with paths."""
    from rplcare.case.errors import CaseError
    from rplcare.case.loader import load_case
    from rplcare.reasoning import assess as assess_mod  # looked up now: tests replace it

    day = parse_day(today, "--today")
    try:
        case = load_case(path, today=day)
    except CaseError as exc:
        fail(exc.lines())
    try:
        result = assess_mod.assess(
            case, today=day, definition=definition, luteal_policy=luteal_policy
        )
        return case, result
    except ValueError as exc:
        fail([str(exc)])
        raise  # unreachable: fail exits


def run(opts: Options) -> None:
    """Assess the case and print the plan in the format asked for."""
    case, result = load_and_assess(
        opts.case, opts.today, definition=opts.definition, luteal_policy=opts.luteal_policy
    )
    if opts.fmt == "json":
        echo(result.to_json())
    elif opts.fmt == "fhir":
        from rplcare.interop.commands import assessment_fhir_json

        echo(assessment_fhir_json(result, case))
    else:
        from rplcare.render.text import print_assessment

        print_assessment(result)
