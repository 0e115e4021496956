"""Small shared helpers with no clinical content."""

import os
from typing import Any


def empty_list() -> list[Any]:
    """`default_factory=list` for a pydantic field, as a Python function: pydantic reads the
    signature of each factory, and a builtin's costs a tokenizer pass (issue 12 §2)."""
    return []


def cache_root() -> str | None:
    """The user's cache directory of rplcare, as a string (no pathlib: `rplcare.util.codecache`
    reads it before anything else is imported), or None when `RPLCARE_CACHE=0`; see
    `rplcare.util.cache`."""
    if os.environ.get("RPLCARE_CACHE", "1") == "0":
        return None
    explicit = os.environ.get("RPLCARE_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rplcare")
