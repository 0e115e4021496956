"""The worklist and patients by name in a real browser (issue 11 §2, §3): cases imported
through the form, a patient's details entered in theirs, then the worklist searched by her
name, filtered by status (urgent, pregnant) and archived cases left out, every view a URL
that gives the same rows when opened again (bookmarkable)."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from tests.e2e.conftest import serious_violations
from tests.e2e.test_browser import _login
from tests.render.test_urgent_first import CASE as URGENT

pytestmark = pytest.mark.e2e
ROOT_EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples"


def _import(page, tmp_path, case: dict) -> None:
    file = tmp_path / f"{case['id']}.json"
    file.write_text(json.dumps(case, default=str), encoding="utf-8")
    page.goto("/cases/import")
    page.set_input_files("input[name=file]", str(file))
    page.click("button:has-text('Import')")
    page.wait_for_url(re.compile(rf"/cases/{re.escape(case['id'])}$"))


def _shown(page) -> list[str]:
    """The case ids of the worklist rows on the page."""
    return [t.strip() for t in page.locator("#rows tr td:nth-child(2) a").all_inner_texts() if t]


def test_worklist_filters_and_patient_search(page, server, tmp_path, artifacts):
    _login(page, server)
    bleeding = yaml.safe_load((ROOT_EXAMPLES / "bleeding-early-pregnancy.yaml").read_text())
    aps = yaml.safe_load((ROOT_EXAMPLES / "aps-three-losses.yaml").read_text())
    cases = [
        {**URGENT, "id": "wl-urgent"},
        {**bleeding, "id": "wl-bleeding"},
        {**aps, "id": "wl-aps"},
    ]
    for case in cases:
        _import(page, tmp_path, case)

    # patient details through their form; the header of her pages shows them
    page.goto("/cases/wl-bleeding")
    page.click("text=Add patient details")
    page.fill("#name", "Zhang Xiaoyan")
    page.fill("#birth_date", "1990-05-06")
    page.fill("#mrn", "E2E-777")
    page.fill("#contact", "+86 21 5555 0199")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/cases/wl-bleeding$"))
    banner = page.inner_text(".patient-banner")
    assert "Zhang Xiaoyan" in banner and "E2E-777" in banner and "1990-05-06" in banner

    # search by name as typed (htmx swaps the rows and puts the search in the URL)
    page.goto("/cases")
    page.fill("#q", "xiaoyan")
    page.wait_for_url(re.compile(r"[?&]q=xiaoyan"))
    page.wait_for_function(
        "() => document.querySelectorAll('#rows tr td:nth-child(2) a').length === 1"
    )
    assert _shown(page) == ["wl-bleeding"]
    # by hospital number and by date of birth, from a bookmarked URL
    page.goto("/cases?q=e2e-777")
    assert _shown(page) == ["wl-bleeding"]
    page.goto("/cases?q=1990-05-06")
    assert _shown(page) == ["wl-bleeding"]

    # status filters: tick "urgent", then "pregnant" as well
    page.goto("/cases?q=wl-")
    assert set(_shown(page)) == {"wl-urgent", "wl-bleeding", "wl-aps"}
    assert _shown(page)[0] == "wl-urgent"  # most urgent first: the ectopic alert
    page.check("input[name=status][value=pregnant]")
    page.wait_for_url(re.compile(r"status=pregnant"))
    page.wait_for_function(
        "() => document.querySelectorAll('#rows tr td:nth-child(2) a').length === 2"
    )
    assert set(_shown(page)) == {"wl-urgent", "wl-bleeding"}
    page.check("input[name=status][value=urgent]")
    page.wait_for_url(re.compile(r"status=urgent"))
    page.wait_for_function(
        "() => document.querySelectorAll('#rows tr td:nth-child(2) a').length === 1"
    )
    assert _shown(page) == ["wl-urgent"]
    bookmark = page.url
    page.screenshot(path=str(artifacts / "worklist-filtered.png"), full_page=False)
    page.goto("/cases")
    page.goto(bookmark)  # the same view again from its URL
    assert _shown(page) == ["wl-urgent"]
    assert page.is_checked("input[name=status][value=urgent]")

    # archive a case: it leaves the worklist, the archived view has it
    page.goto("/cases/wl-aps")
    page.click(".patient-banner a:has-text('Archive')")
    page.click("main form button:has-text('Archive')")
    page.wait_for_url(re.compile(r"/cases/wl-aps$"))
    page.goto("/cases?q=wl-")
    assert "wl-aps" not in _shown(page)
    page.goto("/cases?q=wl-&archived=1")
    assert _shown(page) == ["wl-aps"]

    # at 390 px (a phone) the worklist fits: rows become cards, nothing scrolls sideways
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/cases?q=wl-")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "worklist-390.png"), full_page=True)


def test_axe_finds_no_serious_violation_on_the_worklist_pages(axe_page, server, tmp_path):
    """WCAG 2.2 AA (issue 11 §7) on the pages of §2 and §3: the worklist (filtered and
    paged), the patient-details form with its errors, and the import confirmation."""

    page = axe_page
    _login(page, server)
    bleeding = yaml.safe_load((ROOT_EXAMPLES / "bleeding-early-pregnancy.yaml").read_text())
    case = {**bleeding, "id": "axe-wl"}
    _import(page, tmp_path, case)
    for url in ("/cases", "/cases?status=pregnant&sort=name&per_page=1", "/cases?archived=1"):
        page.goto(url)
        assert serious_violations(page) == [], url
    page.goto("/cases/axe-wl/patient")
    assert serious_violations(page) == []
    page.fill("#birth_date", "2999-01-01")
    page.evaluate("document.querySelector('#name').removeAttribute('required')")
    page.click("button:has-text('Save')")
    assert page.locator("#err-name").is_visible()
    assert serious_violations(page) == []
    # the same file again: the confirmation page
    file = tmp_path / "again.json"
    file.write_text(json.dumps(case, default=str), encoding="utf-8")
    page.goto("/cases/import")
    page.set_input_files("input[name=file]", str(file))
    page.click("button:has-text('Import')")
    assert "already in the store" in page.content()
    assert serious_violations(page) == []
