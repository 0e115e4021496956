"""Import a FHIR R4 Bundle as a case: validate every resource (R4B models), then map.

Files from outside deserve full structural validation before anything is read from them; the
CDS hot path skips this step and calls `fhir.read` directly. `fhir.resources` has no R4 package;
R4B (4.3.0) is the closest and accepts R4 shapes such as `medicationCodeableConcept` that the
default R5 models reject (interop.md §0.5), so the R4B classes are imported explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from rplcare.case.errors import CaseError, join_path
from rplcare.interop.fhir.read import MappingError, bundle_entries, case_from_entries

__all__ = ["ImportResult", "import_bundle", "validate_bundle"]


@dataclass
class ImportResult:
    """The case mapping (for `load_case`) and every resource part that did not fit in it."""

    case: dict[str, Any]
    unmapped: list[dict[str, Any]] = field(default_factory=list)
    #: case path prefix -> "Type/id", so a later case error can name the resource it came from
    sources: dict[str, str] = field(default_factory=dict)
    #: what the reader did that the user should know (later data left out, codes merged...)
    notes: list[str] = field(default_factory=list)

    def explain(self, path: str) -> str | None:
        best: tuple[str, str] | None = None
        for prefix, ref in self.sources.items():
            hit = path == prefix or path.startswith((prefix + ".", prefix + "["))
            if hit and (best is None or len(prefix) > len(best[0])):
                best = (prefix, ref)
        return best[1] if best else None


def _bad_resource_types(bundle: Any) -> list[tuple[str, str]]:
    """Every `resourceType` that is not a string naming an R4B resource, with its path."""
    from fhir.resources.R4B import get_fhir_model_class

    problems: list[tuple[str, str]] = []
    stack: list[tuple[Any, list[Any]]] = [(bundle, [])]
    while stack and len(problems) < 50:
        node, path = stack.pop()
        if isinstance(node, dict):
            if "resourceType" in node:
                rt = node["resourceType"]
                ok = isinstance(rt, str) and rt.isascii() and rt.isalpha() and len(rt) < 64
                if ok:
                    try:
                        get_fhir_model_class(rt)
                    except (KeyError, ValueError, AttributeError, ImportError):
                        ok = False
                if not ok:
                    shown = repr(rt) if not isinstance(rt, dict | list) else type(rt).__name__
                    problems.append(
                        (
                            join_path([*path, "resourceType"]),
                            f"{shown[:60]}: not a FHIR R4 resource type",
                        )
                    )
            stack.extend((v, [*path, k]) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in enumerate(node))
    return sorted(problems)


def validate_bundle(bundle: Any) -> list[tuple[str, str]]:
    """Problems (path, message) of a Bundle checked against the FHIR R4B models; [] if valid."""
    if not isinstance(bundle, dict):
        return [("", f"a FHIR Bundle must be a JSON object, not {type(bundle).__name__}")]
    if bundle.get("resourceType") != "Bundle":
        return [("resourceType", f"{bundle.get('resourceType')!r}: expected 'Bundle'")]
    bad_types = _bad_resource_types(bundle)
    if bad_types:  # fhir.resources raises KeyError / TypeError on these instead of reporting
        return bad_types
    try:
        Bundle.model_validate(bundle)
    except (KeyError, TypeError, AttributeError, RecursionError) as exc:
        return [("", f"not a valid FHIR Bundle ({type(exc).__name__})")]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            cause = (err.get("ctx") or {}).get("error")
            msg = str(cause) if cause is not None else err["msg"]
            problems.append((join_path(list(err["loc"])), msg))
        return problems
    return []


def import_bundle(
    bundle: dict[str, Any] | list[dict[str, Any]],
    patient_id: str | None = None,
    today: date | None = None,
) -> ImportResult:
    """Validate a Bundle (or one patient's list of resources), then map it into a case mapping.

    A list (e.g. one patient's lines of a Bulk Data NDJSON export) is wrapped in a collection
    Bundle for validation. Data dated after `today` is left out (and said so in `notes`).

    Raises CaseError (paths into the Bundle) when the Bundle is not valid FHIR or holds no
    single patient to import. The mapping is what `load_case` reads; whatever could not be
    placed is in `unmapped` as {resource, id, code, why}.
    """
    if isinstance(bundle, list):
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in bundle],
        }
    problems = validate_bundle(bundle)
    if problems:
        raise CaseError(problems)
    try:
        mapped = case_from_entries(bundle_entries(bundle), patient_id=patient_id, today=today)
    except MappingError as exc:
        raise CaseError([(p or "entry", m) for p, m in exc.problems]) from None
    return ImportResult(
        mapped.case, [u.to_json() for u in mapped.unmapped], mapped.sources, mapped.notes
    )
