"""The whole record through the forms in a real browser (issue 11 §1, §4), then a live birth.

A woman with three losses, persistent lupus anticoagulant (positive twice, 14 weeks apart),
pregnant now with an hCG pair and a scan, is entered field by field: rows added and one removed
in place (htmx), the test picker's answers, a live field check tied to its input. What is
typed is what is stored (the JSON export), and the plan shows it (the hCG pair, the CRL, the
antiphospholipid-syndrome treatment). Her live birth (GA, date, weight) is recorded from the
case page: a GA that contradicts the pregnancy's dating is refused at its field; nothing is
saved before the confirmation; after it the current pregnancy is a past live birth with its
weight, shown in the history rows of the form.

Dates are in the past of the real clock (the server runs outside the frozen test clock)."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import htmx_settled

pytestmark = pytest.mark.e2e


def _login(page, server):
    page.goto("/cases")
    page.fill("#name", server.user)
    page.fill("#password", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/cases$"))


def _add_row(page, section: str, first_field: str, button: str | None = None) -> None:
    """Add a row in place (htmx) when the form does not show it yet, and wait for it."""
    if page.locator(f"[name={first_field}]").count() == 0:
        page.click(button or f"button[name=add][value={section}]")
    page.locator(f"[name={first_field}]").wait_for(state="attached")
    htmx_settled(page)


def _add_spare_row(page, section: str) -> str:
    """Add one more row in place; its prefix (the section's next row number)."""
    prefix = f"{section}{page.locator(f'#{section}-next').input_value()}"
    page.click(f"button[name=add][value={section}]")
    page.locator(f"#row-{prefix}").wait_for(state="attached")
    htmx_settled(page)
    return prefix


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
    htmx_settled(page)
    options = answer.locator("option").all_inner_texts()
    assert "positive" in options and "nmol/L" not in options  # its answers, no units
    answer.select_option(value)
    page.fill(f"input[name={prefix}_date]", day)


def _export(page, case_id: str) -> dict:
    return json.loads(page.request.get(f"/cases/{case_id}/export.json").text())


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

    # three losses; the first GA typed wrong is caught by the live check of that field, the
    # message tied to the input (aria-describedby) and cleared once the value is right
    page.select_option("select[name=p0_outcome]", "miscarriage")
    ga = page.locator("input[name=p0_ga]")
    assert ga.get_attribute("aria-describedby") == "err-p0_ga"
    ga.fill("30+0")
    ga.press("Tab")
    page.locator("#err-p0_ga").filter(has_text="30+0").wait_for()
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
    _add_row(page, "r", "r1_test", "button:has-text('Add a result')")
    _result(page, "r1", "lupus_anticoagulant", "positive", "2025-12-08")

    # pregnant now: LMP, an hCG pair 48 h apart, a scan with CRL
    page.fill("[name=cp_lmp]", "2026-02-01")
    page.select_option("select[name=cp_conception]", "natural")
    page.fill("input[name=h0_value]", "1500")
    page.select_option("select[name=h0_unit]", "IU/L")
    page.fill("input[name=h0_date]", "2026-03-10")
    _add_row(page, "h", "h1_value", "button:has-text('Add an hCG')")
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

    htmx_settled(page)  # the live field checks answered
    page.click("text=Save and assess")
    page.wait_for_url(re.compile(r"/cases/e2e-entry$"))
    # what was entered reached the plan: the pair (1500 -> 2900 IU/L in 48 h is +93.3 %),
    # the CRL, and antiphospholipid syndrome's treatment (persistent LA + three early losses)
    assert page.locator("#pregnancy").count() == 1
    pregnancy = page.inner_text("#pregnancy")
    assert "93.3 %" in pregnancy and "CRL 6" in pregnancy
    assert re.search(r"antiphospholipid", page.inner_text("main"), re.I)
    assert page.locator("#rec-treat-aspirin_heparin").count() == 1
    exported = _export(page, "e2e-entry")
    assert [p["ga"] for p in exported["pregnancies"]] == ["6+5", "8+2", "7+1"]
    assert [r["date"] for r in exported["results"] if r["test"] == "lupus_anticoagulant"] == [
        "2025-09-01",
        "2025-12-08",
    ]
    assert [r["value"] for r in exported["results"] if r["test"] == "hcg"] == [1500, 2900]
    assert exported["current_pregnancy"]["scans"][0]["crl_mm"] == 6

    # the live birth: from the case page in two clicks (the link, the outcome), then confirmed.
    # By her LMP (1 February) she is 39+4 on 5 November: a GA of 30+0 contradicts the dating
    # by more than record.birth_ga_dating_tolerance_days (21) and is refused at the GA field
    page.click("#record-outcome")
    page.wait_for_url(re.compile(r"/cases/e2e-entry/outcome$"))
    page.check("input[name=outcome][value=live_birth]")
    page.fill("#o-date", "2026-11-05")
    page.fill("#o-ga", "30+0")
    page.fill("#o-weight", "3350")
    page.click("button:has-text('Continue')")
    page.locator("#err-ga").filter(has_text="contradicts the dating").wait_for()
    assert page.get_attribute("#o-ga", "aria-describedby") == "err-ga"
    assert page.input_value("#o-weight") == "3350"  # the entered values are kept
    assert "current_pregnancy" in _export(page, "e2e-entry")
    page.fill("#o-ga", "39+4")
    page.click("button:has-text('Continue')")
    confirm = page.locator("#confirm")
    confirm.wait_for()
    text = confirm.inner_text()
    assert "Please confirm" in text and "Live birth" in text and "3350 g" in text
    assert "current_pregnancy" in _export(page, "e2e-entry")  # not saved before the confirmation
    page.click("#confirm-outcome")
    page.wait_for_url(re.compile(r"/cases/e2e-entry$"))
    assert page.locator("#pregnancy").count() == 0
    after = _export(page, "e2e-entry")
    assert "current_pregnancy" not in after
    assert after["pregnancies"][-1] == {
        "outcome": "live_birth",
        "ga": "39+4",
        "date": "2026-11-05",
        "conception": "natural",
        "lmp": "2026-02-01",
        "heartbeat_seen": True,
        "birth_weight_g": 3350,
    }
    page.screenshot(path=str(artifacts / "after-live-birth.png"), full_page=True)

    # the pregnancy is now the fourth row of the history in the form, its LMP kept hidden
    page.goto("/cases/e2e-entry/edit")
    assert page.locator("select[name=p3_outcome]").input_value() == "live_birth"
    assert page.locator("input[name=p3_ga]").input_value() == "39+4"
    assert page.locator("input[name=p3_birth_weight_g]").input_value() == "3350"
    assert page.locator("input[name=p3_lmp]").input_value() == "2026-02-01"
