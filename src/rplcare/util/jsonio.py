"""JSON out through orjson, the one encoder every face uses (CLI, API, CDS, screening).

`dumps(obj)` gives the same text as `json.dumps(obj, indent=2, ensure_ascii=False)` for the
documents rplcare writes, except that a float written in exponent form loses its zero padding
(`1e-07` becomes `1e-7`, `1e+16` becomes `1e16`); both parse to the same number
(tests/test_jsonio.py checks the rest on generated documents). `compact=True` gives the
separators `,` and `:` (what `json.dumps(..., separators=(",", ":"))` gives).
`ensure_ascii=True` writes every non-ASCII character (and DEL) as `\\uXXXX` as `json.dumps` does by
default. `default=` is called for what orjson does not write itself, and for dates, times and
dataclasses too, so `default=str` writes them as `json.dumps(..., default=str)` does; keys
that are not strings are then written as strings, as `json.dumps` writes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

_INDENT = orjson.OPT_INDENT_2
_SORT = orjson.OPT_SORT_KEYS
_AS_JSON_DOES = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
)
_NON_ASCII = re.compile(r"[^\x00-\x7e]")  # json's ensure_ascii escapes DEL (0x7f) too


def _escape(m: re.Match[str]) -> str:
    n = ord(m.group(0))
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000  # a surrogate pair, as json.dumps writes a character past the BMP
    return f"\\u{0xD800 | (n >> 10):04x}\\u{0xDC00 | (n & 0x3FF):04x}"


def dumps(
    obj: Any,
    *,
    compact: bool = False,
    sort_keys: bool = False,
    ensure_ascii: bool = False,
    default: Callable[[Any], Any] | None = None,
) -> str:
    """Serialise to a str; indented by two spaces unless `compact`."""
    text = dumps_bytes(obj, compact=compact, sort_keys=sort_keys, default=default).decode()
    if ensure_ascii:
        # such characters only occur inside strings, so escaping them anywhere is json's output
        text = _NON_ASCII.sub(_escape, text)
    return text


def dumps_bytes(
    obj: Any,
    *,
    compact: bool = False,
    sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None,
) -> bytes:
    option = 0 if compact else _INDENT
    if sort_keys:
        option |= _SORT
    if default is not None:
        option |= _AS_JSON_DOES
    return orjson.dumps(obj, default=default, option=option)
