"""Read a case from a path, text or mapping into a validated `Case` (or raise CaseError)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rplcare.case.errors import CaseError, from_validation_error
from rplcare.case.model import Case
from rplcare.knowledge import KnowledgeBase
from rplcare.util import limits as lim
from rplcare.util import yamlio
from rplcare.util.limits import Limits


def read_mapping(source: str | Path | bytes, limits: Limits | None = None) -> Any:
    """Parse YAML or JSON text, or the file at a path, within the input limits
    (`rplcare.util.limits`); syntax errors and limits crossed become CaseError."""
    limits = limits or lim.current()
    if isinstance(source, Path) or (
        isinstance(source, str)
        and "\n" not in source
        and source.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
        try:
            with path.open("rb") as fh:  # at most one byte over the limit is read
                raw = fh.read(limits.body_bytes + 1)
        except OSError as exc:
            raise CaseError([("", f"cannot read {path}: {exc.strerror}")]) from None
        if len(raw) > limits.body_bytes:
            raise lim.too_large(f"over {limits.body_bytes:,}", limits.body_bytes, str(path))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CaseError([("", f"{path} is not UTF-8 text (byte {exc.start})")]) from None
    else:
        if isinstance(source, bytes):
            lim.check_size(len(source), limits)
        elif len(source) > limits.body_bytes // 4:  # cheap bound first: 4 bytes a character
            lim.check_size(len(source.encode("utf-8", "surrogatepass")), limits)
        try:
            text = source.decode("utf-8") if isinstance(source, bytes) else source
        except UnicodeDecodeError as exc:
            raise CaseError(
                [("", f"not UTF-8 text (byte {exc.start}): save the case as UTF-8")]
            ) from None
    if text.lstrip().startswith(("{", "[")):
        return lim.parse_json(text, limits)
    try:
        return yamlio.load_untrusted(text, limits)
    except yamlio.YAMLError as exc:
        raise CaseError([("", f"not valid YAML or JSON: {exc}")]) from None
    except RecursionError:  # not reached within the depth limit; kept as a last guard
        raise CaseError([("", "nested too deeply")]) from None


@cache
def _date_adapter() -> TypeAdapter[date]:
    """Built once: a TypeAdapter builds its schema when made (issue 12 §1)."""
    return TypeAdapter(date)


def load_case(
    source: str | Path | bytes | Mapping[str, Any],
    today: date | None = None,
    warnings: list[str] | None = None,
    kb: KnowledgeBase | None = None,
) -> Case:
    """Validate a case; `assessed_on` defaults to `today` (the caller's clock, passed in).

    Warnings (e.g. an alias read as dydrogesterone) are appended to `warnings` as `PATH:
    message` lines when given, and kept on the case (`case.warnings`, and as (path, message)
    pairs in `case.warning_items`).
    """
    today = today or date.today()
    if isinstance(source, Mapping):
        lim.check_tree(source)
        data: Any = source
    else:
        data = read_mapping(source)
    if not isinstance(data, Mapping):
        raise CaseError([("", f"a case must be a mapping of fields, not {type(data).__name__}")])
    assessed_on = today
    raw = data.get("assessed_on")
    if raw is not None:
        with contextlib.suppress(ValidationError):  # reported by the full validation below
            assessed_on = _date_adapter().validate_python(raw)
    context: dict[str, Any] = {
        "assessed_on": assessed_on,
        "today": today,
        "warnings": [],
        "kb": kb,  # None: the case model uses the packaged knowledge base
    }
    try:
        case = Case.model_validate(data, context=context)
    except ValidationError as exc:
        # every problem at once: each part validated alone, and the whole-record checks run
        # on the parts that are valid (case.salvage)
        from rplcare.case.salvage import all_problems  # an invalid case only

        first = from_validation_error(exc, Case).problems
        raise CaseError(all_problems(data, context, first)) from None
    if case.assessed_on is None:
        case.assessed_on = assessed_on
    case._warning_items = list(context["warnings"])
    if warnings is not None:
        warnings.extend(case.warnings)
    return case
