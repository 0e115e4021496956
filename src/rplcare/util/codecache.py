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

# no `from __future__ import ...` here: a builtin called from this module inherits its flags,
# and those of the shadowed modules are none (checked in install() and by the tests)
import __future__

import builtins
import marshal
import os
import sys
import types
from typing import Any

_installed: dict[str, Any] = {}


def path() -> str | None:
    """The cache file for this interpreter, or None when the cache is off."""
    from rplcare.util import cache_root

    root = cache_root()
    if root is None:
        return None
    tag = f"{sys.implementation.cache_tag}-{sys.hexversion:x}-O{sys.flags.optimize}"
    return os.path.join(root, f"code-{tag}-m{marshal.version}.marshal")


#: (module, the builtin it compiles source text with): the stdlib's code generators that run
#: at import on rplcare's path - namedtuple constructors, typing's forward references
#: (pydantic_core's TypedDicts declare hundreds of them) and dataclass methods; in this order,
#: so importing dataclasses (inspect, dis: namedtuples) already reads from the cache
SHADOWED = (("collections", "eval"), ("typing", "compile"), ("dataclasses", "exec"))
#: modules that generate code while they are imported (pydantic imports them): given their
#: shadow before their first line runs, by an import hook that only does that
SHADOWED_ON_IMPORT = {"typing_inspection.typing_objects": "exec"}


def install() -> bool:
    """Give each module of SHADOWED its caching builtin; False when none is installed (the
    cache is off, or the modules already have such a name of their own)."""
    import importlib

    if _installed:
        return True
    on_import = {m: name for m, name in SHADOWED_ON_IMPORT.items() if m not in sys.modules}
    file = path()
    if file is None:
        return False
    known: dict[tuple[str, str], types.CodeType] = {}
    try:
        with open(file, "rb") as fh:
            loaded = marshal.loads(fh.read())  # marshal.load(fh) reads in small chunks
        if isinstance(loaded, dict):
            known = loaded
    except Exception:  # missing, unreadable, from another interpreter: compile as usual
        pass
    new: dict[tuple[str, str], types.CodeType] = {}
    hits: set[tuple[str, str]] = set()

    def code_of(source: str, mode: str) -> types.CodeType:
        """What `exec`/`eval`/`compile(source, "<string>", mode)` compile, called from a
        module with no `__future__` import (those of SHADOWED)."""
        code = known.get((mode, source))
        if type(code) is types.CodeType:
            hits.add((mode, source))
        else:
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
    done = 0
    for module_name, name in SHADOWED:
        module = importlib.import_module(module_name)
        if name not in vars(module) and not has_future_flags(module):  # else: left alone
            setattr(module, name, shadows[name])
            done += 1
    if on_import:
        sys.meta_path.insert(0, _ShadowOnImport({m: shadows[n] for m, n in on_import.items()}))
    if not done and not on_import:
        return False
    _installed.update(file=file, known=known, new=new, hits=hits)
    import atexit

    atexit.register(_save)
    return True


def has_future_flags(module: types.ModuleType) -> bool:
    """Whether the module's code was compiled with a `from __future__` feature (the builtins
    it calls would inherit it; the cache compiles without)."""
    return any(isinstance(v, __future__._Feature) for v in vars(module).values())


class _ShadowOnImport:
    """Finds nothing itself: for a module of SHADOWED_ON_IMPORT it asks the rest of the import
    system, and puts the shadow in the module before its code runs."""

    def __init__(self, shadows: dict[str, Any]):
        self.shadows = shadows

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        shadow = self.shadows.pop(fullname, None)
        if shadow is None:
            return None
        if not self.shadows:
            sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(fullname)  # the other finders (this one is done)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        name = SHADOWED_ON_IMPORT[fullname]
        real = loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            setattr(module, name, shadow)
            real(module)

        loader.exec_module = exec_module
        return spec


def _save() -> None:
    """Write the code this run used and compiled to the file, atomically; with the code of
    earlier runs it did not use (other commands' paths) while that is the smaller part (a
    process that was more than this command, a test run, does not leave its code to be read
    by every later start)."""
    new, hits, known = _installed.get("new"), _installed.get("hits"), _installed.get("known")
    if new is None or hits is None or known is None:
        return
    file: str = _installed["file"]
    data = {k: known[k] for k in hits}
    data.update(new)
    unused = len(known) - len(hits)
    if not new and unused <= len(data) // 2:
        return  # nothing to add, and the file is mostly this run's
    if unused <= len(data) // 2:
        data = {**known, **data}
    new.clear()
    try:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        tmp = os.path.join(os.path.dirname(file), f".{os.path.basename(file)}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # as mkstemp's
            with os.fdopen(fd, "wb") as fh:
                marshal.dump(data, fh)
            os.replace(tmp, file)  # a reader sees the old file or the whole new one
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except Exception:  # read-only, full: the next run compiles again
        pass
