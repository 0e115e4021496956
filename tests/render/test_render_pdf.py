"""PDF of the clinician report through WeasyPrint; text checked with poppler's pdftotext."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from rplcare.render.handout import render_handout_pdf
from rplcare.render.pdf import render_report_pdf


def _weasyprint_or_skip() -> None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: pango/harfbuzz system libraries missing
        pytest.skip(
            f"WeasyPrint unavailable ({exc}); apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0 libharfbuzz0b"
        )


def _text(pdf: bytes) -> str:
    exe = shutil.which("pdftotext")
    if exe:
        out = subprocess.run(
            [exe, "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode("utf-8")
    else:
        pypdf = pytest.importorskip("pypdf", reason="needs pdftotext (poppler-utils) or pypdf")
        import io

        out = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return " ".join(out.split())


def test_report_pdf_text(bleeding):
    _weasyprint_or_skip()
    pdf = render_report_pdf(*bleeding)
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    assert "example-bleeding" in text
    assert "Decision support" in text
    assert "Full blood count" in text
    assert "Do not take bed rest" in text
    assert "28 January 2027" in text


def test_chinese_handout_pdf_has_chinese_text(bleeding):
    _weasyprint_or_skip()
    if (
        not shutil.which("fc-list")
        or "CJK"
        not in subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    ):
        pytest.skip("no CJK font (Debian fonts-noto-cjk) to print Chinese")
    text = _text(render_handout_pdf(*bleeding, lang="zh"))
    assert "本计划是决策支持" in text.replace(" ", "")
    assert "2027年1月28日" in text.replace(" ", "")
