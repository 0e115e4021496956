"""The "Outcomes" page: the registry figures of the store for clinicians and the director.

Tables, filters (GET, so a view is a link), CSV / JSON / FHIR downloads and the plots. The
figures come from `rplcare.outcomes.registry` unchanged; nothing is computed here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from rplcare.case.errors import CaseError
from rplcare.outcomes import registry
from rplcare.util import jsonio
from rplcare.web import auth

router = APIRouter(include_in_schema=False)
BY_LABEL = {
    "cause": "cause found",
    "age": "age band at first assessment",
    "losses": "prior losses",
    "treatment": "treatment received",
    "year": "year of first assessment",
    "clinician": "clinician",
}


def _date(params: Any, name: str, problems: list[tuple[str, str]]) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append((name, f"{raw!r} is not a date (YYYY-MM-DD)"))
        return None


def options(request: Request, by: str | None = None) -> registry.Options:
    """The filters of the query string; every problem at once as a CaseError."""
    q = request.query_params
    problems: list[tuple[str, str]] = []
    by = (by if by is not None else q.get("by")) or None
    if by is not None and by not in registry.BREAKDOWNS:
        problems.append(("by", f"{by!r} is not one of {', '.join(registry.BREAKDOWNS)}"))
    since, until = _date(q, "since", problems), _date(q, "until", problems)
    claim = None
    if (q.get("claim") or "").strip():
        try:
            claim = float(q["claim"])
            if not 0 < claim < 1:
                raise ValueError
        except ValueError:
            problems.append(("claim", f"{q['claim']!r} is not a proportion between 0 and 1"))
            claim = None
    lost_after = registry.LOST_AFTER_DAYS
    if (q.get("lost_after") or "").strip():
        try:
            lost_after = int(q["lost_after"])
            if lost_after < 0:
                raise ValueError
        except ValueError:
            problems.append(("lost_after", f"{q['lost_after']!r} is not a number of days ≥ 0"))
    if problems:
        raise CaseError(problems)
    return registry.Options(
        by=by, since=since, until=until, claim=claim, lost_after_days=lost_after
    )


def _report(request: Request, opts: registry.Options) -> dict[str, Any]:
    store = request.app.state.store
    with store.read() as s:
        auth.page_user(s, request)
    return registry.report_for(store, opts)


@router.get("/outcomes")
def outcomes_page(request: Request) -> HTMLResponse:
    from rplcare.web.pages import render

    store = request.app.state.store
    with store.read() as s:
        user = auth.page_user(s, request)
    opts = options(request)
    report = registry.report_for(store, opts)
    from urllib.parse import urlencode

    keep = {k: v for k, v in request.query_params.items() if k != "by" and v}
    return render(
        request,
        "outcomes.html",
        user,
        report=report,
        rows=registry.ROWS,
        by_label=BY_LABEL,
        opts=opts,
        filters=urlencode(keep),
        lost_default=registry.LOST_AFTER_DAYS,
    )


@router.get("/outcomes.csv")
def outcomes_csv(request: Request) -> Response:
    report = _report(request, options(request))
    name = f"rplcare-outcomes-{report['as_of']}" + (f"-by-{report['by']}" if report["by"] else "")
    return Response(
        registry.to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/outcomes.json")
def outcomes_json(request: Request) -> Response:
    report = _report(request, options(request))
    return Response(jsonio.dumps_bytes(report, compact=True), media_type="application/json")


@router.get("/outcomes/measure-report.json")
def outcomes_fhir(request: Request) -> Response:
    from rplcare.outcomes.fhir import bundle

    overall = _report(request, options(request, by=""))
    by_age = _report(request, options(request, by="age"))
    return Response(
        jsonio.dumps_bytes(bundle(overall, by_age), compact=True),
        media_type="application/fhir+json",
    )


def _image(data: bytes, fmt: str) -> Response:
    return Response(data, media_type="image/png" if fmt == "png" else "image/svg+xml")


def _fmt(fmt: str) -> str:
    if fmt not in ("png", "svg"):
        raise CaseError([("format", f"{fmt!r} is not png or svg")])
    return fmt


@router.get("/outcomes/funnel.{fmt}")
def outcomes_funnel(request: Request, fmt: str) -> Response:
    from rplcare.outcomes.plots import funnel

    fmt = _fmt(fmt)
    by = request.query_params.get("by") or "clinician"
    if by not in ("clinician", "year"):
        raise CaseError([("by", f"{by!r}: the funnel plot is by clinician or year")])
    return _image(funnel(_report(request, options(request, by=by)), fmt), fmt)


@router.get("/outcomes/by-year.{fmt}")
def outcomes_by_year(request: Request, fmt: str) -> Response:
    from rplcare.outcomes.plots import rate_by_year

    fmt = _fmt(fmt)
    return _image(rate_by_year(_report(request, options(request, by="year")), fmt), fmt)
