"""A per-user cache of objects built from packaged data files (issue 12 §2: the knowledge base,
the terminology and the case vocabulary are read from YAML and validated at every start).

`cached(name, key, build)` returns the object pickled under the key, or builds it and stores
it. The key is the BLAKE2b-256 of the data the object is built from AND of the code that builds it
(`fingerprint()`: the source files, rplcare's, Python's and pydantic's versions), so an edit to
either builds afresh. The cache is in `RPLCARE_CACHE_DIR`, else `$XDG_CACHE_HOME/rplcare`,
else `~/.cache/rplcare`; `RPLCARE_CACHE=0` turns it off. A cache that cannot be read or
written (read-only home, a corrupt or foreign file) is skipped: the object is built as without
it, and the error is never the caller's. The files are the user's own (as ~/.bashrc is): a
pickle is only read from that directory, and only the type `build` returns is accepted.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def cache_dir() -> Path | None:
    from rplcare.util import cache_root

    root = cache_root()
    return None if root is None else Path(root)


def fingerprint(files: Iterable[Path]) -> bytes:
    """The bytes of `files` (names and contents, in order) with the versions that shape a
    pickle: change any and the key changes."""
    from rplcare import __version__

    # BLAKE2b: about half the instructions of SHA-256 over the ~0.5 MB of files hashed
    h = hashlib.blake2b(digest_size=32)
    h.update(f"{__version__}\0{sys.version}\0{pickle.HIGHEST_PROTOCOL}\0".encode())
    pyd = sys.modules.get("pydantic.version")
    if pyd is not None:
        h.update(str(getattr(pyd, "VERSION", "")).encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.digest()


def cached(name: str, key: bytes, build: Callable[[], T], kind: type[T]) -> T:
    """The object stored as `name` under `key` (an instance of `kind`), else `build()`,
    stored for the next run when the cache directory can be written."""
    root = cache_dir()
    if root is None:
        return build()
    path = root / f"{name}-{hashlib.sha256(key).hexdigest()[:32]}.pickle"
    try:
        with path.open("rb") as fh:
            obj = pickle.load(fh)
        if isinstance(obj, kind):
            return obj
    except Exception:  # missing, unreadable, corrupt, from other code: build it
        pass
    obj = build()
    try:
        import tempfile  # only when writing: it imports shutil, bz2, lzma and random

        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
        except BaseException:
            os.unlink(tmp)
            raise
    except Exception:  # read-only, full, or not picklable: the next run builds it again
        pass
    return obj
