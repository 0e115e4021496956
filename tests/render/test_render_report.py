"""Clinician report HTML: complete, escaped, with sources, overrides and the pregnancy panel."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from rplcare.render.report import evidence_label, path_label, render_report_html


def esc(text: str) -> str:
    return str(escape(text))


def _article(page: str, rid: str) -> str:
    start = page.index(f'id="rec-{rid}"')
    return page[start : page.index("</article>", start)]


def test_every_recommendation_title_and_the_disclaimer(any_example):
    assessment, case = any_example
    page = render_report_html(assessment, case)
    assert assessment["recommendations"]
    for rec in assessment["recommendations"]:
        assert f'id="rec-{rec["id"]}"' in page
        assert esc(rec["title"]) in _article(page, rec["id"])
    assert "Decision support, not diagnosis" in page
    assert esc(assessment["case_id"]) in page


def test_header_echoes_the_knowledge_base_options(aps):
    assessment, case = aps
    page = render_report_html(assessment, case)
    header = page[page.index("<header>") : page.index("</header>")]
    for text in ("example-aps", "22 November 2026", "2026.11.1", "eshre2022", "guideline"):
        assert text in header


def test_sources_show_locator_strength_and_unverified_marks(aps):
    assessment, case = aps
    page = render_report_html(assessment, case)
    rec = next(r for r in assessment["recommendations"] if r["id"] == "test.anti_b2gpi")
    card = _article(page, "test.anti_b2gpi")
    for src in rec["sources"]:
        assert esc(src["locator"]) in card
    assert "strength: Conditional" in card
    assert card.count("[unverified]") == sum(1 for s in rec["sources"] if not s["verified"])
    unverified = sum(
        1 for r in assessment["recommendations"] for s in r["sources"] if s["verified"] is False
    )
    assert unverified and page.count("[unverified]") >= unverified
    verified_only = _article(page, "test.hla_typing")
    assert "[unverified]" not in verified_only


def test_sections_by_status_and_prominent_first_as_critical(aps):
    assessment, case = aps
    recs = assessment["recommendations"]
    last_nr = [r for r in recs if r["status"] == "not_recommended"][-1]
    last_nr["prominent"] = True
    page = render_report_html(assessment, case)
    do_now = page.index('id="h-recommended"')
    consider = page.index('id="h-conditional"')
    not_rec = page.index('id="h-not_recommended"')
    assert do_now < page.index('id="rec-test.full_blood_count"') < consider
    assert consider < page.index('id="rec-test.anti_b2gpi"') < not_rec
    first_card = page.index('<article class="rec', not_rec)
    assert page.index(f'id="rec-{last_nr["id"]}"') == page.index('id="rec-', first_card)
    assert 'class="rec not_recommended critical"' in page
    assert "CRITICAL" in _article(page, last_nr["id"])
    assert "CRITICAL" not in _article(page, "test.hla_typing")


def test_findings_with_evidence_paths_resolved_against_the_case(aps):
    assessment, case = aps
    page = render_report_html(assessment, case)
    item = page[page.index('id="finding-cause.antiphospholipid_syndrome"') :]
    item = item[: item.index("</li>")]
    # the path stays for tools (attribute); the reader sees record words (issue 11 §8)
    assert 'data-path="results[0]">result 1 (lupus_anticoagulant positive 2026-02-02)' in item
    assert "results[0]</" not in item
    assert path_label(case, "pregnancies[1]") == "past pregnancy 2 (miscarriage ga=8+2 2024)"
    assert path_label(None, "results[5].value") == "result 6 value"
    assert evidence_label(case, "pregnancies[1]") == "miscarriage ga=8+2 2024"
    assert evidence_label(case, "results[99]") == ""
    assert evidence_label(None, "results[0]") == ""


def test_overrides_are_shown_next_to_their_recommendation_and_escaped(thyroid):
    assessment, case = thyroid
    overrides = [
        {
            "recommendation_id": "treat.levothyroxine",
            "decision": "overridden",
            "reason": "patient_declined",
            "comment": "<script>alert(1)</script>",
            "who": "Dr Chen",
            "when": "2026-11-22T10:30:00",
        },
        {
            "recommendation": "test.uterine_anatomy",
            "decision": "accepted",
            "reason_code": "agree",
            "by": "Dr Roe",
            "at": "2026-11-22",
        },
        {
            "recommendation_id": "treat.retired_rule",
            "decision": "overridden",
            "reason": "other",
            "who": "Dr Chen",
            "when": "2026-11-01",
        },
    ]
    page = render_report_html(assessment, case, overrides)
    card = _article(page, "treat.levothyroxine")
    for text in (
        "overridden",
        "patient declined",  # the reason in words (issue 11 §8)
        "Dr Chen",
        "2026-11-22T10:30:00",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    ):
        assert text in card
    assert "<script>" not in page
    accepted = _article(page, "test.uterine_anatomy")
    assert "accepted" in accepted and "agree" in accepted and "Dr Roe" in accepted
    orphans = page[page.index('id="h-orphans"') :]
    assert "treat.retired_rule" in orphans


def test_everything_is_escaped(thyroid):
    assessment, case = thyroid
    assessment["case_id"] = '<img src=x onerror="alert(1)">'
    assessment["findings"][0]["text"] = "<b>bold</b> & more"
    assessment["recommendations"][0]["title"] = "<i>title</i>"
    assessment["warnings"].append("<marquee>")
    page = render_report_html(assessment, case)
    for raw in ("<img src=x", "<b>bold</b>", "<i>title</i>", "<marquee>"):
        assert raw not in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page


def test_pregnancy_panel(bleeding):
    assessment, case = bleeding
    page = render_report_html(assessment, case)
    panel = page[page.index('id="h-preg"') : page.index('id="h-prognosis"')]
    assert "15 July 2027" in panel  # EDD
    assert esc(assessment["pregnancy"]["dating"]["why"]) in panel
    assert "2026-11-10" in panel and "2026-11-12" in panel and "+87.0 %" in panel
    assert "likely developing intrauterine pregnancy" in panel
    assert "viable" in panel and "Verhaegen 2012" in panel
    assert "vaginal micronised progesterone 400 mg twice daily" in panel
    assert "16+0" in panel and "28 January 2027" in panel
    assert "Stop luteal support (16+0)" in panel  # events table
    assert "<svg" in panel and 'id="nice-band-rise-0"' in panel
    assert "<?xml" not in page
    card = _article(page, "treat.vaginal_progesterone_bleeding")
    assert "stop at 16+0 (28 January 2027)" in card


def test_prognosis_with_caveat_and_warnings(aps, thyroid):
    page = render_report_html(*aps)
    prognosis = page[page.index('id="h-prognosis"') :]
    assert "73.0 %" in prognosis and "brigham1999" in prognosis
    assert "over-optimistic" in prognosis
    page = render_report_html(*thyroid)
    warnings = page[page.index('id="h-warnings"') : page.index('id="h-class"')]
    assert "outside the model" in warnings
    assert "No prognosis" in page


def test_no_pregnancy_panel_without_a_pregnancy(aps):
    page = render_report_html(*aps)
    assert 'id="h-preg"' not in page and "<svg" not in page


def test_chinese_report_translates_the_template(aps):
    page = render_report_html(*aps, lang="zh")
    assert '<html lang="zh-Hans">' in page
    assert "复发性流产：医生报告" in page and "现在就做" in page and "未核实" in page
    assert "2026年11月22日" in page
    assert "Do now" not in page


def test_unknown_language(aps):
    with pytest.raises(ValueError, match="unknown language"):
        render_report_html(*aps, lang="fr")


def test_print_css_inlined(aps):
    page = render_report_html(*aps)
    assert re.search(r"@page\s*\{", page)
    assert "<link" not in page  # self-contained: nothing to fetch


def test_disclaimer_matches_the_engine_and_is_translated(aps):
    from rplcare.reasoning.assess import DISCLAIMER as ENGINE
    from rplcare.render.report import DISCLAIMER

    assert DISCLAIMER == ENGINE  # so the catalog translates the engine's own words
    page = render_report_html(*aps, lang="zh")
    assert "决策支持，而非诊断" in page
    assert ENGINE not in page


def test_overrides_in_the_store_shape(thyroid):
    store_row = {
        "id": 7,
        "recommendation_id": "treat.levothyroxine",
        "decision": "accepted",
        "reason": None,
        "comment": "",
        "user": "Dr Chen",
        "created": "2026-11-22T10:30:00+00:00",
        "when": "2026-11-22 10:30 UTC",
    }
    card = _article(render_report_html(*thyroid, [store_row]), "treat.levothyroxine")
    assert "accepted" in card and "Dr Chen" in card and "2026-11-22 10:30 UTC" in card
