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
    pickle: change any and the key changes.

    A file's content changes its size, modification time or status-change time (ctime, which
    no program sets: writing, renaming or replacing a file moves it), so the digest of a set of
    files whose (name, size, mtime, ctime, inode, device) are those of an earlier run is the
    one that run computed: it is kept in the cache directory (`fingerprints.marshal`) and the
    files are only read and hashed when one of them changed (issue 12 §2: hashing the ~0.4 MB
    of code and data was about 1.5 % of a run)."""
    from rplcare import __version__

    files = list(files)
    pyd = sys.modules.get("pydantic.version")
    versions = f"{__version__}\0{sys.version}\0{pickle.HIGHEST_PROTOCOL}\0"
    pyd_version = str(getattr(pyd, "VERSION", "")) if pyd is not None else None
    try:
        stats = [(os.fspath(f), *_stat(f)) for f in files]
    except OSError:
        stats = None
    if stats is not None:
        seen = _seen_fingerprints()
        where = hashlib.blake2b(repr((versions, pyd_version, stats)).encode(), digest_size=16)
        known = seen.get(where.digest())
        if isinstance(known, bytes):
            return known
    # BLAKE2b: about half the instructions of SHA-256 over the ~0.5 MB of files hashed
    h = hashlib.blake2b(digest_size=32)
    h.update(versions.encode())
    if pyd_version is not None:
        h.update(pyd_version.encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    digest = h.digest()
    if stats is not None:
        _remember_fingerprint(where.digest(), digest)
    return digest


def _stat(f: Path) -> tuple[int, int, int, int, int]:
    st = os.stat(f)
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


_FINGERPRINTS: dict[str, dict[bytes, bytes]] = {}
_KEEP = 64  # fingerprints kept (each edit of a file adds one)


def _seen_fingerprints() -> dict[bytes, bytes]:
    """The (stat signature -> digest) pairs of earlier runs, read once per process."""
    root = cache_dir()
    key = str(root)
    if key not in _FINGERPRINTS:
        seen: dict[bytes, bytes] = {}
        if root is not None:
            import marshal

            try:
                loaded = marshal.loads((root / "fingerprints.marshal").read_bytes())
                if isinstance(loaded, dict):
                    seen = loaded
            except Exception:  # missing, unreadable, corrupt: hash the files
                pass
        _FINGERPRINTS[key] = seen
    return _FINGERPRINTS[key]


def _remember_fingerprint(where: bytes, digest: bytes) -> None:
    root = cache_dir()
    if root is None:
        return
    seen = _seen_fingerprints()
    seen.pop(where, None)
    seen[where] = digest
    for old in list(seen)[: max(0, len(seen) - _KEEP)]:
        del seen[old]
    import marshal

    try:
        import tempfile

        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".fingerprints-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                marshal.dump(seen, fh)
            os.replace(tmp, root / "fingerprints.marshal")
        except BaseException:
            os.unlink(tmp)
            raise
    except Exception:  # read-only, full: hashed again next run
        pass


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
