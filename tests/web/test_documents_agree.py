"""Documents agree with the page (issue 11 §5): a clinician's override reaches the report and the
handout, the definition and luteal policy chosen on the plan page carry into every document link
and document, the hCG chart downloads as SVG and PNG, and the PDF has a page that shows progress."""

from __future__ import annotations

import re

from rplcare.render.ics import calendar_events


def _setup(web, example_text):
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()


def _override(web, rid, reason, comment=""):
    r = web.client.post(
        "/cases/example-bleeding/overrides",
        data={
            "csrf_token": web.csrf(),
            "recommendation_id": rid,
            "decision": "overridden",
            "reason": reason,
            "comment": comment,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def test_an_overridden_recommendation_leaves_the_handout_and_shows_in_the_report(web, example_text):
    _setup(web, example_text)
    rid = "test.anti_b2gpi"  # recommended for this case (antiphospholipid workup)
    assert f'data-id="{rid}"' in web.client.get("/cases/example-bleeding/handout").text
    _override(web, rid, "done_elsewhere", "tested at the referring hospital")
    handout = web.client.get("/cases/example-bleeding/handout").text
    assert f'data-id="{rid}"' not in handout  # not a to-do for her any more
    report = web.client.get("/cases/example-bleeding/report.html").text
    card = report[report.index(f'id="rec-{rid}"') :]
    card = card[: card.index("</article>")]
    assert "Clinician decision:" in card and "tested at the referring hospital" in card


def test_the_chosen_definition_carries_into_the_document_links_and_documents(web, example_text):
    _setup(web, example_text)
    plan = web.client.get("/cases/example-bleeding?definition=asrm2012&luteal_policy=article").text
    links = re.findall(r'href="(/cases/example-bleeding/[^"]+)"', plan)
    docs = [u for u in links if re.search(r"report|handout|schedule", u)]
    assert docs, plan
    for url in docs:
        assert "definition=asrm2012" in url and "luteal_policy=article" in url, url
    report = web.client.get(
        "/cases/example-bleeding/report.html?definition=asrm2012&luteal_policy=article"
    ).text
    assert "<code>asrm2012</code>" in report and "<code>article</code>" in report
    api = web.client.get(
        "/api/cases/example-bleeding/report.html?definition=rcog2023", headers=web.h()
    ).text
    assert "<code>rcog2023</code>" in api
    bad = web.client.get("/cases/example-bleeding/handout?definition=who")
    assert bad.status_code == 422 and "definition" in bad.text


def test_the_hcg_chart_downloads_as_svg_and_png(web, example_text):
    _setup(web, example_text)
    svg = web.client.get("/cases/example-bleeding/hcg-chart.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text and "hcg-series" in svg.text
    png = web.client.get("/cases/example-bleeding/hcg-chart.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert "attachment" in png.headers["content-disposition"]
    assert web.client.get("/cases/example-bleeding/hcg-chart.gif").status_code == 404


def test_the_pdf_link_opens_a_page_that_shows_progress(web, example_text):
    _setup(web, example_text)
    page = web.client.get("/cases/example-bleeding/report.pdf/prepare?definition=asrm2012")
    assert page.status_code == 200
    assert "<progress" in page.text and 'role="status"' in page.text
    assert 'data-src="/cases/example-bleeding/report.pdf?definition=asrm2012' in page.text
    assert "pdf-prepare.js" in page.text
    assert web.client.get("/static/pdf-prepare.js").status_code == 200
    assert web.client.get("/cases/no-such-case/report.pdf/prepare").status_code == 404


ASSESSMENT = {
    "recommendations": [{"id": "treat.progestogen", "schedule": {"regimen": "r"}}],
    "pregnancy": {"events": [{"kind": "luteal_stop"}, {"kind": "next_hcg"}]},
}


def test_a_declined_medicine_leaves_the_calendar_but_one_given_elsewhere_stays():
    """Rule: the stop-date reminder follows the medicine; declined = not taken = no reminder;
    done elsewhere = taken, prescribed by someone else = reminder kept. Result-driven events
    (next hCG) stay whatever was decided."""
    declined = [{"recommendation_id": "treat.progestogen", "decision": "overridden",
                 "reason": "patient_declined"}]  # fmt: skip
    elsewhere = [{"recommendation_id": "treat.progestogen", "decision": "overridden",
                  "reason": "done_elsewhere"}]  # fmt: skip
    accepted = [{"recommendation_id": "treat.progestogen", "decision": "accepted"}]
    kinds = lambda ovs: [e["kind"] for e in calendar_events(ASSESSMENT, ovs)]  # noqa: E731
    assert kinds(None) == ["luteal_stop", "next_hcg"]
    assert kinds(declined) == ["next_hcg"]
    assert kinds(elsewhere) == ["luteal_stop", "next_hcg"]
    assert kinds(accepted) == ["luteal_stop", "next_hcg"]
