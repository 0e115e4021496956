"""The `rplcare` command line: the entry point (`main`) and the typer app (`app`, in
`rplcare.cli_app`, imported on first use).

A plain `rplcare assess CASE [options]` runs `rplcare.cli_assess` without importing typer (the
start of a run, issue 12 §2); every other line, and any `assess` line that is not plain (help,
an unknown option, a value that is not a choice), goes to the typer app, whose `assess` runs
the same function. Exit codes: `rplcare.errors.ExitCode` (0 ok; 2 invalid input, every problem
on stderr as `PATH: message`, nothing on stdout; 3 refused; 4 knowledge base invalid; 5 store
unavailable; 70 unexpected error, one line with a support hint and never a traceback; 130
interrupted).
"""

from __future__ import annotations

import sys
from typing import Any


def __getattr__(name: str) -> Any:
    """`from rplcare.cli import app` (and the other typer objects) without a typer import
    for the `assess` fast path."""
    if name.startswith("__"):
        raise AttributeError(name)
    from rplcare import cli_app

    try:
        return getattr(cli_app, name)
    except AttributeError:
        raise AttributeError(f"module 'rplcare.cli' has no attribute {name!r}") from None


def _fast_assess(argv: list[str]) -> bool:
    """Run a plain `assess` line without typer; False when typer is to parse it."""
    if argv[:1] != ["assess"]:
        return False
    import gc

    # the code an earlier run compiled for dataclasses, namedtuples and forward references,
    # before any is declared (about a seventh of a run, most of it pydantic's); the collector
    # is off while the cache is read (its passes over the code objects read free nothing)
    was_enabled = gc.isenabled()
    gc.disable()
    from rplcare.util import codecache

    codecache.install()
    from rplcare import cli_assess

    opts = cli_assess.parse(argv[1:])
    if opts is None:
        if was_enabled:
            gc.enable()
        return False
    import os

    # pydantic looks for plugins in every installed distribution's metadata at its first
    # validator; rplcare uses none (an explicit setting is kept)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _no_plugin_loader()
    # one short run, the collector kept off: its passes over the import-time objects cost ~4 %
    # of it and free nothing the run needs; on again afterwards (main() runs in-process in tests)
    # and at exit: the interpreter's last collections walk every object of the run (~5 % of
    # it) to free memory the process gives back anyway; frozen objects are not walked. As an
    # exit hook, so a main() run in-process (tests) freezes nothing until its own exit.
    import atexit

    atexit.unregister(gc.freeze)  # once, however many in-process runs
    atexit.register(gc.freeze)
    try:
        cli_assess.run(opts)
    except cli_assess.Exit as exc:
        sys.exit(exc.code)
    except KeyboardInterrupt:  # as typer's standalone mode
        sys.exit(130)
    except BrokenPipeError:  # as typer's: stdout closed early (a pager quit), exit 1 quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    finally:
        if was_enabled:
            gc.enable()
    sys.exit(0)


def _no_plugin_loader() -> None:
    """With plugins disabled, pydantic's loader (`pydantic.plugin._loader.get_plugins`) returns
    no plugins, but importing it imports importlib.metadata (about 4 % of a run). A stand-in
    with the same answer is put in its place; any other name asked of it loads the real
    module, so a pydantic that reads more from it still gets it."""
    import os
    import types

    name = "pydantic.plugin._loader"
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") not in ("__all__", "1", "true"):
        return
    if name in sys.modules:
        return
    stub = types.ModuleType(name, "rplcare.cli stand-in: plugins are disabled")

    def get_plugins() -> tuple[()]:
        return ()

    def real(attr: str) -> Any:
        import importlib

        if attr.startswith("__"):  # what the import system asks (__path__, ...): not there
            raise AttributeError(attr)
        if sys.modules.get(name) is stub:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attr)

    stub.get_plugins = get_plugins  # type: ignore[attr-defined]
    stub.__getattr__ = real  # type: ignore[method-assign]
    sys.modules[name] = stub


def main() -> None:
    """The one top-level handler: a handled error exits with its registry code, anything else
    prints one line with a support hint and exits `ExitCode.UNEXPECTED`, never a traceback."""
    import os

    from rplcare.errors import ExitCode

    try:
        if not _fast_assess(sys.argv[1:]):
            from rplcare.cli_app import app

            app()
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("RPLCARE_DEBUG"):
            raise
        code, line = _classify(exc)
        print(line, file=sys.stderr)
        sys.exit(code)


def _classify(exc: Exception) -> tuple[int, str]:
    """Registry code and the one line to print for an error no command handled."""
    from rplcare.errors import ExitCode
    from rplcare.knowledge import KnowledgeError

    if isinstance(exc, KnowledgeError):
        first = exc.problems[0] if exc.problems else ""
        more = f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return ExitCode.KNOWLEDGE_BASE, f"rplcare: the knowledge base does not load: {first}{more}"
    try:
        from sqlalchemy.exc import OperationalError
    except ImportError:  # the web extra is not installed
        OperationalError = None  # type: ignore[assignment,misc]
    if OperationalError is not None and isinstance(exc, OperationalError):
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        return ExitCode.STORE, f"rplcare: the database cannot be used: {reason}"
    from rplcare.errors import unexpected_line

    return ExitCode.UNEXPECTED, unexpected_line(exc)


if __name__ == "__main__":
    main()
