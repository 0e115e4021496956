"""Sentence templates: `{param:NAME}` / `{dose:ID}` resolved at load, `{slot}` filled at use.

A sentence in the knowledge base never repeats a number the parameters hold: it names the
parameter, and the loader writes the value in the parameter's display convention (`shown_as`):

- `number` (default): the value as written (`48`, `2.5`, `4` for 4.0);
- `thousands`: with a thousands separator (1500 → `1,500`);
- `ga`: whole days as gestational age "W+D" (84 → `12+0`);
- `ga_before`: the last day before the limit (168 → `23+6`, for "before 24+0" ranges);
- `weeks`: days as weeks (84 → `12`); `months`: days as whole months (91 → `3`).

A placeholder may override the convention: `{param:aps.persistence_days|weeks}`.
`{dose:ID}` writes a structured dose ("400 mg twice daily"); `{dose:ID|amount}` only the
amount ("400 mg"). A name the knowledge base does not hold is a load error naming it.

What is left after load are runtime slots such as `{value}`: the code that computes a finding
passes them by name (`kb.say(id, value=...)`); a missing or unexpected slot raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

PARAM = re.compile(r"\{(param|dose):([A-Za-z0-9_.\-]+)(?:\|([a-z_]+))?\}")
SLOT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
ANY_BRACE = re.compile(r"[{}]")
STYLES = ("number", "thousands", "ga", "ga_before", "weeks", "months")
DOSE_STYLES = ("full", "amount")
_DAYS_PER_MONTH = 30.4375


def format_number(value: float | int) -> str:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return str(value)
    return f"{value:g}"


def format_value(value: Any, style: str) -> str:
    """One parameter value in a display convention (see the module docstring)."""
    if style == "number":
        if isinstance(value, int | float):
            return format_number(value)
        if isinstance(value, str):
            return value
        raise ValueError(f"a {type(value).__name__} value cannot be written into a sentence")
    if style == "thousands":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"style 'thousands' needs a number, not {value!r}")
        return f"{value:,g}" if isinstance(value, float) else f"{value:,}"
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"style {style!r} needs whole days, not {value!r}")
    if style == "ga":
        return f"{value // 7}+{value % 7}"
    if style == "ga_before":
        return f"{(value - 1) // 7}+{(value - 1) % 7}"
    if style == "weeks":
        return format_number(value // 7 if value % 7 == 0 else round(value / 7, 1))
    if style == "months":
        return str(round(value / _DAYS_PER_MONTH))
    raise ValueError(f"unknown style {style!r} (allowed: {', '.join(STYLES)})")


def join_or(values: list[object] | tuple[object, ...]) -> str:
    """'3, 5 or 6' for an allowed-values message."""
    items = [str(v) for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def resolve(
    text: str,
    param: Callable[[str, str | None], str],
    dose: Callable[[str, str | None], str],
) -> str:
    """Replace every `{param:...}` / `{dose:...}`; the callables raise KeyError/ValueError."""

    def sub(m: re.Match[str]) -> str:
        kind, name, style = m.group(1), m.group(2), m.group(3)
        return param(name, style) if kind == "param" else dose(name, style)

    return PARAM.sub(sub, text)


def check_slots(text: str) -> list[str]:
    """Problems with the braces left after resolution (only `{slot}` names are allowed)."""
    rest = SLOT.sub("", text)
    if ANY_BRACE.search(rest):
        return [f"stray brace or bad placeholder in {text!r} (use {{param:NAME}} or {{slot}})"]
    return []


def slots(text: str) -> set[str]:
    return set(SLOT.findall(text))


@lru_cache(maxsize=4096)
def _slots_of(template: str) -> frozenset[str]:
    """`slots()` of a template, once per template (the knowledge base's are a fixed few)."""
    return frozenset(SLOT.findall(template))


def fill(key: str, template: str, values: Mapping[str, object]) -> str:
    """Fill the runtime slots of a resolved template; every slot given, none extra."""
    wanted = _slots_of(template)
    given = set(values)
    missing = sorted(wanted - given)
    extra = sorted(given - wanted)
    if missing or extra:
        raise KeyError(
            f"sentence {key!r}: "
            + "; ".join(
                p
                for p in (
                    f"missing slot(s) {', '.join(missing)}" if missing else "",
                    f"unexpected slot(s) {', '.join(extra)}" if extra else "",
                )
                if p
            )
        )
    return SLOT.sub(lambda m: str(values[m.group(1)]), template)
