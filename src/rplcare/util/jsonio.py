"""JSON out through orjson, the one encoder every face uses (CLI, API, CDS, screening).

`dumps(obj)` gives the same text as `json.dumps(obj, indent=2, ensure_ascii=False)` for the
documents rplcare writes, except that a float written in exponent form loses its zero padding
(`1e-07` becomes `1e-7`); both parse to the same number. `compact=True` gives the separators
`,` and `:` (what `json.dumps(..., separators=(",", ":"))` gives).
"""

from __future__ import annotations

from typing import Any

import orjson

_INDENT = orjson.OPT_INDENT_2
_SORT = orjson.OPT_SORT_KEYS


def dumps(obj: Any, *, compact: bool = False, sort_keys: bool = False) -> str:
    """Serialise to a str; indented by two spaces unless `compact`."""
    return dumps_bytes(obj, compact=compact, sort_keys=sort_keys).decode()


def dumps_bytes(obj: Any, *, compact: bool = False, sort_keys: bool = False) -> bytes:
    option = 0 if compact else _INDENT
    if sort_keys:
        option |= _SORT
    return orjson.dumps(obj, option=option)
