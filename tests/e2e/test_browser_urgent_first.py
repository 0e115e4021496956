"""Urgent first in a real browser (issue 9 §2, "Done when"): a pregnancy of unknown location
with pain and an hCG above the discriminatory level (Connolly 2013; NICE NG126), imported
through the form, opens its web plan with the ectopic alerts, above the classification."""

from __future__ import annotations

import json
import re

import pytest
from tests.e2e.test_browser import _login
from tests.render.test_urgent_first import CASE, ECTOPIC_WORDS

pytestmark = pytest.mark.e2e


def test_pul_with_pain_plan_opens_with_the_ectopic_alerts(page, server, tmp_path, artifacts):
    _login(page, server)
    case = {**CASE, "id": "e2e-pul-pain"}
    file = tmp_path / "pul.json"
    file.write_text(json.dumps(case), encoding="utf-8")
    page.goto("/cases/import")
    page.set_input_files("input[name=file]", str(file))
    page.click("button:has-text('Import')")
    page.wait_for_url(re.compile(r"/cases/e2e-pul-pain$"))
    alerts = page.locator("div.alert[role=alert]")
    assert alerts.count() >= 2
    assert ECTOPIC_WORDS in alerts.nth(0).inner_text()
    first_alert = alerts.nth(0).bounding_box()
    classification = page.locator("#classification").bounding_box()
    assert first_alert is not None and classification is not None
    assert first_alert["y"] < classification["y"]
    page.screenshot(path=str(artifacts / "plan-pul-pain.png"), full_page=False)
