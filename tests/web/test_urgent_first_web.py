"""Urgent first on the web plan (issue 9 §2, "Done when"): the plan page of a pregnancy of
unknown location with pain and an hCG at or above the discriminatory level (Connolly 2013;
NICE NG126) opens with the ectopic alerts, before the classification and every other section;
the case list shows it as needing review. The same case as tests/render/test_urgent_first.py."""

from __future__ import annotations

import json
import re

import pytest
from tests.render.test_urgent_first import CASE, ECTOPIC_WORDS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _plain(html: str) -> str:
    body = html[html.index("<main") if "<main" in html else html.index("<body") :]
    body = re.sub(r"<(style|script).*?</\1>", " ", body, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_web_plan_opens_with_the_ectopic_alerts(web):
    r = web.client.post(
        "/api/cases",
        content=json.dumps(CASE),
        headers={**web.h(), "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text[:300]
    web.login()
    page = web.client.get(f"/cases/{CASE['id']}")
    assert page.status_code == 200
    text = _plain(page.text)
    first = text.index(ECTOPIC_WORDS)
    for later in ("Classification", "Do now", "Consider", "Not recommended"):
        if later in text:
            assert first < text.index(later), later
    alerts = re.findall(r'<div class="alert" role="alert">(.*?)</div>', page.text, flags=re.S)
    assert alerts and ECTOPIC_WORDS in alerts[0]


def test_web_banner_is_the_assessments_ordered_action_list(web):
    """Faces never re-derive urgency: the banner lists the non-routine actions of the stored
    assessment in its order, and the case list badge says the case needs review."""
    web.client.post(
        "/api/cases",
        content=json.dumps(CASE),
        headers={**web.h(), "Content-Type": "application/json"},
    )
    a = web.client.get(f"/api/cases/{CASE['id']}/assessment", headers=web.h()).json()
    order = [x["text"] for x in a["actions"] if x["urgency"] != "routine"]
    assert order and ECTOPIC_WORDS in order[0]
    web.login()
    page = web.client.get(f"/cases/{CASE['id']}").text
    alerts = re.findall(r'<div class="alert" role="alert">(.*?)</div>', page, flags=re.S)
    shown = [re.sub(r"<strong>.*?</strong>\s*", "", al, count=1).strip() for al in alerts]
    assert shown == [_html_text(t) for t in order]
    listing = web.client.get("/cases").text
    row = listing[listing.index(CASE["id"]) :]
    assert "review" in row[: row.index("</tr>")].lower()


def _html_text(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))
