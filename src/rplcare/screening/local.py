"""The embedded screening engine: stream the export, pre-filter, assess on a process pool.

The main process reads the export (`interop.bulk`: each line parsed once with orjson, the
candidate test applied to it as it is read) and writes rows; candidates go in batches of
their raw NDJSON lines to worker processes that run `screen_patient` (the function the Spark
engine calls too). At most `4 × workers` batches are in flight, so memory stays bounded;
rows come back in read order. `workers=1` runs everything in this process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from rplcare.interop.fhir.bulk import (
    BadLine,
    BulkStats,
    PatientGroup,
    detect_layout,
    find_files,
    read_patients,
)
from rplcare.screening.candidates import CANDIDATE_TYPES, is_candidate_resource
from rplcare.screening.output import Journal, Summary, write_rows
from rplcare.screening.patient import non_candidate_row, screen_patient, screen_resources
from rplcare.screening.pread import InProcess, read_type_layout_parallel
from rplcare.screening.relevance import RELEVANT_TYPES, is_relevant

__all__ = ["screen_local"]

BATCH = 16


def _work(batch: list[tuple[str, list[bytes]]], today: date, definition: str) -> list[dict]:
    return [
        screen_patient(key, lines, today, marked=True, definition=definition)
        for key, lines in batch
    ]


def _warm() -> None:
    """Load, once per worker process, what the per-patient function would otherwise load on
    its first candidates: the knowledge base, the modules it imports, the terminology's
    synonym patterns (compiled at their first use, ~40 ms) and the mapping's code sets; then
    one chart of a bare Patient through the whole function (mapping, case model, assess())."""
    from rplcare.knowledge import get_kb
    from rplcare.knowledge.terminology import terminology
    from rplcare.screening.fastmap import _observation_loinc

    get_kb()
    terminology()._phrases  # noqa: B018 (the property compiles them)
    _observation_loinc()
    day = date.today()
    patient = {"resourceType": "Patient", "id": "warm", "gender": "female"}
    screen_resources("warm", [{**patient, "birthDate": f"{day.year - 30}-01-01"}], day, marked=True)


def screen_local(
    paths: list[Path],
    out: Path,
    today: date,
    *,
    workers: int = 1,
    only_candidates: bool = False,
    layout: str = "auto",
    definition: str = "eshre2022",
    resume: bool = True,
    on_bad: Callable[[BadLine], None] | None = None,
    on_bytes: Callable[[int, int], None] | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    spill_dir: Path | None = None,
    bucket_bytes: int = 64 * 1024 * 1024,
    stats: BulkStats | None = None,
    relevance: bool = True,
) -> Summary:
    """Screen a Bulk export into `out`; returns the summary (counts over the whole output).

    `relevance=False` keeps every resource up to the per-patient function (same rows,
    slower: for the benchmark and the identity test of the relevance filter)."""
    journal = Journal(out, resume=resume)
    summary = Summary(resumed=len(journal.done))
    st = stats if stats is not None else BulkStats()
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_warm) if workers > 1 else None
    # rows leave in a fixed order (a function of the input, never of timing): a queue of
    # worker results and ready rows (non-candidates), written from the left
    queue: deque[Future[list[dict]] | list[dict]] = deque()
    running = 0
    batch: list[tuple[str, list[bytes]]] = []

    def emit(rows: list[dict[str, Any]]) -> None:
        journal.write(rows)
        if on_row is not None:
            for r in rows:
                on_row(r)

    def drain(wait_all: bool = False) -> None:
        nonlocal running
        while queue:
            head = queue[0]
            if isinstance(head, list):
                emit(queue.popleft())  # type: ignore[arg-type]
                continue
            if not (wait_all or running >= 4 * workers or head.done()):
                break
            emit(queue.popleft().result())  # type: ignore[union-attr]
            running -= 1

    def submit() -> None:
        nonlocal batch, running
        if not batch:
            return
        if pool is None:
            queue.append(_work(batch, today, definition))
        else:
            queue.append(pool.submit(_work, batch, today, definition))
            running += 1
        batch = []
        drain()

    try:
        files = find_files(paths)
        chosen = detect_layout(files) if layout == "auto" else layout
        if chosen == "type":
            # the first pass (the parse of every line) on the pool too: same groups, in order
            groups: Iterator[PatientGroup] = read_type_layout_parallel(
                files,
                pool or InProcess(),
                on_bad=on_bad,
                mark=is_candidate_resource,
                keep=is_relevant if relevance else None,
                stats=st,
                on_bytes=on_bytes,
                spill_dir=spill_dir,
                bucket_bytes=bucket_bytes,
                unmarked_lines=False,
                workers=workers,
                # the same tests by type, without a call per line (is_candidate_resource is
                # False outside CANDIDATE_TYPES; is_relevant is membership of RELEVANT_TYPES)
                mark_types=frozenset(CANDIDATE_TYPES),
                keep_types=RELEVANT_TYPES if relevance else None,
            )
        else:
            groups = read_patients(
                files,
                on_bad=on_bad,
                layout=chosen,  # type: ignore[arg-type]
                mark=is_candidate_resource,
                keep=is_relevant if relevance else None,
                stats=st,
                on_bytes=on_bytes,
                spill_dir=spill_dir,
                bucket_bytes=bucket_bytes,
            )
        for group in groups:
            summary.candidates += group.marked
            if group.key in journal.done:
                continue
            if not group.marked:
                if not only_candidates:
                    row = non_candidate_row(group.key, today)
                    if queue and isinstance(queue[-1], list):
                        queue[-1].append(row)
                    else:
                        queue.append([row])
                    if len(queue) == 1 or len(queue[-1]) >= 1000:
                        drain()
                continue
            batch.append((group.key, group.lines))
            if len(batch) >= BATCH:
                submit()
        submit()
        drain(wait_all=True)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        journal.close()
    summary.patients_read = st.patients
    summary.bad_lines = st.bad_lines
    write_rows(journal.rows(), out, summary)
    journal.path.unlink()
    return summary
