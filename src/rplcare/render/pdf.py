"""PDF of the clinician report through WeasyPrint, for printing and for the record.

WeasyPrint (and the pango it loads) is imported inside the function: it is slow to import and
needs system libraries, and nothing else in rplcare should pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rplcare.render.report import TEMPLATES, render_report_html


def html_to_pdf(html: str) -> bytes:
    """Render self-contained HTML (inline CSS and SVG) to PDF bytes."""
    import weasyprint

    return weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


def render_report_pdf(
    assessment_dict: Mapping[str, Any],
    case_dict: Mapping[str, Any] | None,
    overrides: list[dict[str, Any]] | None = None,
    lang: str = "en",
    patient: Mapping[str, Any] | None = None,
) -> bytes:
    """The clinician report (same HTML as `render_report_html`) as an A4 PDF."""
    return html_to_pdf(
        render_report_html(assessment_dict, case_dict, overrides, lang=lang, patient=patient)
    )
