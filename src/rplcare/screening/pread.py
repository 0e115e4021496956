"""The type-layout Bulk reader of `interop.fhir.bulk` on a process pool: the same groups, faster.

`bulk.read_patients` reads a type-layout export in one process: every line is parsed (the
orjson floor), keyed by patient and written to one of K spill files, then each spill file is
grouped. The parse is most of the time and the whole population goes through it, so on a
machine with several cores that one process is the limit. Here the first pass is cut into
chunks (byte ranges of the files, cut at line ends; a `.gz` file is one chunk) read by the
pool's workers, each writing its own K spill files; the second pass (in the caller's process)
groups spill file b of every chunk in chunk order, which is the order the one-process reader
wrote spill file b in. So the groups, their order, the order of each group's lines, the
statistics and the bad lines (file and line number) are those of `bulk.read_patients`
(tests/screening/test_pread.py compares them on the Synthea export, several chunks and spill
files). Memory: a worker holds one line at a time; the grouping one spill file, as before.
"""

from __future__ import annotations

import gzip
import io
import math
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from rplcare.interop.fhir.bulk import (
    BadLine,
    BulkStats,
    PatientGroup,
    _estimated_bytes,
    attach_medications,
    find_files,
    patient_key,
)

__all__ = ["InProcess", "read_type_layout_parallel"]

Pred = Callable[[dict[str, Any]], bool]


@dataclass
class _Chunk:
    index: int
    path: str
    start: int
    end: int | None  # None: to the end of the file (and every .gz file)


@dataclass
class _Done:
    index: int
    raw_lines: int = 0
    good_lines: int = 0
    bytes_read: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    medications: dict[str, bytes] = field(default_factory=dict)
    not_about_a_patient: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    not_relevant: dict[str, int] = field(default_factory=dict)
    marked: set[str] = field(default_factory=set)
    buckets: list[int] = field(default_factory=list)


class InProcess(Executor):
    """An executor that runs each call at once in this process (`--workers 1`)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller by fut.result()
            fut.set_exception(exc)
        return fut


def _chunks(files: list[Path], chunk_bytes: int) -> list[_Chunk]:
    out: list[_Chunk] = []
    for f in files:
        try:
            size = f.stat().st_size
        except OSError:
            size = 0
        if f.name.endswith(".gz") or size <= chunk_bytes:
            out.append(_Chunk(len(out), str(f), 0, None))
            continue
        cuts = [0]
        with open(f, "rb") as fh:
            for i in range(1, math.ceil(size / chunk_bytes)):
                fh.seek(max(i * chunk_bytes, cuts[-1]))
                fh.readline()  # to the end of the line the cut falls in
                pos = fh.tell()
                if pos >= size:
                    break
                if pos > cuts[-1]:
                    cuts.append(pos)
        for a, b in zip(cuts, [*cuts[1:], None], strict=True):
            out.append(_Chunk(len(out), str(f), a, b))
    return out


def _part(tmp: str, bucket: int, chunk: int) -> Path:
    return Path(tmp) / f"part-{bucket:05d}-{chunk:05d}.tsv"


def _first_pass(
    ch: _Chunk,
    tmp: str,
    k: int,
    mark: Pred | None,
    keep: Pred | None,
    mark_types: frozenset[str] | None = None,
    keep_types: frozenset[str] | None = None,
) -> _Done:
    """One chunk: parse each line, key it by patient, append it to its spill file (the loop of
    bulk._regroup_by_type and the line checks of bulk.iter_lines).

    `mark_types`: `mark` is only called on resources of these types (it is False on others);
    `keep_types`: used instead of `keep`, a resource is kept when its type is in it."""
    done = _Done(ch.index)
    spills: dict[int, Any] = {}
    by_type: dict[str, int] = {}
    marked = done.marked
    not_relevant = done.not_relevant
    last_dropped: str | None = None
    # the run being collected: consecutive kept lines of one key and one tag (a type file
    # lists a patient's resources together), written as one record when it ends
    run_key: str | None = None
    run_tag = b""
    run: list[bytes] = []
    last_text: str | None = None  # the last "Patient/ID" subject read, and its key
    last_text_key: str | None = None
    n = good = 0
    path = Path(ch.path)
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    end = ch.end if ch.end is not None else -1

    def spill(bucket: int) -> Any:
        fh = spills.get(bucket)
        if fh is None:
            fh = spills[bucket] = open(_part(tmp, bucket, ch.index), "wb", buffering=1 << 16)  # noqa: SIM115
        return fh

    def flush() -> None:
        """Write the run as `key TAB tag TAB nbytes NL` + its lines (a marker: no lines)."""
        if run_key is None:
            return
        kb = run_key.encode()
        data = b"".join(run)
        spill(zlib.crc32(kb) % k).write(b"%s\t%s\t%d\n%s" % (kb, run_tag, len(data), data))

    try:
        fh_in: Any = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")  # noqa: SIM115
        with fh_in:
            if ch.start:
                fh_in.seek(ch.start)
            pos = ch.start
            for raw in fh_in:
                if end >= 0 and pos >= end:
                    break
                pos += len(raw)
                n += 1
                try:
                    res = loads(raw)
                except decode_error as exc:
                    if raw.strip():
                        done.bad.append((n, f"not valid JSON: {exc}"))
                    continue
                if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
                    what = "a JSON object" if isinstance(res, dict) else type(res).__name__
                    done.bad.append((n, f"not a FHIR resource ({what} without resourceType)"))
                    continue
                good += 1
                rtype = res["resourceType"]
                by_type[rtype] = by_type.get(rtype, 0) + 1
                # patient_key's fast path inline (a plain "Patient/ID" subject), else the call
                subj = res.get("subject")
                text = subj.get("reference") if subj.__class__ is dict else None
                key: str | None
                if text is not None and text == last_text and rtype != "Patient":
                    key = last_text_key
                elif (
                    text.__class__ is str
                    and rtype != "Patient"
                    and text.startswith("Patient/")
                    and len(text) > 8
                    and text.count("/") == 1
                    and "\t" not in text
                    and "\n" not in text
                    and "\r" not in text
                ):
                    key = last_text_key = text[8:]
                    last_text = text
                else:
                    key = patient_key(res)
                if key is None:
                    if rtype == "Medication" and isinstance(res.get("id"), str):
                        done.medications[res["id"]] = raw if raw.endswith(b"\n") else raw + b"\n"
                    else:
                        done.not_about_a_patient += 1
                    continue
                if (
                    mark is not None
                    and (mark_types is None or rtype in mark_types)
                    and key not in marked
                    and mark(res)
                ):
                    marked.add(key)
                if rtype != "Patient" and (
                    (keep_types is not None and rtype not in keep_types)
                    or (keep_types is None and keep is not None and not keep(res))
                ):
                    not_relevant[rtype] = not_relevant.get(rtype, 0) + 1
                    if key != last_dropped:
                        flush()
                        run_key, run_tag, run = key, b"2", []
                        flush()  # the marker: she is a group even with nothing kept
                        run_key = None
                    last_dropped = key
                    continue
                tag = b"0" if rtype == "Patient" else b"1"
                if key != run_key or tag != run_tag:
                    flush()
                    run_key, run_tag, run = key, tag, []
                run.append(raw if raw.endswith(b"\n") else raw + b"\n")
            flush()
    except (OSError, EOFError, zlib.error) as exc:
        flush()
        done.bad.append((n + 1, f"cannot read the file further: {exc}"))
    finally:
        for fh in spills.values():
            fh.close()
    done.good_lines = good
    done.raw_lines = n
    done.by_type = by_type
    done.buckets = sorted(spills)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    done.bytes_read = (ch.end if ch.end is not None else size) - ch.start
    return done


def read_type_layout_parallel(
    paths: Iterable[str | Path],
    pool: Executor,
    *,
    on_bad: Callable[[BadLine], None] | None = None,
    mark: Pred | None = None,
    keep: Pred | None = None,
    bucket_bytes: int = 64 * 1024 * 1024,
    chunk_bytes: int | None = None,
    spill_dir: str | Path | None = None,
    stats: BulkStats | None = None,
    on_bytes: Callable[[int, int], None] | None = None,
    unmarked_lines: bool = True,
    workers: int = 2,
    mark_types: frozenset[str] | None = None,
    keep_types: frozenset[str] | None = None,
) -> Iterator[PatientGroup]:
    """`bulk.read_patients(paths, layout="type", ...)` with the first pass on `pool`.

    `mark` and `keep` must be picklable (module-level functions). `unmarked_lines=False`
    leaves the lines of unmarked groups out (an empty list: the caller only counts them).
    `mark_types`: the types `mark` can be true for (it is not called on others);
    `keep_types`: the types kept, instead of calling `keep` (a `keep` that tests the type).
    """
    files = find_files(paths)
    st = stats if stats is not None else BulkStats()
    st.files = len(files)
    st.layout = "type"
    bad = on_bad or (lambda _b: None)
    total = _estimated_bytes(files)
    k = max(1, math.ceil(total / max(bucket_bytes, 1)))
    st.spill_files = k if k > 1 else 0
    if chunk_bytes is None:  # a few chunks per worker, and few enough spill files
        chunk_bytes = min(256 << 20, max(16 << 20, math.ceil(total / (4 * max(workers, 1)))))
    if on_bytes is not None:
        on_bytes(0, sum(f.stat().st_size for f in files if f.exists()))
    chunks = _chunks(files, chunk_bytes)
    marked: set[str] = set()
    medications: dict[str, bytes] = {}
    by_type: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="rplcare-bulk-", dir=spill_dir) as tmp:
        # at most 2 chunks per worker in flight (an in-process executor then reads one chunk
        # at a time, and progress is reported as each chunk ends)
        window = 2 * max(workers, 1)
        futures = [
            pool.submit(_first_pass, ch, tmp, k, mark, keep, mark_types, keep_types)
            for ch in chunks[:window]
        ]
        has: list[set[int]] = []
        line_base: dict[str, int] = {}
        try:
            for i, ch in enumerate(chunks):
                d = futures[i].result()
                if i + window < len(chunks):
                    futures.append(
                        pool.submit(
                            _first_pass,
                            chunks[i + window],
                            tmp,
                            k,
                            mark,
                            keep,
                            mark_types,
                            keep_types,
                        )
                    )
                base = line_base.get(ch.path, 0)
                for n, why in d.bad:
                    st.bad_lines += 1
                    bad(BadLine(ch.path, base + n, why))
                line_base[ch.path] = base + d.raw_lines
                st.lines += d.good_lines
                st.not_about_a_patient += d.not_about_a_patient
                by_type.update(d.by_type)
                for t, c in d.not_relevant.items():
                    st.not_relevant[t] = st.not_relevant.get(t, 0) + c
                medications.update(d.medications)
                marked |= d.marked
                has.append(set(d.buckets))
                if on_bytes is not None:
                    on_bytes(d.bytes_read, 0)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        st.resources += sum(by_type.values())
        for t, c in by_type.items():
            st.by_type[t] = st.by_type.get(t, 0) + c
        marked_b = {m.encode() for m in marked}
        for b in range(k):
            groups: dict[bytes, list[bytes]] = {}
            for ci in range(len(chunks)):
                if b not in has[ci]:
                    continue
                with open(_part(tmp, b, ci), "rb") as fh:
                    # records `key TAB tag TAB nbytes NL` + lines; an unmarked patient's lines
                    # are skipped by seeking past them when the caller does not want them
                    while header := fh.readline():
                        kb, tag, size = header[:-1].split(b"\t")
                        nbytes = int(size)
                        got = groups.get(kb)
                        if got is None:
                            got = groups[kb] = []
                        if not (unmarked_lines or kb in marked_b):
                            fh.seek(nbytes, 1)
                            continue
                        lines = list(io.BytesIO(fh.read(nbytes))) if nbytes else []
                        if tag == b"0":
                            for line in lines:  # as bulk.py: each Patient line goes first
                                got.insert(0, line)
                        else:
                            got.extend(lines)
                _part(tmp, b, ci).unlink()
            for kb, lines in groups.items():
                key = kb.decode()
                st.patients += 1
                yield PatientGroup(key, attach_medications(lines, medications), key in marked)
            groups.clear()
