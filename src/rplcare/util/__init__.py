"""Small shared helpers with no clinical content."""

from typing import Any


def empty_list() -> list[Any]:
    """`default_factory=list` for a pydantic field, as a Python function: pydantic reads the
    signature of each factory, and a builtin's costs a tokenizer pass (issue 12 §2)."""
    return []
