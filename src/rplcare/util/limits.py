"""Input limits checked before anything is built from untrusted text (case files, API bodies,
forms, FHIR bundles, CDS Hooks requests).

Every check runs on a stream with a bounded amount of state, before the recursive parts
(PyYAML's composer, `json.loads`, pydantic) see the input, so a hostile input costs at most
the size limit and ends in one `PATH: message` naming the limit:

- size: the whole text (bytes), checked before it is read in full;
- depth: nesting of mappings and lists (a 25,000-deep `[[[...` is refused at level 65, not
  handed to libyaml's composer, which recurses on the C stack and crashes);
- items: entries of one list or mapping; string length; integer digits (Python refuses to
  convert more than 4,300 and a case never needs more than a few dozen);
- aliases: how many times YAML aliases are used, and the size of the document once every
  alias is expanded (so one anchor used 300 times is not 300 copies in the database).

The defaults suit any real case file and FHIR Bundle; each can be changed with an environment
setting (`docs/deployment.md`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from rplcare.case.errors import CaseError

ENV = {
    "body_bytes": "RPLCARE_MAX_BODY_BYTES",
    "depth": "RPLCARE_MAX_DEPTH",
    "items": "RPLCARE_MAX_ITEMS",
    "string_chars": "RPLCARE_MAX_STRING",
    "int_digits": "RPLCARE_MAX_INT_DIGITS",
    "aliases": "RPLCARE_MAX_ALIASES",
    "expanded": "RPLCARE_MAX_EXPANDED",
}


@dataclass(frozen=True)
class Limits:
    """The input limits (sizes, nesting, counts) a case is read within."""

    body_bytes: int = 1_000_000  # size of one case file / request body
    depth: int = 64  # nesting of mappings and lists
    items: int = 10_000  # entries in one list or mapping
    string_chars: int = 100_000  # characters in one string
    int_digits: int = 50  # digits in one integer
    aliases: int = 100  # YAML alias uses in one document
    expanded: int = 2_000_000  # nodes + string characters once aliases are expanded

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """The defaults, overridden by `RPLCARE_MAX_*` settings (positive integers)."""
        env = os.environ if env is None else env
        values: dict[str, int] = {}
        for f in fields(cls):
            raw = env.get(ENV[f.name])
            if raw is None or not raw.strip():
                continue
            try:
                value = int(raw.strip().replace("_", ""))
            except ValueError:
                value = 0
            if value <= 0:
                raise ValueError(f"{ENV[f.name]}={raw!r}: must be a positive integer")
            values[f.name] = value
        return cls(**values)


def current() -> Limits:
    """The limits in force (read from the environment each time: settings are cheap)."""
    return Limits.from_env()


class LimitError(CaseError):
    """Input over a limit: 413 for the size, 422 for the structure, exit 2 in the CLI."""

    def __init__(self, path: str, message: str, status: int = 422) -> None:
        self.status = status
        super().__init__([(path, message)])


def too_large(size: int | str, limit: int, what: str = "the input") -> LimitError:
    return LimitError(
        "",
        f"{what} is {size} bytes, over the limit of {limit:,} bytes ({ENV['body_bytes']})",
        status=413,
    )


def check_size(size: int, limits: Limits | None = None, what: str = "the input") -> None:
    limits = limits or current()
    if size > limits.body_bytes:
        raise too_large(f"{size:,}", limits.body_bytes, what)


def _over(path: str, what: str, limit: int, key: str) -> LimitError:
    return LimitError(path, f"{what}, over the limit of {limit:,} ({ENV[key]})")


def _join(frames: Iterable[list[Any]]) -> str:
    frames = list(frames)
    if len(frames) > 12:  # a nesting bomb: the first levels, how many, the last ones
        head, tail = _join(frames[:6]), _join(frames[-2:]).lstrip(".")
        sep = "" if tail.startswith("[") else "."
        return f"{head}…({len(frames) - 8} levels)…{sep}{tail}"
    out = ""
    for frame in frames:
        pos = frame[2]
        if pos is None:
            continue
        if isinstance(pos, int):
            out += f"[{pos}]"
        else:
            out += f".{pos}" if out else str(pos)
    return out


# frames: [kind ("map" | "seq"), expecting_key (maps), position (key or index), count]

_YAML_INT = re.compile(
    r"[-+]?(?:0b[0-1_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])*)", re.ASCII
)


def _digits(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def scan_yaml(text: str, limits: Limits | None = None) -> None:
    """Walk libyaml's event stream (an iterative parser: no recursion, no document built)
    and stop at the first limit crossed. Syntax errors are left to the real load."""
    import yaml

    limits = limits or current()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    frames: list[list[Any]] = []
    anchors: dict[str, int] = {}
    open_anchors: list[tuple[str | None, int]] = []  # per open collection
    cost = 0
    aliases = 0

    def place() -> str:
        """The path of the node about to start; advances the parent's position."""
        if not frames:
            return ""
        top = frames[-1]
        if top[0] == "seq":
            top[2] = top[3]
            top[3] += 1
            if top[3] > limits.items:
                raise _over(
                    _join(frames), f"more than {limits.items:,} list items", limits.items, "items"
                )
        return _join(frames)

    def scalar_key(value: str) -> None:
        top = frames[-1] if frames else None
        if top is not None and top[0] == "map":
            if top[1]:
                top[2] = value if len(value) <= 200 else value[:200] + "…"
                top[3] += 1
                if top[3] > limits.items:
                    raise _over(
                        _join(frames[:-1]) or "(top)",
                        f"more than {limits.items:,} keys",
                        limits.items,
                        "items",
                    )
            top[1] = not top[1]

    def node_done_in_map() -> None:
        top = frames[-1] if frames else None
        if top is not None and top[0] == "map":
            if top[1]:  # a collection used as a key
                top[2] = "?"
            top[1] = not top[1]

    try:
        for event in yaml.parse(text, Loader=loader):
            kind = type(event).__name__
            if kind == "ScalarEvent":
                value = event.value
                place()
                in_key = bool(frames) and frames[-1][0] == "map" and frames[-1][1]
                where = _join(frames) if not in_key else _join(frames[:-1])
                if len(value) > limits.string_chars:
                    raise _over(
                        where or "(top)",
                        f"a string of {len(value):,} characters",
                        limits.string_chars,
                        "string_chars",
                    )
                if (
                    not event.style  # plain ("" from libyaml, None from the Python parser)
                    and len(value) > limits.int_digits
                    and _YAML_INT.fullmatch(value)
                    and _digits(value) > limits.int_digits
                ):
                    raise _over(
                        where or "(top)",
                        f"an integer of {_digits(value):,} digits",
                        limits.int_digits,
                        "int_digits",
                    )
                cost += 1 + len(value)
                if event.anchor:
                    anchors[event.anchor] = 1 + len(value)
                scalar_key(value)
            elif kind == "AliasEvent":
                place()
                aliases += 1
                if aliases > limits.aliases:
                    raise _over(
                        _join(frames) or "(top)",
                        f"more than {limits.aliases} aliases",
                        limits.aliases,
                        "aliases",
                    )
                cost += anchors.get(event.anchor, 1)
                scalar_key("*" + str(event.anchor))
            elif kind in ("MappingStartEvent", "SequenceStartEvent"):
                place()
                if len(frames) >= limits.depth:
                    raise _over(
                        _join(frames) or "(top)",
                        f"nesting deeper than {limits.depth}",
                        limits.depth,
                        "depth",
                    )
                cost += 1
                open_anchors.append((event.anchor, cost))
                frames.append(["map", True, None, 0] if kind[0] == "M" else ["seq", False, None, 0])
            elif kind in ("MappingEndEvent", "SequenceEndEvent"):
                frames.pop()
                anchor, start = open_anchors.pop()
                if anchor:
                    anchors[anchor] = cost - start + 1
                node_done_in_map()
            else:
                continue
            if cost > limits.expanded:
                raise _over(
                    _join(frames) or "(top)",
                    f"the document expands to more than {limits.expanded:,} "
                    "nodes and characters (aliases counted each time they are used)",
                    limits.expanded,
                    "expanded",
                )
    except yaml.YAMLError:
        return  # the real load reports the syntax error with its line and column


_JSON_TOKEN = re.compile(
    r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]|-?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?', re.DOTALL
)


def scan_json(text: str, limits: Limits | None = None) -> None:
    """Depth, items, string and integer limits of a JSON text, in one pass over its tokens
    with a stack no deeper than the depth limit (what `json.loads` recursion cannot be)."""
    import json

    limits = limits or current()
    frames: list[list[Any]] = []
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        c = tok[0]
        top = frames[-1] if frames else None
        if c in "[{":
            if top is not None and top[0] == "seq" and top[2] is None:
                top[2] = 0
            if len(frames) >= limits.depth:
                raise _over(
                    _join(frames) or "(top)",
                    f"nesting deeper than {limits.depth}",
                    limits.depth,
                    "depth",
                )
            frames.append(["map", True, None, 0] if c == "{" else ["seq", False, None, 0])
        elif c in "]}":
            if frames:
                frames.pop()
        elif c == ",":
            if top is None:
                continue
            if top[0] == "seq":
                top[2] = (top[2] or 0) + 1
                if top[2] >= limits.items:
                    raise _over(
                        _join(frames[:-1]) or "(top)",
                        f"more than {limits.items:,} list items",
                        limits.items,
                        "items",
                    )
            else:
                top[1] = True
        elif c == ":":
            if top is not None and top[0] == "map":
                top[1] = False
        elif c == '"':
            if len(tok) - 2 > limits.string_chars:
                raise _over(
                    _join(frames) or "(top)",
                    f"a string of {len(tok) - 2:,} characters",
                    limits.string_chars,
                    "string_chars",
                )
            if top is not None and top[0] == "map" and top[1]:
                try:
                    key = json.loads(tok)
                except ValueError:
                    key = tok[1:-1]
                top[2] = key if len(key) <= 200 else key[:200] + "…"
                top[3] += 1
                if top[3] > limits.items:
                    raise _over(
                        _join(frames[:-1]) or "(top)",
                        f"more than {limits.items:,} keys",
                        limits.items,
                        "items",
                    )
            elif top is not None and top[0] == "seq" and top[2] is None:
                top[2] = 0
        else:  # a number
            if top is not None and top[0] == "seq" and top[2] is None:
                top[2] = 0
            whole = tok.lstrip("-").split(".")[0].split("e")[0].split("E")[0]
            if len(whole) > limits.int_digits:
                raise _over(
                    _join(frames) or "(top)",
                    f"a number of {len(whole):,} digits",
                    limits.int_digits,
                    "int_digits",
                )


def check_tree(value: Any, limits: Limits | None = None, path: str = "") -> None:
    """The same limits on an already-built JSON-like value (iteratively: no recursion)."""
    limits = limits or current()
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    seen = 0
    while stack:
        node, where, depth = stack.pop()
        seen += 1
        if seen > limits.expanded:
            raise _over(
                where or "(top)",
                f"more than {limits.expanded:,} values",
                limits.expanded,
                "expanded",
            )
        if isinstance(node, Mapping | list | tuple):
            if depth >= limits.depth:
                raise _over(
                    where or "(top)", f"nesting deeper than {limits.depth}", limits.depth, "depth"
                )
            if len(node) > limits.items:
                raise _over(where or "(top)", f"{len(node):,} entries", limits.items, "items")
            if isinstance(node, Mapping):
                for k, v in node.items():
                    key = str(k)
                    stack.append((v, f"{where}.{key}" if where else key, depth + 1))
            else:
                for i, v in enumerate(node):
                    stack.append((v, f"{where}[{i}]", depth + 1))
        elif isinstance(node, str):
            if len(node) > limits.string_chars:
                raise _over(
                    where or "(top)",
                    f"a string of {len(node):,} characters",
                    limits.string_chars,
                    "string_chars",
                )
        elif (
            isinstance(node, int)
            and not isinstance(node, bool)
            and node.bit_length() * 0.30103 > limits.int_digits  # log10(2): digits from bits
        ):
            raise _over(
                where or "(top)",
                "an integer with too many digits",
                limits.int_digits,
                "int_digits",
            )


def parse_json(text: str | bytes, limits: Limits | None = None) -> Any:
    """`json.loads` after `scan_json`: bad JSON is a CaseError naming line and column."""
    import json

    limits = limits or current()
    if isinstance(text, bytes):
        check_size(len(text), limits)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CaseError([("", f"not UTF-8 text (byte {exc.start})")]) from None
    else:
        check_size(len(text.encode("utf-8", "surrogatepass")), limits)
    scan_json(text, limits)
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or a number Python refuses
        raise CaseError([("", f"not valid JSON: {exc}")]) from None


def read_json_file(path: Any, limits: Limits | None = None) -> Any:
    """A JSON file read within the limits (at most one byte over the size limit is read)."""
    from pathlib import Path

    limits = limits or current()
    with Path(path).open("rb") as fh:
        raw = fh.read(limits.body_bytes + 1)
    if len(raw) > limits.body_bytes:
        raise too_large(f"over {limits.body_bytes:,}", limits.body_bytes, "the file")
    return parse_json(raw, limits)
