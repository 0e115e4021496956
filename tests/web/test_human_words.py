"""Human words only (issue 11 §8): no `None`, internal ids (`state.care_tier_2_plus`,
`results[5]`) or raw dicts in the visible text of any page or document of any example case,
after an override and a recorded export have put entries in the audit view."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CASES = sorted(EXAMPLES.glob("*.yaml"))
# what must never reach a reader: Python's None, a dict's repr, a list index, a KB id
MACHINE = re.compile(
    r"\bNone\b|\{'|\[\d+\]|\b(?:state|finding|alert|test|treat|advice)\.[a-z0-9_]+"
)


def visible(html: str) -> str:
    """The text a reader sees: tags, attributes, scripts, styles and the inline chart removed."""
    html = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_no_machine_words_on_any_page_or_document(web, path):
    r = web.client.post("/api/cases", content=path.read_text(encoding="utf-8"), headers=web.h())
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    web.login()
    plan = web.client.get(f"/cases/{cid}").text
    rid = re.search(r'name="recommendation_id" value="([^"]+)"', plan)
    if rid:  # an override puts an "overrode" entry in the audit view
        web.client.post(
            f"/cases/{cid}/overrides",
            data={
                "csrf_token": web.csrf(),
                "recommendation_id": rid.group(1),
                "decision": "overridden",
                "reason": "done_elsewhere",
                "comment": "",
            },
        )
    urls = [
        f"/cases/{cid}/report.html",
        f"/cases/{cid}/report.html?lang=zh",
        f"/cases/{cid}/handout",
        f"/cases/{cid}/handout?lang=zh",
        f"/cases/{cid}/report.pdf/prepare",
        f"/cases/{cid}/history",
        f"/cases/{cid}/edit",
        f"/cases/{cid}",  # last: its audit view lists the views and exports above
        "/cases",
    ]
    for url in urls:
        page = web.client.get(url)
        assert page.status_code == 200, url
        found = sorted({m.group(0) for m in MACHINE.finditer(visible(page.text))})
        assert found == [], f"{url}: {found}"
    ics = web.client.get(f"/cases/{cid}/schedule.ics").text
    assert not MACHINE.search(ics.replace("\r\n ", "")), ics
