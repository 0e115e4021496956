"""`rplcare import-fhir` on FHIR Bulk Data output: one case file per patient, streamed.

Each patient's resources (read by `interop.bulk`, bounded memory) are put in a collection
Bundle and given to the same importer as a single Bundle file (`import_bundle`: R4B
validation, then the mapping), then checked with `load_case`; a case is written only when it
is valid, so nothing is saved half-way. Bad lines are reported `file:line: why` and skipped;
a patient that cannot be imported is reported `Patient/ID: PATH: message` and the rest goes on.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import yaml

from rplcare.case.errors import CaseError
from rplcare.case.loader import load_case
from rplcare.interop.fhir.bulk import BadLine, BulkStats, PatientGroup, read_patients

__all__ = ["group_bundle", "import_bulk", "is_bulk_input"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def is_bulk_input(paths: Iterable[Path]) -> bool:
    """A directory, or NDJSON files, rather than one Bundle (.json)."""
    return any(p.is_dir() or p.name.endswith((".ndjson", ".ndjson.gz", ".jsonl")) for p in paths)


def group_bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """One patient's resources as a FHIR collection Bundle (what `import_bundle` reads)."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def _import_group(
    group: PatientGroup, today: date | None
) -> tuple[dict[str, Any] | None, list[str], list[dict[str, Any]]]:
    from rplcare.interop.fhir.importer import import_bundle

    try:
        result = import_bundle(group_bundle(group.resources()), patient_id=group.key, today=today)
    except CaseError as exc:
        return None, exc.lines(), []
    try:
        load_case(result.case, today=today)
    except CaseError as exc:
        lines = []
        for path, msg in exc.problems:
            src = result.explain(path)
            lines.append(f"{path}: {msg}" + (f" (from {src})" if src else ""))
        return None, lines, result.unmapped
    return result.case, [], result.unmapped


def import_bulk(
    paths: list[Path],
    patient: str | None,
    output: Path | None,
    today: date | None,
    *,
    layout: str = "auto",
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Import a Bulk export: with `--patient` one case (to -o FILE or stdout), else one
    `ID.yaml` per patient in the -o folder (stdout only when the export holds one patient).

    Exit 0 when every patient was imported (bad lines are reported and skipped), 2 when any
    patient could not be (the others are written) or the input cannot be read at all.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    missing = [p for p in paths if not p.exists()]
    if missing:
        for p in missing:
            print(f"{p}: cannot read: no such file or directory", file=err)
        return 2
    if output is not None and patient is None and output.exists() and not output.is_dir():
        print(
            f"{output}: must be a folder when importing a whole export (or give --patient)",
            file=err,
        )
        return 2

    def on_bad(b: BadLine) -> None:
        print(str(b), file=err)

    st = BulkStats()
    written = failed = 0
    pending_stdout: list[str] = []
    for group in read_patients(paths, on_bad=on_bad, layout=layout, stats=st):  # type: ignore[arg-type]
        if patient is not None and group.key != patient:
            continue
        case, problems, unmapped = _import_group(group, today)
        ref = f"Patient/{group.key}"
        for row in unmapped:
            rref = f"{row['resource']}/{row['id']}" if row.get("id") else row["resource"]
            code = f" {row['code']}" if row.get("code") else ""
            print(f"unmapped: {ref}: {rref}{code}: {row['why']}", file=err)
        if case is None:
            failed += 1
            for line in problems:
                print(f"{ref}: {line}", file=err)
            continue
        text = yaml.safe_dump(case, sort_keys=False, allow_unicode=True, width=100)
        if patient is not None or output is None:
            if output is not None:
                try:
                    output.write_text(text, encoding="utf-8")
                except OSError as exc:
                    print(f"{output}: cannot write: {exc.strerror}", file=err)
                    return 2
            else:
                pending_stdout.append(text)
                if len(pending_stdout) > 1:
                    print(
                        "the export holds several patients: give -o FOLDER or --patient ID",
                        file=err,
                    )
                    return 2
        else:
            output.mkdir(parents=True, exist_ok=True)
            (output / f"{_SAFE.sub('_', group.key)}.yaml").write_text(text, encoding="utf-8")
        written += 1
        if patient is not None:
            break
    for text in pending_stdout:
        out.write(text)
    if patient is not None and written == 0 and failed == 0:
        print(f"no Patient with id {patient!r} in the export", file=err)
        return 2
    print(
        f"{written} patient(s) imported, {failed} not, {st.bad_lines} bad line(s) skipped "
        f"({st.layout} layout, {st.files} file(s))",
        file=err,
    )
    if written == 0 and failed == 0:
        print("no patient in the export", file=err)
        return 2
    return 2 if failed else 0
