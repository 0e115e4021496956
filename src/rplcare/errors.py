"""Exit codes of the `rplcare` command, in one place (documented in the README).

Every command exits with one of these; the top-level handler in `rplcare.cli.main` turns any
error no command handled into one line on stderr with a support hint, never a traceback.
"""

from __future__ import annotations

from enum import IntEnum

SUPPORT = "https://github.com/rplcare/rplcare/issues"


class ExitCode(IntEnum):
    OK = 0
    #: input refused: a case, bundle, option or date is invalid; every problem on stderr as
    #: `PATH: message`, nothing on stdout, nothing saved
    INVALID_INPUT = 2
    #: the store refused the change (e.g. the user already exists)
    REFUSED = 3
    #: the knowledge base does not load (a data file is invalid); nothing was assessed
    KNOWLEDGE_BASE = 4
    #: the database cannot be reached or migrated
    STORE = 5
    #: a bug: an error no command handled (one line on stderr, with where to report it)
    UNEXPECTED = 70
    #: interrupted (Ctrl-C)
    INTERRUPTED = 130


def describe() -> list[tuple[int, str, str]]:
    """(code, name, meaning) for every exit code, for the README and `--help`."""
    out = []
    for code in ExitCode:
        doc = _DOCS.get(code.name, "")
        out.append((int(code), code.name.lower(), doc))
    return out


_DOCS = {
    "OK": "success",
    "INVALID_INPUT": "invalid input: every problem on stderr as PATH: message; nothing saved",
    "REFUSED": "the store refused the change (e.g. the user exists)",
    "KNOWLEDGE_BASE": "the knowledge base does not load; nothing assessed",
    "STORE": "the database cannot be reached or migrated",
    "UNEXPECTED": "an unexpected error (a bug): one line on stderr with where to report it",
    "INTERRUPTED": "interrupted",
}


def unexpected_line(exc: BaseException) -> str:
    """The one line printed for an error no command handled."""
    what = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    first = what.splitlines()[0] if what else type(exc).__name__
    return (
        f"rplcare: unexpected error ({first[:300]}). This is a bug, not a problem with your "
        f"input; please report it with the command you ran at {SUPPORT} "
        f"(set RPLCARE_DEBUG=1 to see the traceback)."
    )
