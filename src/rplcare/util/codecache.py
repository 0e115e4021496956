"""Compiled dataclass methods kept between runs (issue 12 §2: `@dataclass` compiles the source
of each class's `__init__`, `__repr__`, `__eq__`, ... at import, and the classes of rplcare, of
pydantic and of annotated_types make that about a tenth of an `rplcare assess` run).

`install()` gives the `dataclasses` module its own `exec`: the one builtin it compiles those
methods with, called as `exec(source, globals, namespace)`. For a source text it has compiled
before, the code object is read from the user's cache (`rplcare.util.cache.cache_dir()`) and
run as the builtin would run the text: compiled as `exec` compiles it (filename `<string>`, no
inherited `__future__` flags, the interpreter's optimisation level), so every class, signature,
annotation and method is what it would be without the cache. Texts it has not seen are compiled
and added to the file at exit. The file is named by the interpreter's version and optimisation
level (marshal and bytecode are version-specific); a file that cannot be read is ignored, one
that cannot be written is not written. As the knowledge-base pickle, it is only read from the
user's own cache directory. `RPLCARE_CACHE=0` turns it off.

Installed by the plain `rplcare assess` path only (`rplcare.cli`), before anything that
declares dataclasses is imported.
"""

from __future__ import annotations

import builtins
import marshal
import os
import sys
import types
from pathlib import Path
from typing import Any

_installed: dict[str, Any] = {}


def path() -> Path | None:
    """The cache file for this interpreter, or None when the cache is off."""
    from rplcare.util.cache import cache_dir

    root = cache_dir()
    if root is None:
        return None
    tag = f"{sys.implementation.cache_tag}-{sys.hexversion:x}-O{sys.flags.optimize}"
    return root / f"dataclass-code-{tag}-m{marshal.version}.marshal"


def install() -> bool:
    """Put the caching `exec` in the `dataclasses` module; False when it is not installed
    (the cache is off, or `dataclasses` already has an `exec` of its own)."""
    import dataclasses

    if "exec" in vars(dataclasses):
        return bool(_installed)
    file = path()
    if file is None:
        return False
    known: dict[str, types.CodeType] = {}
    try:
        with file.open("rb") as fh:
            loaded = marshal.load(fh)
        if isinstance(loaded, dict):
            known = loaded
    except Exception:  # missing, unreadable, from another interpreter: compile as usual
        pass
    new: dict[str, types.CodeType] = {}
    real_exec = builtins.exec

    def exec(source: Any, /, *args: Any, **kwargs: Any) -> Any:
        if type(source) is str:
            code = known.get(source)
            if type(code) is not types.CodeType:
                code = new[source] = compile(source, "<string>", "exec", dont_inherit=True)
            source = code
        return real_exec(source, *args, **kwargs)

    dataclasses.exec = exec  # type: ignore[attr-defined]
    _installed.update(file=file, known=known, new=new)
    import atexit

    atexit.register(_save)
    return True


def _save() -> None:
    """Write the texts compiled in this run to the file (with those read), atomically."""
    new = _installed.get("new")
    if not new:
        return
    file: Path = _installed["file"]
    data = {**_installed["known"], **new}
    new.clear()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # as mkstemp's
            with os.fdopen(fd, "wb") as fh:
                marshal.dump(data, fh)
            os.replace(tmp, file)  # a reader sees the old file or the whole new one
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except Exception:  # read-only, full: the next run compiles again
        pass
