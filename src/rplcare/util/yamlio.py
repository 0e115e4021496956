"""YAML reading through libyaml when PyYAML has it (about 10x faster than the pure-Python
loader, which dominated `rplcare assess` start-up), with identical safe semantics.

Untrusted text (`load_untrusted`) is first checked against the input limits on libyaml's event
stream (`rplcare.util.limits.scan_yaml`: depth, sizes, integer digits, alias expansion), so the
recursive composer never sees a nesting bomb or an alias bomb. Scalars that look like a date
or an integer but are not one (`2026-13-45`, `2026-02-30`, hour 25) stay strings, so the case
validation reports them at their path instead of the YAML constructor raising.
"""

from __future__ import annotations

from typing import IO, Any

import yaml

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, but an impossible date or time, or an integer Python refuses to
    convert, stays the string that was written; so does a scalar with an explicit tag its
    constructor cannot read (`!!timestamp format`, `!!bool maybe`, `!!int ''`: PyYAML raises
    AttributeError, KeyError or IndexError on these, not a YAMLError)."""


# what PyYAML's scalar constructors raise on a value they cannot read
_UNREADABLE = (ValueError, OverflowError, AttributeError, KeyError, IndexError, TypeError)


def _tolerant(tag: str) -> None:
    original = _Base.yaml_constructors[tag]

    def construct(loader: Any, node: Any) -> Any:
        try:
            return original(loader, node)
        except _UNREADABLE:
            return loader.construct_scalar(node)

    _Loader.add_constructor(tag, construct)


for _tag in (
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
):
    _tolerant(_tag)


def load(stream: str | bytes | IO[str]) -> Any:
    """`yaml.safe_load`, through libyaml when available (trusted files: the knowledge base)."""
    return yaml.load(stream, Loader=_Loader)


def load_untrusted(text: str, limits: Any = None) -> Any:
    """Load YAML from outside (a case file, a request body) within the input limits."""
    from rplcare.util import limits as lim

    lim.scan_yaml(text, limits)
    return yaml.load(text, Loader=_Loader)
