"""`rplcare outcomes`: the registry figures of the store (RPLCARE_DATABASE_URL)."""

from __future__ import annotations

import sys
from datetime import date

from rplcare.util import jsonio


def parse_age_cuts(text: str) -> list[int]:
    """ "35,38,41,43" → [35, 38, 41, 43] (the lower edges of the bands after the first)."""
    try:
        cuts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--age-bands: {text!r} is not a comma-separated list of ages") from None
    if not cuts or cuts != sorted(set(cuts)) or not all(10 <= c <= 70 for c in cuts):
        raise ValueError(f"--age-bands: {text!r} must be increasing ages between 10 and 70")
    return cuts


def run(
    *,
    by: str | None,
    since: date | None,
    until: date | None,
    claim: float | None,
    fmt: str,
    today: date | None,
    lost_after_days: int,
    age_bands: str,
    url: str | None = None,
) -> int:
    from rplcare.outcomes import registry
    from rplcare.store.db import Store

    problems = []
    if claim is not None and not 0 < claim < 1:
        problems.append(f"--claim: {claim!r} must be a proportion between 0 and 1 (e.g. 0.85)")
    if lost_after_days < 0:
        problems.append(f"--lost-after: {lost_after_days!r} must be 0 or more days")
    try:
        cuts = parse_age_cuts(age_bands)
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        return 2
    opts = registry.Options(
        by=by,
        since=since,
        until=until,
        claim=claim,
        today=today,
        lost_after_days=lost_after_days,
        age_cuts=cuts,
    )
    store = Store(url)
    try:
        report = registry.report_for(store, opts)
        by_age = None
        if fmt == "fhir":
            by_age = registry.report_for(store, registry.Options(**{**vars(opts), "by": "age"}))
    finally:
        store.dispose()
    if fmt == "json":
        sys.stdout.write(jsonio.dumps(report) + "\n")
    elif fmt == "csv":
        sys.stdout.write(registry.to_csv(report))
    elif fmt == "fhir":
        from rplcare.outcomes.fhir import bundle

        sys.stdout.write(jsonio.dumps(bundle(report, by_age)) + "\n")
    else:
        sys.stdout.write(registry.to_text(report))
    return 0
