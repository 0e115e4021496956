"""Small screens and accessibility (issue 11 §7): at 390 px the plan has no horizontal overflow
and the menu does not overlap (screenshot kept), printing hides the controls, and axe-core
(npm `axe-core` from tests/interop/node, injected by Playwright) finds no serious or critical
violation on the plan, report and handout pages. Skips when axe-core is not installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import serious_violations

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "bleeding-early-pregnancy.yaml"


def _login_and_import(page, server):
    page.goto("/login")
    page.fill("input[name=name]", server.user)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/cases")
    cid = "example-bleeding"
    if page.goto(f"/cases/{cid}").status == 404:  # the server is shared by the session
        page.goto("/cases/import")
        page.set_input_files("input[type=file]", str(EXAMPLE))
        page.click("button:has-text('Import')")
        page.wait_for_url(f"**/cases/{cid}")
    return cid


def test_plan_at_390_px_fits_and_the_menu_does_not_collide(page, server, artifacts):
    cid = _login_and_import(page, server)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/cases/{cid}")
    page.screenshot(path=str(artifacts / "plan-390.png"), full_page=True)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the plan is {overflow} px wider than a 390 px screen"
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('header.top > *')]
             .map(e => e.getBoundingClientRect())
             .map(r => [r.left, r.top, r.right, r.bottom])"""
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, f"header items overlap: {a} {b}"
    page.emulate_media(media="print")
    assert page.locator("form[action$='/overrides']").first.is_hidden()
    assert page.locator("header.top").is_hidden()


@pytest.mark.parametrize("which", ["", "/report.html", "/handout", "/handout?lang=zh"])
def test_axe_finds_no_serious_violation(axe_page, server, which):
    page = axe_page
    cid = _login_and_import(page, server)
    page.goto(f"/cases/{cid}{which}")
    assert serious_violations(page) == []
