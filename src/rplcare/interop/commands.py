"""What the `rplcare import-fhir`, `case-to-fhir` and `assess --format fhir` commands do.

The CLI module owns argument parsing; these functions own the behaviour and return the exit
status, so they can be tested without a process. Bad input is exit 2 with `PATH: message`
lines on stderr and nothing on stdout, as for every rplcare command.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import yaml

from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.interop.fhir.export import assessment_bundle
from rplcare.interop.fhir.importer import import_bundle
from rplcare.interop.fhir.read import readable_case
from rplcare.interop.fhir.write import case_to_bundle
from rplcare.util import jsonio

__all__ = ["assessment_fhir_json", "case_to_fhir", "import_fhir"]


def _fail(lines: list[str], err: TextIO) -> int:
    for line in lines:
        print(line, file=err)
    return 2


def import_fhir(
    bundle_path: Path,
    patient: str | None,
    output: Path | None,
    today: date | None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Write the case read from a FHIR Bundle as YAML; report unmapped resources on stderr.

    The case is checked with `load_case` before it is written, so a case that cannot be read
    is never produced; its problems name the resource they came from.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    from rplcare.util import limits

    try:
        bundle = limits.read_json_file(Path(bundle_path))
    except OSError as exc:
        return _fail([f"{bundle_path}: cannot read: {exc.strerror}"], err)
    except CaseError as exc:  # not UTF-8, not JSON, or over an input limit
        return _fail([f"{bundle_path}: {line}" for line in exc.lines()], err)
    try:
        result = import_bundle(bundle, patient_id=patient, today=today)
    except CaseError as exc:
        return _fail(exc.lines(), err)
    try:
        _case, dropped = readable_case(result.case, result.sources, today=today)
    except CaseError as exc:
        lines = []
        for path, msg in exc.problems:
            src = result.explain(path)
            lines.append(f"{path}: {msg}" + (f" (from {src})" if src else ""))
        return _fail(lines, err)
    result.unmapped += [u.to_json() for u in dropped]
    text = yaml.safe_dump(result.case, sort_keys=False, allow_unicode=True, width=100)
    if output is not None:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail([f"{output}: cannot write: {exc.strerror}"], err)
    else:
        out.write(text)
    for row in result.unmapped:
        ref = f"{row['resource']}/{row['id']}" if row.get("id") else row["resource"]
        code = f" {row['code']}" if row.get("code") else ""
        print(f"unmapped: {ref}{code}: {row['why']}", file=err)
    for note in result.notes:
        print(f"note: {note}", file=err)
    return 0


def case_to_fhir(
    case_path: Path, today: date | None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Print a case file as a FHIR R4 Bundle (JSON)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        case = load_case(Path(case_path), today=today)
    except CaseError as exc:
        return _fail(exc.lines(), err)
    out.write(jsonio.dumps(case_to_bundle(case)) + "\n")
    return 0


def assessment_fhir_json(assessment: Any, case: Any) -> str:
    """The assessment as a FHIR collection Bundle (CarePlan, requests, issues, Provenance)."""
    return jsonio.dumps(assessment_bundle(assessment, case))
