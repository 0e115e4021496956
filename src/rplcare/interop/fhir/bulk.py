"""Read FHIR Bulk Data output (NDJSON) one patient at a time, in bounded memory.

FHIR Bulk Data Access (IG 2.0/3.0, `$export`) writes `application/fhir+ndjson`: one resource
per line, one file (or several) per resource type (`Patient.ndjson`, `Condition.000.ndjson`,
optionally gzip-compressed). With `organizeOutputBy=Patient` (IG 3.0 / 4.0) each file holds
every type and the resources of one patient are contiguous (optionally after a `Parameters`
header naming the patient); a block may continue into the next file (`continuesInFile`).

Two layouts, two strategies, one result (`PatientGroup`s):

- **patient layout** is streamed as it stands: a group ends where the next patient's
  resources start, so memory holds one patient (the largest one bounds it);
- **type layout** has one patient's resources spread over every file, so it is regrouped by a
  hash partition: one pass writes each line, keyed by patient, to one of K spill files on disk
  (K chosen so a spill file is at most `bucket_bytes` of NDJSON), then each spill file is read
  and grouped in turn. Memory is bounded by one spill file (and at least by the largest
  patient), never by the export; an export smaller than `bucket_bytes` is grouped in memory.

Bad lines (not JSON, not a resource) are reported as `BadLine(file, line, why)` to the
caller's `on_bad` and skipped; the rest goes on. Lines are kept as the bytes read, so a
process pool receives bytes (cheap to send) and parses them where the work is done.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import re
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

__all__ = [
    "BadLine",
    "BulkStats",
    "PatientGroup",
    "attach_medications",
    "detect_layout",
    "find_files",
    "iter_lines",
    "patient_key",
    "read_patients",
]

Layout = Literal["auto", "type", "patient"]

#: where a resource of the patient compartment names its patient (first hit wins)
_PATIENT_FIELDS = ("subject", "patient", "beneficiary", "individual")
_MED_REF = re.compile(rb'"reference"\s*:\s*"(?:[^"]*/)?Medication/([A-Za-z0-9\-.]{1,64})')
_GZ_FACTOR = 8  # estimate of the NDJSON size of a .gz file, for choosing the spill count


@dataclass(frozen=True)
class BadLine:
    file: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.why}"


@dataclass
class PatientGroup:
    """The NDJSON lines of one patient (her Patient resource first when present)."""

    key: str
    lines: list[bytes]
    #: True when any resource of the group passed the caller's `mark` predicate
    marked: bool = False

    def resources(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]


@dataclass
class BulkStats:
    files: int = 0
    lines: int = 0
    resources: int = 0
    bad_lines: int = 0
    patients: int = 0
    #: resources outside any patient compartment (Organization, Practitioner …), not read
    not_about_a_patient: int = 0
    layout: str = ""
    spill_files: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    #: resources the caller's `keep` predicate dropped (types the mapping does not read), by
    #: type; read and counted, never "unreadable"
    not_relevant: dict[str, int] = field(default_factory=dict)


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """The NDJSON files named or inside the directories named (in manifest order if any).

    A directory's `manifest.json` (the Bulk Data completion manifest) gives the order of its
    `output` files (which matters for `continuesInFile`); otherwise files sort by name.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f for f in p.iterdir() if f.name.endswith((".ndjson", ".ndjson.gz", ".jsonl"))
            )
            manifest = p / "manifest.json"
            if manifest.exists():
                order = _manifest_order(manifest)
                found.sort(key=lambda f: (order.get(f.name, len(order)), f.name))
            out.extend(found)
        else:
            out.append(p)
    return out


def _manifest_order(path: Path) -> dict[str, int]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    order: dict[str, int] = {}
    for i, item in enumerate(data.get("output") or [] if isinstance(data, dict) else []):
        url = item.get("url") if isinstance(item, dict) else None
        if isinstance(url, str):
            order.setdefault(url.rsplit("/", 1)[-1], i)
    return order


def _manifest_layout(paths: Iterable[Path]) -> str | None:
    for d in {p.parent for p in paths}:
        m = d / "manifest.json"
        if m.exists():
            try:
                data = orjson.loads(m.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue
            if isinstance(data, dict) and data.get("outputOrganizedBy") == "Patient":
                return "patient"
            if isinstance(data, dict):
                return "type"
    return None


def _open(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def iter_lines(
    path: Path,
    on_bad: Callable[[BadLine], None],
    on_bytes: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """(line number, line with its newline, resource) of every good line; bad ones go to
    `on_bad` (blank lines are skipped without a word)."""
    n = 0
    last = 0
    try:
        with _open(path) as fh:
            raw_fh = getattr(fh, "fileobj", None) or fh  # gzip: the compressed file's position
            for n, raw in enumerate(fh, start=1):
                if on_bytes is not None and n % 2000 == 0:
                    pos = raw_fh.tell()
                    on_bytes(pos - last, 0)
                    last = pos
                try:
                    res = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    if raw.strip():
                        on_bad(BadLine(str(path), n, f"not valid JSON: {exc}"))
                    continue
                if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
                    what = "a JSON object" if isinstance(res, dict) else type(res).__name__
                    on_bad(
                        BadLine(str(path), n, f"not a FHIR resource ({what} without resourceType)")
                    )
                    continue
                yield n, raw if raw.endswith(b"\n") else raw + b"\n", res
    except (OSError, EOFError, zlib.error) as exc:
        on_bad(BadLine(str(path), n + 1, f"cannot read the file further: {exc}"))
    if on_bytes is not None:
        with contextlib.suppress(OSError):
            on_bytes(path.stat().st_size - last, 0)


def _ref_id(ref: Any) -> str | None:
    """The patient id of a reference like Patient/1, http://x/fhir/Patient/1/_history/2."""
    if not isinstance(ref, Mapping):
        return None
    text = ref.get("reference")
    if isinstance(text, str):
        parts = text.split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1]:
            return _clean(parts[-1])
        if text.startswith("urn:uuid:") and ref.get("type") == "Patient":
            return _clean(text[9:])
    return None


def _clean(key: str) -> str | None:
    """A key usable in a spill file (FHIR ids have no whitespace; one that does is unusable)."""
    return None if ("\t" in key or "\n" in key or "\r" in key) else key


def patient_key(res: Mapping[str, Any]) -> str | None:
    """Which patient a resource belongs to (her id), or None outside the patient compartment."""
    rtype = res.get("resourceType")
    if rtype == "Patient":
        rid = res.get("id")
        return _clean(rid) if isinstance(rid, str) and rid else None
    # fast path: the usual relative reference "Patient/ID" in subject
    subj = res.get("subject")
    if subj.__class__ is dict:
        text = subj.get("reference")
        if text.__class__ is str and text.startswith("Patient/") and text.count("/") == 1:
            return _clean(text[8:]) if len(text) > 8 else None
    for name in _PATIENT_FIELDS:
        value = res.get(name)
        if isinstance(value, list):  # e.g. Provenance.target, Group.member
            for v in value:
                key = _ref_id(v)
                if key:
                    return key
        else:
            key = _ref_id(value)
            if key:
                return key
    if rtype == "Provenance":
        for t in res.get("target") or []:
            key = _ref_id(t)
            if key:
                return key
    return None


def _header_key(res: Mapping[str, Any]) -> str | None:
    """The patient a `Parameters` block header names (organizeOutputBy=Patient)."""
    for p in res.get("parameter") or []:
        if isinstance(p, Mapping):
            key = _ref_id(p.get("valueReference"))
            if key:
                return key
    return None


def attach_medications(lines: list[bytes], medications: Mapping[str, bytes]) -> list[bytes]:
    """Append the shared Medication resources a patient's lines refer to (once each)."""
    if not medications:
        return lines
    seen: set[bytes] = set()
    for line in list(lines):
        if b"Medication/" in line:
            for mid in _MED_REF.findall(line):
                med = medications.get(mid.decode())
                if med is not None and mid not in seen:
                    seen.add(mid)
                    lines.append(med)
    return lines


def detect_layout(files: list[Path]) -> str:
    """'patient' when the manifest says so or a file mixes resource types, else 'type'."""
    said = _manifest_layout(files)
    if said:
        return said
    for f in files:
        types: set[str] = set()
        for i, (_n, _line, res) in enumerate(iter_lines(f, lambda _b: None)):
            types.add(res["resourceType"])
            if len(types) > 1:
                return "patient"
            if i >= 200:
                break
    return "type"


def _estimated_bytes(files: list[Path]) -> int:
    total = 0
    for f in files:
        try:
            size = f.stat().st_size
        except OSError:
            continue
        total += size * (_GZ_FACTOR if f.name.endswith(".gz") else 1)
    return total


def read_patients(
    paths: Iterable[str | Path],
    *,
    on_bad: Callable[[BadLine], None] | None = None,
    layout: Layout = "auto",
    mark: Callable[[dict[str, Any]], bool] | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    bucket_bytes: int = 64 * 1024 * 1024,
    spill_dir: str | Path | None = None,
    stats: BulkStats | None = None,
    progress: Callable[[int], None] | None = None,
    on_bytes: Callable[[int, int], None] | None = None,
) -> Iterator[PatientGroup]:
    """Yield one `PatientGroup` per patient of a Bulk export.

    `mark(resource)` is called on every resource as it is read (each line is parsed once
    here); a group is `marked` when any of its resources was. `keep(resource)`, when given,
    is called after `mark`: a resource it refuses is counted in `stats.not_relevant` and not
    kept in its group (a patient is still a group when nothing of hers is kept).
    `progress(n)` is called with the number of lines read since the last call;
    `on_bytes(advance, total)` first with (0, total bytes of the files) then with the bytes
    of input read since the last call.
    """
    files = find_files(paths)
    st = stats if stats is not None else BulkStats()
    st.files = len(files)
    bad = on_bad or (lambda _b: None)

    def count_bad(b: BadLine) -> None:
        st.bad_lines += 1
        bad(b)

    chosen = detect_layout(files) if layout == "auto" else layout
    st.layout = chosen
    if on_bytes is not None:
        on_bytes(0, sum(f.stat().st_size for f in files if f.exists()))
    if chosen == "patient":
        yield from _stream_by_patient(files, count_bad, mark, st, progress, on_bytes, keep)
    else:
        yield from _regroup_by_type(
            files, count_bad, mark, bucket_bytes, spill_dir, st, progress, on_bytes, keep
        )


def _stream_by_patient(
    files: list[Path],
    bad: Callable[[BadLine], None],
    mark: Callable[[dict[str, Any]], bool] | None,
    st: BulkStats,
    progress: Callable[[int], None] | None,
    on_bytes: Callable[[int, int], None] | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> Iterator[PatientGroup]:
    current: PatientGroup | None = None
    pending = 0
    for f in files:
        for _n, line, res in iter_lines(f, bad, on_bytes):
            st.lines += 1
            pending += 1
            if progress and pending >= 1000:
                progress(pending)
                pending = 0
            rtype = res["resourceType"]
            if rtype == "Parameters":
                key = _header_key(res)
                if key and (current is None or current.key != key):
                    if current is not None:
                        st.patients += 1
                        yield current
                    current = PatientGroup(key, [])
                continue
            st.resources += 1
            st.by_type[rtype] = st.by_type.get(rtype, 0) + 1
            key = patient_key(res)
            if key is None:
                if current is None:
                    st.not_about_a_patient += 1
                    continue
                key = current.key  # Medication, Organization … inside the patient's block
            if current is None or key != current.key:
                # the layout promises contiguous blocks; nothing is kept of ended ones, so
                # memory holds one patient (mixed-type files whose patients are interleaved
                # are not this layout: read them with layout="type")
                if current is not None:
                    st.patients += 1
                    yield current
                current = PatientGroup(key, [])
            if mark is not None and not current.marked and mark(res):
                current.marked = True
            if keep is not None and not keep(res):
                st.not_relevant[rtype] = st.not_relevant.get(rtype, 0) + 1
                continue
            if rtype == "Patient":
                current.lines.insert(0, line)
            else:
                current.lines.append(line)
    if progress and pending:
        progress(pending)
    if current is not None:
        st.patients += 1
        yield current


def _regroup_by_type(
    files: list[Path],
    bad: Callable[[BadLine], None],
    mark: Callable[[dict[str, Any]], bool] | None,
    bucket_bytes: int,
    spill_dir: str | Path | None,
    st: BulkStats,
    progress: Callable[[int], None] | None,
    on_bytes: Callable[[int, int], None] | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> Iterator[PatientGroup]:
    k = max(1, math.ceil(_estimated_bytes(files) / max(bucket_bytes, 1)))
    st.spill_files = k if k > 1 else 0
    marked: set[str] = set()
    medications: dict[str, bytes] = {}
    memory: dict[str, list[bytes]] = {}
    by_type: Counter[str] = Counter()
    tmp = tempfile.TemporaryDirectory(prefix="rplcare-bulk-", dir=spill_dir) if k > 1 else None
    try:
        spills = (
            [
                open(Path(tmp.name) / f"part-{i:05d}.tsv", "wb", buffering=1 << 16)  # noqa: SIM115
                for i in range(k)
            ]
            if tmp
            else []
        )
        pending = 0
        last_dropped: str | None = None
        for f in files:
            for _n, line, res in iter_lines(f, bad, on_bytes):
                st.lines += 1
                pending += 1
                if progress and pending >= 1000:
                    progress(pending)
                    pending = 0
                rtype = res["resourceType"]
                by_type[rtype] += 1
                key = patient_key(res)
                if key is None:
                    if rtype == "Medication" and isinstance(res.get("id"), str):
                        medications[res["id"]] = line
                    else:
                        st.not_about_a_patient += 1
                    continue
                if mark is not None and key not in marked and mark(res):
                    marked.add(key)
                if keep is not None and rtype != "Patient" and not keep(res):
                    st.not_relevant[rtype] = st.not_relevant.get(rtype, 0) + 1
                    # the patient stays a group even when nothing of hers is kept (one
                    # marker per run of her dropped lines: files list a patient's together)
                    if spills:
                        if key != last_dropped:
                            kb = key.encode()
                            spills[zlib.crc32(kb) % k].write(kb + b"\t2\n")
                    else:
                        memory.setdefault(key, [])
                    last_dropped = key
                    continue
                # the Patient resource goes first in its group: tagged b"0", others b"1"
                if spills:
                    kb = key.encode()
                    fh = spills[zlib.crc32(kb) % k]
                    fh.write(kb)
                    fh.write(b"\t0" if rtype == "Patient" else b"\t1")
                    fh.write(line)
                elif rtype == "Patient":
                    memory.setdefault(key, []).insert(0, line)
                else:
                    memory.setdefault(key, []).append(line)
        if progress and pending:
            progress(pending)
        for s in spills:
            s.close()
        st.resources += sum(by_type.values())
        for t, n in by_type.items():
            st.by_type[t] = st.by_type.get(t, 0) + n

        def finish(key: str, lines: list[bytes]) -> PatientGroup:
            st.patients += 1
            return PatientGroup(key, attach_medications(lines, medications), key in marked)

        if not spills:
            for key, lines in memory.items():
                yield finish(key, lines)
            memory.clear()
            return
        for i in range(k):
            groups: dict[str, list[bytes]] = {}
            with open(Path(tmp.name) / f"part-{i:05d}.tsv", "rb") as fh:  # type: ignore[union-attr]
                for raw in fh:
                    kb, _, rest = raw.partition(b"\t")
                    got = groups.setdefault(kb.decode(), [])
                    if rest[:1] == b"2":  # a patient's resource not kept (see `keep`)
                        continue
                    if rest[:1] == b"0":
                        got.insert(0, rest[1:])
                    else:
                        got.append(rest[1:])
            for key, lines in groups.items():
                yield finish(key, lines)
            groups.clear()
    finally:
        if tmp is not None:
            tmp.cleanup()
