"""Code the stdlib generates at import, kept between runs (issue 12 §2): `@dataclass` compiles
the source of each class's `__init__`, `__repr__`, `__eq__`, ..., `namedtuple` its `__new__`,
and typing each string annotation of a TypedDict or NamedTuple (pydantic_core declares hundreds);
on rplcare's path that compiling was about a seventh of an `rplcare assess` run.

`install()` gives each module of SHADOWED its own `exec`, `eval` or `compile`, the builtin it
compiles that source text with (`exec(source, globals, namespace)`, `eval(source, namespace)`,
`compile(source, "<string>", "eval")`). For a text compiled before, the code object is read
from the user's cache (`rplcare.util.cache.cache_dir()`) and used as the builtin would use the
text: compiled as the builtin compiles it there (filename `<string>`, none of the caller's
`__future__` flags - those modules have none - the interpreter's optimisation level), so every
class, signature, annotation, method and forward reference is what it would be without the
cache. Texts not seen before are compiled and added to the file at exit. The file is named by
the interpreter's version and optimisation level (marshal and bytecode are version-specific);
a file that cannot be read is ignored, one that cannot be written is not written. As the
knowledge-base pickle, it is only read from the user's own cache directory (mode 0600).
`RPLCARE_CACHE=0` turns it off.

Installed by the plain `rplcare assess` path only (`rplcare.cli`), before pydantic and the
engine are imported.
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
    return root / f"code-{tag}-m{marshal.version}.marshal"


#: (module, the builtin it compiles source text with): the stdlib's code generators that run
#: at import on rplcare's path - dataclass methods, namedtuple constructors, and typing's
#: forward references (pydantic_core's TypedDicts declare hundreds of them)
SHADOWED = (("dataclasses", "exec"), ("collections", "eval"), ("typing", "compile"))


def install() -> bool:
    """Give each module of SHADOWED its caching builtin; False when none is installed (the
    cache is off, or the modules already have such a name of their own)."""
    import importlib

    if _installed:
        return True
    modules = [(importlib.import_module(m), name) for m, name in SHADOWED]
    modules = [(m, name) for m, name in modules if name not in vars(m)]
    file = path() if modules else None
    if file is None:
        return False
    known: dict[tuple[str, str], types.CodeType] = {}
    try:
        loaded = marshal.loads(file.read_bytes())  # load(fh) reads it in small chunks
        if isinstance(loaded, dict):
            known = loaded
    except Exception:  # missing, unreadable, from another interpreter: compile as usual
        pass
    new: dict[tuple[str, str], types.CodeType] = {}

    def code_of(source: str, mode: str) -> types.CodeType:
        """What `exec`/`eval`/`compile(source, "<string>", mode)` compile, called from a
        module with no `__future__` import (those of SHADOWED)."""
        code = known.get((mode, source))
        if type(code) is not types.CodeType:
            code = new[(mode, source)] = real_compile(source, "<string>", mode, dont_inherit=True)
        return code

    real_exec, real_eval, real_compile = builtins.exec, builtins.eval, builtins.compile

    def exec(source: Any, /, *args: Any, **kwargs: Any) -> Any:
        if type(source) is str:
            source = code_of(source, "exec")
        return real_exec(source, *args, **kwargs)

    def eval(source: Any, /, *args: Any, **kwargs: Any) -> Any:
        if type(source) is str:
            source = code_of(source, "eval")
        return real_eval(source, *args, **kwargs)

    def compile(source: Any, *args: Any, **kwargs: Any) -> Any:
        if type(source) is str and args == ("<string>", "eval") and not kwargs:
            return code_of(source, "eval")
        return real_compile(source, *args, **kwargs)

    shadows = {"exec": exec, "eval": eval, "compile": compile}
    for module, name in modules:
        setattr(module, name, shadows[name])
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
