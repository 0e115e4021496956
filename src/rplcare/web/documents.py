"""Documents of a case (report, handout, calendar, hCG chart) from the shared renderers.

The renderers live in `rplcare.render`; they are imported when first asked for, and a missing
one gives a clear 503 rather than breaking the whole app. A case whose pregnancy was recorded
as lost gets no pregnancy events and the after-loss handout.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, status

LANGS = ("en", "zh")


def _renderer(module: str, name: str) -> Callable[..., Any]:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, OSError) as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"{module}.{name} is not available in this installation ({exc})",
        ) from None


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        from rplcare.case.errors import CaseError

        raise CaseError([("lang", f"{lang!r} is not one of {', '.join(LANGS)}")])
    return lang


def report_html(
    assessment: dict[str, Any],
    case: dict[str, Any],
    overrides: list[dict[str, Any]] | None,
    lang: str = "en",
    patient: dict[str, Any] | None = None,
) -> str:
    fn = _renderer("rplcare.render.report", "render_report_html")
    return fn(assessment, case, overrides=overrides, lang=check_lang(lang), patient=patient)


def report_pdf(
    assessment: dict[str, Any],
    case: dict[str, Any],
    overrides: list[dict[str, Any]] | None,
    lang: str = "en",
    patient: dict[str, Any] | None = None,
) -> bytes:
    try:
        fn = _renderer("rplcare.render.report", "render_report_pdf")
    except HTTPException:
        fn = _renderer("rplcare.render.pdf", "render_report_pdf")
    try:
        return fn(assessment, case, overrides=overrides, lang=check_lang(lang), patient=patient)
    except (ImportError, OSError) as exc:  # WeasyPrint or its system libraries missing
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"PDF rendering is not available here ({exc})"
        ) from None


def handout_html(
    assessment: dict[str, Any],
    case: dict[str, Any],
    lang: str,
    lost: bool,
    overrides: list[dict[str, Any]] | None = None,
    patient: dict[str, Any] | None = None,
) -> str:
    fn = _renderer("rplcare.render.handout", "render_handout_html")
    return fn(
        assessment, case, lang=check_lang(lang), lost=lost, overrides=overrides, patient=patient
    )


def schedule_ics(
    assessment: dict[str, Any],
    case_id: str,
    lost: bool,
    overrides: list[dict[str, Any]] | None = None,
) -> bytes:
    from rplcare.pregnancy.schedule import Event
    from rplcare.render.ics import calendar_events, events_to_ics

    raw = [] if lost else calendar_events(assessment, overrides)
    return events_to_ics([Event.model_validate(d) for d in raw], case_id)


def hcg_chart_png(assessment: dict[str, Any]) -> bytes | None:
    """The chart as PNG (same drawing as the SVG), or None when there is nothing to plot."""
    try:
        fn = _renderer("rplcare.render.chart", "hcg_chart_png")
    except HTTPException:
        return None
    return fn(assessment)


def hcg_chart(assessment: dict[str, Any]) -> str | None:
    """The chart SVG, or None when there is nothing to plot or no chart renderer yet."""
    try:
        fn = _renderer("rplcare.render.chart", "hcg_chart_svg")
    except HTTPException:
        return None
    return fn(assessment)


def available() -> dict[str, bool]:
    """Which renderers this installation has (shown on /healthz and the plan page)."""
    out = {}
    for key, module in (
        ("report", "rplcare.render.report"),
        ("pdf", "rplcare.render.pdf"),
        ("handout", "rplcare.render.handout"),
        ("chart", "rplcare.render.chart"),
    ):
        try:
            importlib.import_module(module)
            out[key] = True
        except (ImportError, OSError):
            out[key] = False
    return out
