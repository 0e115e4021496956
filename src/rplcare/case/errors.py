"""Input errors as `PATH: message` lines, every problem at once (pathling-style user-safe)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class CaseError(Exception):
    """A case that cannot be read: `problems` are (path, message) pairs, in input order."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{path}: {msg}" if path else msg for path, msg in self.problems]

    def as_json(self) -> list[dict[str, str]]:
        return [{"path": p, "message": m} for p, m in self.problems]


def warning_lines(items: list[tuple[str, str]]) -> list[str]:
    """Warnings as `PATH: message` lines, the form of `CaseError.lines()`."""
    return [f"{path}: {msg}" if path else msg for path, msg in items]


def warnings_json(items: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Warnings as `[{"path", "message"}]`, the form of `CaseError.as_json()`."""
    return [{"path": p, "message": m} for p, m in items]


def join_path(parts: tuple[Any, ...] | list[Any]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif isinstance(p, str) and p.startswith("["):
            out += p
        else:
            out += f".{p}" if out else str(p)
    return out


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The allowed field names of the model found at `loc` (for unknown-key messages)."""
    import types
    import typing

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        # unwrap Optional / list
        for _ in range(3):
            origin = typing.get_origin(ann)
            if origin in (list, tuple):
                ann = typing.get_args(ann)[0]
            elif origin in (typing.Union, types.UnionType):
                args = [a for a in typing.get_args(ann) if a is not type(None)]
                ann = args[0] if len(args) == 1 else ann
                if len(args) != 1:
                    break
            else:
                break
        current = ann
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def from_validation_error(exc: ValidationError, root: type[BaseModel]) -> CaseError:
    from rplcare.case.model import Problems

    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, Problems):
            for sub, msg in cause.problems:
                problems.append((join_path([*loc, *([sub] if sub else [])]), msg))
            continue
        path = join_path(loc)
        given = err.get("input")
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _fields_at(root, loc[:-1])
            hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
            problems.append((path, f"unknown field{hint}; a misspelt key would drop data"))
        elif kind == "missing":
            problems.append((path, "missing (required)"))
        elif kind == "value_error":
            problems.append((path, str(cause) if cause else err["msg"]))
        else:
            shown = repr(given) if not isinstance(given, dict | list) else type(given).__name__
            if len(shown) > 80:
                shown = shown[:60] + f"…({len(shown):,} characters)"
            problems.append((path, f"{shown}: {err['msg']}"))
    return CaseError(problems)
