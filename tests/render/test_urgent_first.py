"""Urgent first, the same everywhere (issue 9 §2; contract 1): a pregnancy of unknown location
with pain and an hCG above the discriminatory level (Connolly 2013; NICE NG126) opens every
output with the ectopic alerts - terminal summary, report HTML, PDF page 1, handout (en, zh).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date

import pytest
from rich.console import Console

import rplcare
from rplcare.render.handout import render_handout_html
from rplcare.render.report import render_report_html
from rplcare.render.text import print_assessment

TODAY = date(2026, 11, 23)
CASE = {
    "format": "rplcare.case/1",
    "id": "pul-pain",
    "assessed_on": "2026-11-23",
    "patient": {"age_years": 33, "bmi": 24, "smoking": False},
    "pregnancies": [
        {"outcome": "miscarriage", "ga": "7+0", "year": 2024},
        {"outcome": "miscarriage", "ga": "8+0", "year": 2025},
    ],
    "results": [
        {"test": "hcg", "value": 4200, "unit": "IU/L", "date": "2026-11-21T09:00"},
        {"test": "hcg", "value": 4600, "unit": "IU/L", "date": "2026-11-23T09:00"},
    ],
    "current_pregnancy": {
        "lmp": "2026-10-12",
        "symptoms": ["pain"],
        "scans": [{"date": "2026-11-23", "location": "unknown"}],
    },
}
FIRST = "alert.ectopic_suspected_symptomatic_pul"
ECTOPIC_WORDS = "suspected ectopic pregnancy"


@pytest.fixture(scope="module")
def assessed():
    a = rplcare.assess(rplcare.load_case(CASE, today=TODAY))
    return a, a.to_dict()


def _plain(html: str) -> str:
    body = html[html.index("<body") :]
    body = re.sub(r"<style.*?</style>", " ", body, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_terminal_summary_first_lines_are_the_ectopic_alerts(assessed):
    a, _ = assessed
    buf = io.StringIO()
    print_assessment(a, Console(file=buf, width=100, highlight=False, color_system=None))
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith(f"IMMEDIATE {FIRST}:")
    assert ECTOPIC_WORDS in " ".join(lines[:4])
    head = "\n".join(lines[: lines.index(next(x for x in lines if "rplcare assessment" in x))])
    assert "alert.hcg_above_discriminatory_no_sac" in head


def test_report_html_opens_with_the_ectopic_alerts(assessed):
    _, d = assessed
    html = render_report_html(d, CASE)
    text = _plain(html)
    first_alert = text.index(ECTOPIC_WORDS)
    for later in ("Classification", "Findings", "Do now", "Case"):
        assert first_alert < text.index(later), later
    section = html[html.index('id="actions-urgent"') :]
    section = section[: section.index("</section>")]
    ids = re.findall(r'data-id="([^"]+)"', section)
    assert ids[:2] == [FIRST, "alert.hcg_above_discriminatory_no_sac"]


def test_pdf_page_one_opens_with_the_ectopic_alerts(assessed):
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        pytest.skip(f"WeasyPrint unavailable ({exc})")
    exe = shutil.which("pdftotext")
    if not exe:
        pytest.skip("needs pdftotext (poppler-utils, scripts/system-deps.sh)")
    from rplcare.render.pdf import render_report_pdf

    pdf = render_report_pdf(assessed[1], CASE)
    page1 = subprocess.run(
        [exe, "-f", "1", "-l", "1", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    text = " ".join(page1.split())
    assert ECTOPIC_WORDS in text
    assert text.index("Act first") < text.index(ECTOPIC_WORDS) < text.index("Assessed on")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_handout_first_section_is_the_ectopic_alert_in_patient_words(assessed, lang):
    _, d = assessed
    html = render_handout_html(d, CASE, lang=lang)
    main = html[html.index("<main>") :]
    first_section = main[main.index("<section") : main.index("</section>")]
    assert 'id="act-first"' in first_section
    ids = re.findall(r'data-id="([^"]+)"', first_section)
    assert ids[0] == FIRST
    if lang == "en":
        assert "ectopic" in first_section and "today" in first_section
        assert "Connolly" not in first_section  # patient words, not the clinician text
    else:
        assert "宫外孕" in first_section


def test_every_face_uses_the_same_order(assessed):
    """Faces never re-derive urgency: the report and handout list the assessment's order."""
    _, d = assessed
    order = [x["id"] for x in d["actions"] if x["urgency"] != "routine"]
    html = render_report_html(d, CASE)
    section = html[html.index('id="actions-urgent"') :]
    section = section[: section.index("</section>")]
    assert re.findall(r'data-id="([^"]+)"', section) == order
    handout = render_handout_html(d, CASE, lang="en")
    act = handout[handout.index('id="act-first"') :]
    act = act[: act.index("</section>")]
    assert re.findall(r'data-id="([^"]+)"', act) == order
