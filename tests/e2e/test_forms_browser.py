"""The whole record through the forms in a real browser (issue 11 §1, §4): a woman with
three losses, persistent lupus anticoagulant (two positives 15 weeks apart), an hCG pair and
a scan, entered field by field with rows added in place (htmx), a live field check, then a
live birth recorded from the case page with its confirmation step."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def _login(page, server):
    page.goto("/cases")
    page.fill("#name", server.user)
    page.fill("#password", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/cases$"))


def _result(page, i, test, value, day):
    page.select_option(f"select[name=r{i}_test]", test)
    page.wait_for_selector(f"select[name=r{i}_value]")  # the picker swapped in the answers
    page.select_option(f"select[name=r{i}_value]", value)
    page.fill(f"input[name=r{i}_date]", day)


def test_whole_record_through_the_forms_and_a_live_birth(page, server, artifacts):
    _login(page, server)
    page.click("text=New case")
    page.fill("#f-id", "e2e-forms")
    page.fill("#f-assessed_on", "2026-11-20")
    page.fill("#f-age", "34")
    for i, (ga, year) in enumerate([("8+0", "2023"), ("7+2", "2024"), ("9+1", "2025")]):
        page.select_option(f"select[name=p{i}_outcome]", "miscarriage")
        page.fill(f"input[name=p{i}_ga]", ga)
        page.fill(f"input[name=p{i}_year]", year)

    # live check: a miscarriage at 30 weeks is refused at the field as soon as it changes
    page.fill("input[name=p0_ga]", "30+0")
    page.press("input[name=p0_ga]", "Tab")
    error = page.locator("#err-p0_ga")
    error.filter(has_text="30+0").wait_for()
    described = page.get_attribute("input[name=p0_ga]", "aria-describedby")
    assert described == "err-p0_ga"
    page.fill("input[name=p0_ga]", "8+0")
    page.press("input[name=p0_ga]", "Tab")
    page.wait_for_function("document.querySelector('#err-p0_ga').textContent.trim() === ''")

    _result(page, 0, "lupus_anticoagulant", "positive", "2026-03-02")
    page.click("button:has-text('Add a result')")  # a row added in place
    page.wait_for_selector("select[name=r1_test]")
    _result(page, 1, "lupus_anticoagulant", "positive", "2026-06-15")

    page.fill("#f-lmp", "2026-10-02")
    page.select_option("#f-conception", "natural")
    page.fill("input[name=h0_value]", "1200")
    page.select_option("select[name=h0_unit]", "IU/L")
    page.fill("input[name=h0_date]", "2026-11-10")
    page.click("button:has-text('Add an hCG')")
    page.wait_for_selector("input[name=h1_value]")
    page.fill("input[name=h1_value]", "2600")
    page.select_option("select[name=h1_unit]", "IU/L")
    page.fill("input[name=h1_date]", "2026-11-12")
    page.fill("input[name=s0_date]", "2026-11-18")
    page.select_option("select[name=s0_location]", "intrauterine")
    page.select_option("select[name=s0_embryo]", "yes")
    page.fill("input[name=s0_crl_mm]", "4")
    page.select_option("select[name=s0_heartbeat]", "yes")
    page.screenshot(path=str(artifacts / "forms-whole-record.png"), full_page=True)
    page.click("text=Save and assess")
    page.wait_for_url(re.compile(r"/cases/e2e-forms$"))
    text = page.inner_text("main")
    assert re.search(r"antiphospholipid", text, re.I)
    assert page.locator("#pregnancy").count() == 1

    # the outcome: two clicks from the case page, with a confirmation step
    page.click("#record-outcome")
    page.check("input[name=outcome][value=live_birth]")
    page.fill("#o-date", "2026-11-30")
    page.fill("#o-ga", "38+2")
    page.fill("#o-weight", "3210")
    page.click("button:has-text('Continue')")
    assert "Please confirm" in page.inner_text("#confirm")
    page.click("#confirm-outcome")
    page.wait_for_url(re.compile(r"/cases/e2e-forms$"))
    assert page.locator("#pregnancy").count() == 0

    page.goto("/cases/e2e-forms/edit")
    assert page.locator("select[name=p3_outcome]").input_value() == "live_birth"
    assert page.locator("input[name=p3_birth_weight_g]").input_value() == "3210"
