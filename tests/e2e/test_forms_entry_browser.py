"""What is typed into the forms in a real browser is what is stored (issue 11 §1, §4): a woman
with three losses, persistent lupus anticoagulant (positive twice, 14 weeks apart), pregnant now
with an hCG pair and a scan, entered field by field (rows added and one removed in place with
htmx, the test picker's answers, a live field check); the stored case (JSON export) holds
exactly that, and the plan recommends the antiphospholipid-syndrome treatment. Her live birth
is recorded from the case page; nothing is saved before the confirmation, and after it the
pregnancy is a past live birth with its weight. (test_forms_browser.py walks the same journey
from the page side.)

Dates are in the past of the real clock (the server runs outside the frozen test clock)."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.e2e


def _login(page, server):
    page.goto("/cases")
    page.fill("#name", server.user)
    page.fill("#password", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/cases$"))


def _add_row(page, section: str, first_field: str) -> None:
    """Add a row in place (htmx) when the form does not show it yet, and wait for it."""
    if page.locator(f"[name={first_field}]").count() == 0:
        page.click(f"button[name=add][value={section}]")
    page.locator(f"[name={first_field}]").wait_for(state="attached")


def _add_spare_row(page, section: str) -> str:
    """Add one more row in place; its prefix (the section's next row number)."""
    prefix = f"{section}{page.locator(f'#{section}-next').input_value()}"
    page.click(f"button[name=add][value={section}]")
    page.locator(f"#row-{prefix}").wait_for(state="attached")
    return prefix


def _error_text(page, name: str) -> str:
    return page.locator(f"#err-{name}").inner_text().strip()


def _wait_error(page, name: str, present: bool) -> None:
    page.wait_for_function(
        "([id, present]) => { const e = document.getElementById(id);"
        " return e && (e.textContent.trim().length > 0) === present; }",
        arg=[f"err-{name}", present],
    )


def _result(page, prefix: str, test: str, value: str, day: str) -> None:
    """Pick the test, wait for its answers (htmx), choose the answer, give the date."""
    page.select_option(f"select[name={prefix}_test]", test)
    answer = page.locator(f"select[name={prefix}_value]")
    answer.wait_for(state="attached")
    options = answer.locator("option").all_inner_texts()
    assert "positive" in options and "nmol/L" not in options  # its answers, no units
    answer.select_option(value)
    page.fill(f"input[name={prefix}_date]", day)


def test_whole_record_through_the_forms_then_a_live_birth(page, server, artifacts):
    _login(page, server)
    page.click("text=New case")
    page.wait_for_url(re.compile(r"/cases/new"))
    assert page.locator("script[src*=htmx]").count() == 1

    # the woman
    page.fill("[name=id]", "e2e-entry")
    page.fill("[name=assessed_on]", "2026-03-20")
    page.fill("[name=birth_date]", "1991-03-14")
    page.select_option("select[name=smoking]", "no")

    # three losses; the first GA typed wrong is caught by the live check of that field
    page.select_option("select[name=p0_outcome]", "miscarriage")
    ga = page.locator("input[name=p0_ga]")
    assert ga.get_attribute("aria-describedby") == "err-p0_ga"
    ga.fill("30+0")
    ga.press("Tab")
    _wait_error(page, "p0_ga", True)
    assert "30+0" in _error_text(page, "p0_ga")
    ga.fill("6+5")
    ga.press("Tab")
    _wait_error(page, "p0_ga", False)
    page.fill("input[name=p0_year]", "2022")
    _add_row(page, "p", "p1_outcome")
    page.select_option("select[name=p1_outcome]", "miscarriage")
    page.fill("input[name=p1_ga]", "8+2")
    page.fill("input[name=p1_year]", "2024")
    page.select_option("select[name=p1_heartbeat_seen]", "yes")
    _add_row(page, "p", "p2_outcome")
    page.select_option("select[name=p2_outcome]", "miscarriage")
    page.fill("input[name=p2_ga]", "7+1")
    page.fill("input[name=p2_year]", "2025")
    # a row added by mistake and removed in place
    spare = _add_spare_row(page, "p")
    page.locator(f"#row-{spare} button[name=remove]").click()
    page.locator(f"#row-{spare}").wait_for(state="detached")

    # persistent lupus anticoagulant: positive on 2025-09-01 and 2025-12-08 (14 weeks apart)
    _result(page, "r0", "lupus_anticoagulant", "positive", "2025-09-01")
    _add_row(page, "r", "r1_test")
    _result(page, "r1", "lupus_anticoagulant", "positive", "2025-12-08")

    # pregnant now: LMP, an hCG pair 48 h apart, a scan with CRL
    page.fill("[name=cp_lmp]", "2026-02-01")
    page.select_option("select[name=cp_conception]", "natural")
    page.fill("input[name=h0_value]", "1500")
    page.select_option("select[name=h0_unit]", "IU/L")
    page.fill("input[name=h0_date]", "2026-03-10")
    _add_row(page, "h", "h1_value")
    page.fill("input[name=h1_value]", "2900")
    page.select_option("select[name=h1_unit]", "IU/L")
    page.fill("input[name=h1_date]", "2026-03-12")
    page.fill("input[name=s0_date]", "2026-03-20")
    page.select_option("select[name=s0_location]", "intrauterine")
    page.fill("input[name=s0_msd_mm]", "20")
    page.select_option("select[name=s0_yolk_sac]", "yes")
    page.select_option("select[name=s0_embryo]", "yes")
    page.fill("input[name=s0_crl_mm]", "6")
    page.select_option("select[name=s0_heartbeat]", "yes")
    page.screenshot(path=str(artifacts / "case-form.png"), full_page=True)

    page.click("text=Save and assess")
    page.wait_for_url(re.compile(r"/cases/e2e-entry$"))
    # what was entered reached the plan: the pair (1500 -> 2900 IU/L in 48 h is +93.3 %),
    # the CRL, and antiphospholipid syndrome's treatment (persistent LA + three early losses)
    pregnancy = page.inner_text("#pregnancy")
    assert "93.3 %" in pregnancy and "CRL 6" in pregnancy
    assert page.locator("#rec-treat-aspirin_heparin").count() == 1
    exported = json.loads(page.request.get("/cases/e2e-entry/export.json").text())
    assert [p["ga"] for p in exported["pregnancies"]] == ["6+5", "8+2", "7+1"]
    assert [r["date"] for r in exported["results"] if r["test"] == "lupus_anticoagulant"] == [
        "2025-09-01",
        "2025-12-08",
    ]
    assert [r["value"] for r in exported["results"] if r["test"] == "hcg"] == [
        1500,
        2900,
    ]
    assert exported["current_pregnancy"]["scans"][0]["crl_mm"] == 6

    # the live birth: from the case page in two clicks (the link, the outcome), then confirmed
    page.click("#record-outcome")
    page.wait_for_url(re.compile(r"/cases/e2e-entry/outcome$"))
    page.check("input[name=outcome][value=live_birth]")
    page.fill("input[name=date]", "2026-11-05")
    page.fill("input[name=ga]", "39+4")
    page.fill("input[name=birth_weight_g]", "3350")
    page.click("button:has-text('Continue')")
    confirm = page.locator("#confirm")
    confirm.wait_for()
    assert "Live birth" in confirm.inner_text() and "3350 g" in confirm.inner_text()
    # not saved before the confirmation
    before = json.loads(page.request.get("/cases/e2e-entry/export.json").text())
    assert "current_pregnancy" in before
    page.click("#confirm-outcome")
    page.wait_for_url(re.compile(r"/cases/e2e-entry$"))
    assert page.locator("#pregnancy").count() == 0
    after = json.loads(page.request.get("/cases/e2e-entry/export.json").text())
    assert "current_pregnancy" not in after
    assert after["pregnancies"][-1] == {
        "outcome": "live_birth",
        "ga": "39+4",
        "date": "2026-11-05",
        "conception": "natural",
        "heartbeat_seen": True,
        "birth_weight_g": 3350,
    }
    page.screenshot(path=str(artifacts / "after-live-birth.png"), full_page=True)
