"""The form pages and the Chinese pages in Debian's Chromium (issue 11 §6, §7).

Rules: axe-core (npm `axe-core` from tests/interop/node, injected by Playwright) finds no
serious or critical violation on the form pages (new case with a result row and its test's
units, edit, the outcome form and its confirmation step) nor on the zh-Hans pages (plan, form,
report); a clinician who picks 中文 in the header reads the plan, the form and the report in
Chinese (expected words written by hand) and gets English back with the other link.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import htmx_settled, serious_violations

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "bleeding-early-pregnancy.yaml"
CID = "example-bleeding"


def _login(page, server) -> None:
    page.goto("/login")
    page.fill("input[name=name]", server.user)
    page.fill("input[name=password]", server.password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/cases")


def _with_case(page) -> str:
    if page.goto(f"/cases/{CID}").status == 404:  # the server is shared by the session
        page.goto("/cases/import")
        page.set_input_files("input[type=file]", str(EXAMPLE))
        page.click("main button[type=submit]")
        page.wait_for_url(f"**/cases/{CID}")
    return CID


def _result_row(page) -> None:
    """The new-case form with a result row whose test is picked (htmx brings its units)."""
    page.click("#sec-r button[name=add]")
    page.wait_for_selector("#r-rows select[name$='_test']")
    htmx_settled(page)
    picker = page.locator("#r-rows select[name$='_test']").last
    picker.select_option("tsh")
    page.wait_for_selector("#r-rows select[name$='_unit'] option[value='mIU/L']", state="attached")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("which", ["new", "new+result", "edit", "outcome", "outcome-confirm"])
def test_axe_on_the_form_pages(axe_page, server, which, lang):
    page = axe_page
    _login(page, server)
    cid = _with_case(page)
    page.goto(f"/account/language/{lang}?next=/cases")
    if which.startswith("new"):
        page.goto("/cases/new")
        if which == "new+result":
            _result_row(page)
    elif which == "edit":
        page.goto(f"/cases/{cid}/edit")
    else:
        page.goto(f"/cases/{cid}/outcome")
        if which == "outcome-confirm":
            page.check("input[name=outcome][value=miscarriage]")
            page.click("main form button[type=submit]")
            page.wait_for_selector("#confirm")
    assert page.locator("html").get_attribute("lang") == ("zh-Hans" if lang == "zh" else "en")
    assert serious_violations(page) == []


@pytest.mark.parametrize("which", ["", "/report.html", "/history"])
def test_axe_on_the_chinese_pages(axe_page, server, which):
    page = axe_page
    _login(page, server)
    cid = _with_case(page)
    page.goto(f"/account/language/zh?next=/cases/{cid}{which}")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert serious_violations(page) == []


def test_a_chinese_session(page, server, artifacts):
    """The header's 中文 link: plan, form and report in Chinese; English comes back."""
    _login(page, server)
    cid = _with_case(page)
    page.goto(f"/cases/{cid}")
    page.click("nav.lang-switch a[lang=zh-Hans]")
    page.wait_for_url(f"**/cases/{cid}")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    main = page.locator("main").inner_text()
    for words in ("分类", "复发性流产", "本次妊娠", "临床发现", "现在执行", "黄体支持", "审计日志"):
        assert words in main, words
    assert "阴道用微粒化孕酮" in main  # a knowledge-base title in Chinese
    page.screenshot(path=str(artifacts / "plan-zh.png"), full_page=True)
    # the form, from the plan's edit link
    page.click(f"main a[href='/cases/{cid}/edit']")
    page.wait_for_url(f"**/cases/{cid}/edit")
    assert page.locator("h1").inner_text() == f"编辑 {cid}"
    form = page.locator("main").inner_text()
    for words in ("患者本人", "既往妊娠", "检查结果", "本次妊娠", "保存并评估"):
        assert words in form, words
    # the report follows the choice
    page.goto(f"/cases/{cid}/report.html")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert "复发性流产：医生报告" in page.content()
    # and English comes back from the header
    page.goto("/cases")
    page.click("nav.lang-switch a[lang=en]")
    page.wait_for_url("**/cases")
    assert page.locator("h1").inner_text() == "Worklist"


@pytest.mark.parametrize("url", ["/cases", "/outcomes", "/account/password", "/login"])
def test_axe_on_the_other_chinese_pages(axe_page, server, url):
    page = axe_page
    if url != "/login":
        _login(page, server)
    page.goto(f"/account/language/zh?next={url}")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert serious_violations(page) == []
