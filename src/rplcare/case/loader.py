"""Read a case from a path, text or mapping into a validated `Case` (or raise CaseError)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rplcare.case.errors import CaseError, from_validation_error
from rplcare.case.model import Case
from rplcare.knowledge import KnowledgeBase
from rplcare.util import yamlio


def read_mapping(source: str | Path | bytes) -> Any:
    """Parse YAML or JSON text, or the file at a path; syntax errors become CaseError."""
    if isinstance(source, Path) or (
        isinstance(source, str)
        and "\n" not in source
        and source.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CaseError([("", f"{path} is not UTF-8 text (byte {exc.start})")]) from None
        except OSError as exc:
            raise CaseError([("", f"cannot read {path}: {exc.strerror}")]) from None
    else:
        try:
            text = source.decode("utf-8") if isinstance(source, bytes) else source
        except UnicodeDecodeError as exc:
            raise CaseError(
                [("", f"not UTF-8 text (byte {exc.start}): save the case as UTF-8")]
            ) from None
    try:
        if text.lstrip().startswith(("{", "[")):
            return json.loads(text)
        return yamlio.load(text)
    except (json.JSONDecodeError, yamlio.YAMLError) as exc:
        raise CaseError([("", f"not valid YAML or JSON: {exc}")]) from None


def load_case(
    source: str | Path | bytes | Mapping[str, Any],
    today: date | None = None,
    warnings: list[str] | None = None,
    kb: KnowledgeBase | None = None,
) -> Case:
    """Validate a case; `assessed_on` defaults to `today` (the caller's clock, passed in).

    Warnings (e.g. an alias read as dydrogesterone) are appended to `warnings` when given and
    also kept on the case as `case_warnings`.
    """
    today = today or date.today()
    data = source if isinstance(source, Mapping) else read_mapping(source)
    if not isinstance(data, Mapping):
        raise CaseError([("", f"a case must be a mapping of fields, not {type(data).__name__}")])
    assessed_on = today
    raw = data.get("assessed_on")
    if raw is not None:
        with contextlib.suppress(ValidationError):  # reported by the full validation below
            assessed_on = TypeAdapter(date).validate_python(raw)
    context: dict[str, Any] = {
        "assessed_on": assessed_on,
        "today": today,
        "warnings": [],
        "kb": kb,  # None: the case model uses the packaged knowledge base
    }
    try:
        case = Case.model_validate(data, context=context)
    except ValidationError as exc:
        raise from_validation_error(exc, Case) from None
    if case.assessed_on is None:
        case.assessed_on = assessed_on
    case._warnings = list(context["warnings"])
    if warnings is not None:
        warnings.extend(context["warnings"])
    return case
