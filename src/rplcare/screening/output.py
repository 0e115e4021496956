"""Screening rows: a resumable journal, the final file (.csv / .parquet / .ndjson), the summary.

While a run goes, every finished row is appended to `OUT.partial.ndjson` (the journal); a run
that stops can be started again with the same command and skips the patients already there.
At the end the journal becomes the output in the format its suffix names and is removed.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from rplcare.screening.patient import ROW_FIELDS

__all__ = ["FORMATS", "Journal", "Summary", "arrow_schema", "write_rows"]

FORMATS = (".csv", ".parquet", ".ndjson")


@dataclass
class Summary:
    patients_read: int = 0
    candidates: int = 0
    screened: int = 0
    not_screened: int = 0
    rows_written: int = 0
    bad_lines: int = 0
    resumed: int = 0
    gaps: Counter[str] = field(default_factory=Counter)
    advised_against: Counter[str] = field(default_factory=Counter)
    rpl: int = 0
    pregnant: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.rows_written += 1
        if row["screened"]:
            self.screened += 1
            self.rpl += bool(row["rpl"])
            self.pregnant += bool(row["pregnant"])
            for g in row["gaps"]:
                self.gaps[g["id"]] += 1
            for a in row["advised_against"]:
                self.advised_against[a] += 1
        elif row["candidate"]:
            self.not_screened += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "patients_read": self.patients_read,
            "candidates": self.candidates,
            "screened": self.screened,
            "candidates_not_assessable": self.not_screened,
            "rpl": self.rpl,
            "pregnant": self.pregnant,
            "rows_written": self.rows_written,
            "bad_lines": self.bad_lines,
            "resumed_rows": self.resumed,
            "gaps": dict(self.gaps.most_common()),
            "advised_against": dict(self.advised_against.most_common()),
        }


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.ndjson")


class Journal:
    """Append-only NDJSON of finished rows; `done` holds the ids already in it."""

    def __init__(self, out: Path, resume: bool = True) -> None:
        self.path = journal_path(out)
        self.done: set[str] = set()
        if self.path.exists() and resume:
            good = 0
            with open(self.path, "rb") as fh:
                for line in fh:
                    try:
                        row = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        break  # a row cut off by the stop: dropped, written again
                    self.done.add(row["patient_id"])
                    good += len(line)
            with open(self.path, "r+b") as fh:
                fh.truncate(good)
        elif self.path.exists():
            self.path.unlink()
        self._fh = open(self.path, "ab")  # noqa: SIM115

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self._fh.write(orjson.dumps(row) + b"\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def rows(self) -> Iterator[dict[str, Any]]:
        with open(self.path, "rb") as fh:
            for line in fh:
                yield orjson.loads(line)


def _csv_value(name: str, v: Any) -> Any:
    if name == "gaps":
        return ";".join(f"{g['id']}:{g['urgency'] or ''}" for g in v)
    if isinstance(v, list):
        return ";".join(map(str, v))
    if v is None:
        return ""
    return v


def arrow_schema() -> Any:
    import pyarrow as pa

    gap = pa.struct([("id", pa.string()), ("urgency", pa.string())])
    return pa.schema(
        [
            ("patient_id", pa.string()),
            ("candidate", pa.bool_()),
            ("screened", pa.bool_()),
            ("definition", pa.string()),
            ("rpl", pa.bool_()),
            ("losses_counted", pa.int64()),
            ("care_tier", pa.int64()),
            ("loss_type", pa.string()),
            ("pregnant", pa.bool_()),
            ("gaps", pa.list_(gap)),
            ("advised_against", pa.list_(pa.string())),
            ("not_read", pa.list_(pa.string())),
            ("not_read_count", pa.int64()),
            ("error", pa.string()),
            ("assessed_on", pa.string()),
            ("kb_version", pa.string()),
        ]
    )


def write_rows(rows: Iterable[dict[str, Any]], out: Path, summary: Summary | None = None) -> int:
    """Write rows to `out` (format by suffix) through a temporary file; returns the count."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{out}: unknown output format {suffix!r} (allowed: {', '.join(FORMATS)})")
    tmp = out.with_name(out.name + ".tmp")
    n = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal n
        for row in rows:
            n += 1
            if summary is not None:
                summary.add(row)
            yield row

    if suffix == ".ndjson":
        with open(tmp, "wb") as fh:
            for row in counted():
                fh.write(orjson.dumps(row) + b"\n")
    elif suffix == ".csv":
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(ROW_FIELDS)
            for row in counted():
                w.writerow([_csv_value(k, row[k]) for k in ROW_FIELDS])
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = arrow_schema()
        with pq.ParquetWriter(tmp, schema) as pw:
            batch: list[dict[str, Any]] = []
            for row in counted():
                batch.append(row)
                if len(batch) >= 10_000:
                    pw.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch = []
            if batch or n == 0:
                pw.write_table(pa.Table.from_pylist(batch, schema=schema))
    os.replace(tmp, out)
    return n
