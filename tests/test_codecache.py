"""Rule (issue 12 §2): dataclass methods, namedtuple constructors and forward references read
back from the code cache (`rplcare.util.codecache`) are what the compiler makes: the same
signatures, annotations, defaults, equality, hashing, ordering, frozenness, repr and errors;
and `rplcare assess` prints the same bytes with the cache cold, warm, corrupt or off. Each run
is its own process (the cache is installed in the modules of the process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"

# dataclass shapes: plain, frozen, ordered, slots, kw_only, defaults and factories, InitVar,
# __post_init__, a ClassVar, inheritance, unsafe_hash, a field with a default from a name
PROBE = r"""
import dataclasses, inspect, json, sys
from dataclasses import InitVar, dataclass, field
from typing import ClassVar
if sys.argv[1] == "cache":
    from rplcare.util import codecache
    assert codecache.install()
import typing_inspection.typing_objects as to  # generates functions while it is imported
if sys.argv[1] == "cache":
    assert to.exec is not exec  # the shadow was there before its code ran

@dataclass
class A:
    x: int
    y: str = "a"
    z: list = field(default_factory=list)

@dataclass(frozen=True, order=True)
class B:
    x: int
    y: float = 1.5

@dataclass(slots=True, kw_only=True)
class C:
    a: int
    b: "str | None" = None

@dataclass
class D(A):
    w: InitVar[int] = 0
    k: ClassVar[int] = 3
    def __post_init__(self, w):
        self.z.append(w)

@dataclass(unsafe_hash=True, eq=True)
class E:
    n: int = field(default=2, compare=False)
    m: tuple = ()

out = {}
for cls in (A, B, C, D, E):
    out[cls.__name__] = {
        "sig": str(inspect.signature(cls)),
        "doc": cls.__doc__,
        "fields": [
            (f.name, repr(f.type), "-" if f.default is dataclasses.MISSING else repr(f.default))
            for f in dataclasses.fields(cls)
        ],
        "methods": sorted(k for k, v in vars(cls).items() if callable(v)),
        "init_ann": repr(cls.__init__.__annotations__),
        "init_code": cls.__init__.__code__.co_code.hex(),
    }
out["values"] = [
    repr(A(1)), A(1) == A(1), A(1) == A(2), repr(B(2)), B(1) < B(2), hash(B(1)) == hash(B(1)),
    repr(C(a=1)), repr(D(1, w=5)), D(1, w=5).z, hash(E(1, (2,))) == hash(E(3, (2,))),
]
try:
    B(1).x = 2
except dataclasses.FrozenInstanceError as exc:
    out["frozen"] = str(exc)
try:
    C(1)
except TypeError as exc:
    out["kw_only"] = str(exc)
import collections, typing
P = collections.namedtuple("P", "a b", defaults=(2,))
class N(typing.NamedTuple):
    a: "int | None"
    b: "list[str]" = []
ref = typing.ForwardRef("dict[str, int] | None")
out["namedtuple"] = [
    str(inspect.signature(P)), repr(P(1)), P.__new__.__code__.co_code.hex(), P.__new__.__module__,
    str(inspect.signature(N)), repr(N.__annotations__), repr(N(1)),
]
out["forward"] = [repr(ref), ref.__forward_code__.co_code.hex()]
out["forward"].append(repr(ref._evaluate(None, None, set())))
try:
    typing.ForwardRef("not an expression (")
except SyntaxError as exc:
    out["forward_error"] = str(exc)
out["typing_inspection"] = [
    (n, repr(f.__annotations__), f.__code__.co_code.hex(), f(typing.Any), f(int))
    for n, f in sorted(vars(to).items())
    if n.startswith("is_") and callable(f) and f.__code__.co_filename == "<string>"
]
assert len(out["typing_inspection"]) > 10
print(json.dumps(out, sort_keys=True))
"""


def run(args: list[str], cache_dir: Path | None, **env: str) -> subprocess.CompletedProcess[str]:
    e = {"PYTHONPATH": str(ROOT / "src"), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if cache_dir is not None:
        e["RPLCARE_CACHE_DIR"] = str(cache_dir)
    e.update(env)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=True, env=e, cwd=ROOT
    )


def test_cached_dataclass_methods_make_the_same_classes(tmp_path):
    plain = json.loads(run(["-c", PROBE, "plain"], tmp_path).stdout)
    cold = json.loads(run(["-c", PROBE, "cache"], tmp_path).stdout)  # compiles, writes
    files = list(tmp_path.glob("code-*.marshal"))
    assert len(files) == 1
    warm = json.loads(run(["-c", PROBE, "cache"], tmp_path).stdout)  # reads them back
    assert plain == cold == warm


def test_the_shadowed_modules_compile_without_future_flags():
    """The cache compiles without `__future__` flags: right only for modules that have none."""
    import importlib

    from rplcare.util import codecache

    for name, _ in codecache.SHADOWED:
        assert not codecache.has_future_flags(importlib.import_module(name)), name
    for name in codecache.SHADOWED_ON_IMPORT:
        assert not codecache.has_future_flags(importlib.import_module(name)), name
    assert not codecache.has_future_flags(codecache)  # the builtins it calls inherit none


def test_the_cache_file_is_the_users_own(tmp_path):
    run(["-c", PROBE, "cache"], tmp_path)
    (file,) = tmp_path.glob("code-*.marshal")
    assert file.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "args",
    [
        [str(EX / "aps-three-losses.yaml"), "--format", "json"],
        [str(EX / "bleeding-early-pregnancy.yaml")],
        [str(EX / "carrier-frozen-transfer.yaml"), "--definition", "asrm2012"],
    ],
)
def test_assess_prints_the_same_with_the_cache_cold_warm_corrupt_or_off(tmp_path, args):
    cli = ["-m", "rplcare.cli", "assess", *args]
    off = run(cli, None, RPLCARE_CACHE="0").stdout
    cold = run(cli, tmp_path).stdout
    (file,) = tmp_path.glob("code-*.marshal")
    warm = run(cli, tmp_path).stdout
    file.write_bytes(b"\x00not marshal")
    corrupt = run(cli, tmp_path).stdout
    assert off == cold == warm == corrupt
    assert file.stat().st_size > 100  # rewritten whole after the corrupt read


def test_code_a_start_does_not_use_is_not_kept_when_most_of_the_file(tmp_path):
    """A process that was more than this command (a test run calling main()) leaves more code
    than an assess start reads: the next start writes back only what it used."""
    import marshal

    cli = ["-m", "rplcare.cli", "assess", str(EX / "aps-three-losses.yaml"), "--format", "json"]
    run(cli, tmp_path)
    (file,) = tmp_path.glob("code-*.marshal")
    used = marshal.loads(file.read_bytes())
    junk = {("exec", f"x = {i}"): compile(f"x = {i}", "<string>", "exec") for i in range(3000)}
    file.write_bytes(marshal.dumps({**used, **junk}))
    run(cli, tmp_path)
    kept = marshal.loads(file.read_bytes()).keys()
    assert kept <= used.keys() and not kept & junk.keys()
    before = file.read_bytes()
    run(cli, tmp_path)  # nothing new, nothing unused: not rewritten
    assert file.read_bytes() == before
