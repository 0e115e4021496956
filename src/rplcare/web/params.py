"""Query parameters shared by the plan, history and document routes of the pages and the API.

`Documents` is one FastAPI dependency for the `definition` and `luteal_policy` query
parameters, so every route reads, defaults and checks them the same way. A value outside the
allowed ones is refused with 422, every bad parameter at once, each problem naming the
parameter (`path`) and listing the `allowed` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query

from rplcare.case.errors import CaseError
from rplcare.store.repository import DEFINITIONS, LUTEAL_POLICIES

DEFAULT_DEFINITION = DEFINITIONS[0]
DEFAULT_LUTEAL_POLICY = LUTEAL_POLICIES[0]


class ParamError(CaseError):
    """Bad query parameters; each problem carries the allowed values."""

    def __init__(self, problems: list[tuple[str, str, tuple[str, ...]]]):
        super().__init__([(path, message) for path, message, _ in problems])
        self.allowed = {path: list(values) for path, _, values in problems}

    def as_json(self) -> list[dict[str, Any]]:
        return [{**p, "allowed": self.allowed.get(p["path"], [])} for p in super().as_json()]


@dataclass(frozen=True)
class DocumentOptions:
    """The definition and luteal policy an assessment (and every document of it) is made under."""

    definition: str = DEFAULT_DEFINITION
    luteal_policy: str = DEFAULT_LUTEAL_POLICY

    def query(self) -> str:
        """As a query string, for the links that must carry the choice (report, handout, ICS)."""
        return urlencode({"definition": self.definition, "luteal_policy": self.luteal_policy})


def _one_of(allowed: tuple[str, ...], description: str) -> Any:
    """A query parameter taking one of `allowed` (listed as its enum in the OpenAPI schema)."""
    return Query(description=description, json_schema_extra={"enum": list(allowed)})


def document_options(
    definition: Annotated[
        str, _one_of(DEFINITIONS, "RPL definition the assessment uses")
    ] = DEFAULT_DEFINITION,
    luteal_policy: Annotated[
        str, _one_of(LUTEAL_POLICIES, "Luteal-phase support policy")
    ] = DEFAULT_LUTEAL_POLICY,
) -> DocumentOptions:
    problems: list[tuple[str, str, tuple[str, ...]]] = []
    for name, value, allowed in (
        ("definition", definition, DEFINITIONS),
        ("luteal_policy", luteal_policy, LUTEAL_POLICIES),
    ):
        if value not in allowed:
            problems.append(
                (name, f"{value[:40]!r} is not allowed (allowed: {', '.join(allowed)})", allowed)
            )
    if problems:
        raise ParamError(problems)
    return DocumentOptions(definition, luteal_policy)


#: the dependency to declare in a route: `opts: Documents`
Documents = Annotated[DocumentOptions, Depends(document_options)]
