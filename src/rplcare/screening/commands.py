"""What `rplcare screen` does: check the options, run an engine with a progress bar, summarise.

Exit 0 when the run finished (bad lines are reported and skipped), 2 for bad options or
unreadable input (every problem at once, `OPTION: message`).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from rplcare.screening.output import FORMATS, Summary

__all__ = ["run_screen", "summary_text"]


def _problems(paths: list[Path], out: Path, engine: str, workers: int, layout: str) -> list[str]:
    problems = []
    for p in paths:
        if not p.exists():
            problems.append(f"PATH: {p}: no such file or directory")
    if out.suffix.lower() not in FORMATS:
        problems.append(
            f"--out: {str(out)!r} has suffix {out.suffix!r}; allowed: {', '.join(FORMATS)}"
        )
    if engine not in ("local", "spark"):
        problems.append(f"--engine: {engine!r} is not one of local, spark")
    if workers < 1:
        problems.append(f"--workers: {workers} must be at least 1")
    if layout not in ("auto", "type", "patient"):
        problems.append(f"--layout: {layout!r} is not one of auto, type, patient")
    if not out.parent.exists():
        problems.append(f"--out: folder {out.parent} does not exist")
    return problems


def summary_text(s: Summary) -> list[str]:
    d = s.to_json()
    lines = [
        f"patients read: {d['patients_read']}",
        f"candidates (pre-filter): {d['candidates']}",
        f"screened (assessed): {d['screened']}"
        + (
            f"; {d['candidates_not_assessable']} candidate(s) could not be assessed"
            if d["candidates_not_assessable"]
            else ""
        ),
        f"meeting the RPL definition: {d['rpl']}; pregnant now: {d['pregnant']}",
        f"bad lines skipped: {d['bad_lines']}",
    ]
    if d["resumed_rows"]:
        lines.append(f"resumed: {d['resumed_rows']} row(s) from the interrupted run")
    if d["gaps"]:
        lines.append("care gaps (recommended, not done):")
        lines += [f"  {k}: {v}" for k, v in d["gaps"].items()]
    if d["advised_against"]:
        lines.append("on record and advised against:")
        lines += [f"  {k}: {v}" for k, v in d["advised_against"].items()]
    return lines


def run_screen(
    paths: list[Path],
    out: Path,
    today: date | None,
    *,
    engine: str = "local",
    master: str | None = None,
    workers: int | None = None,
    only_candidates: bool = False,
    layout: str = "auto",
    resume: bool = True,
    progress: bool = True,
    err: TextIO | None = None,
) -> int:
    import os

    err = err or sys.stderr
    workers = workers or (os.cpu_count() or 1)
    problems = _problems(paths, out, engine, workers, layout)
    if problems:
        for line in problems:
            print(line, file=err)
        return 2
    day = today or date.today()
    bad_shown = 0

    def on_bad(b: Any) -> None:
        nonlocal bad_shown
        bad_shown += 1
        if bad_shown <= 100:
            print(f"bad line skipped: {b}", file=err)
        elif bad_shown == 101:
            print("bad line skipped: … (more are counted in the summary)", file=err)

    if engine == "spark":
        from rplcare.screening.spark import screen_spark

        summary = screen_spark(
            paths,
            out,
            day,
            master=master or f"local[{workers}]",
            only_candidates=only_candidates,
            on_bad=on_bad,
        )
    else:
        summary = _local(
            paths, out, day, workers, only_candidates, layout, resume, progress, on_bad, err
        )
    for line in summary_text(summary):
        print(line, file=err)
    print(f"written: {out} ({summary.rows_written} rows)", file=err)
    return 0


def _local(paths, out, day, workers, only_candidates, layout, resume, progress, on_bad, err):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from rplcare.interop.fhir.bulk import BulkStats
    from rplcare.screening.local import screen_local

    st = BulkStats()
    console = Console(file=err, stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
        transient=False,
    )
    import time

    start = time.monotonic()
    done = 0
    with bar:
        task = bar.add_task("reading", total=None, rate="")

        def on_bytes(advance: int, total: int) -> None:
            if total:
                bar.update(task, total=total)
            elif advance:
                bar.advance(task, advance)

        def on_row(_row: dict) -> None:
            nonlocal done
            done += 1
            if done % 200 == 0:
                rate = done / max(time.monotonic() - start, 1e-9)
                n = st.by_type.get("Patient")
                of = f"/{n}" if n else ""
                bar.update(
                    task, description="screening", rate=f"{done}{of} patients, {rate:,.0f}/s"
                )

        summary = screen_local(
            paths,
            out,
            day,
            workers=workers,
            only_candidates=only_candidates,
            layout=layout,
            resume=resume,
            on_bad=on_bad,
            on_bytes=on_bytes,
            on_row=on_row,
            stats=st,
        )
        rate = done / max(time.monotonic() - start, 1e-9)
        bar.update(task, description="done", rate=f"{done} rows, {rate:,.0f}/s")
    dropped = sum(st.not_relevant.values())
    if dropped:
        print(
            f"resources of types the mapping does not read (read, not used): {dropped}",
            file=err,
        )
    return summary
