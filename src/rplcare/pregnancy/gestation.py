"""Gestational age as whole days, parsed from and printed as "W+D".

Everything that compares gestational ages works in whole days, so that "12+0" and 12 weeks are
the same thing and boundary rules (e.g. < 12+0) are exact integer comparisons.
"""

from __future__ import annotations

import math
import re

_WD = re.compile(r"^\s*(\d{1,2})\s*\+\s*([0-6])\s*$")


def parse_ga(value: str | int | float) -> int:
    """Gestational age in days from "W+D", or completed weeks as a number (8.5 = 8+3.5 → 59 d).

    Raises ValueError with a message fit for a user when the value is not a gestational age.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a gestational age (use weeks as 8, 8.5 or '8+3')")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a gestational age (weeks must be 0 or more)")
        return round(value * 7)
    if isinstance(value, str):
        m = _WD.match(value)
        if m:
            return int(m.group(1)) * 7 + int(m.group(2))
        try:
            return parse_ga(float(value))
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a gestational age (use weeks as 8, 8.5 or '8+3')")


def format_ga(days: int) -> str:
    """Whole days as "W+D" (e.g. 52 → "7+3")."""
    return f"{days // 7}+{days % 7}"
