"""The clinician pages in Simplified Chinese (issue 11 §6).

Rules: the `clinician` catalog has a zh-Hans msgstr for every msgid, with the same
placeholders, and its committed .mo matches the .po; every `_()` string in the page templates
was extracted; a clinician who picks 中文 in the header gets the pages, the knowledge-base texts
and the report in Chinese (expected words written by hand, standard Chinese medical terms),
and keeps the choice across logins; English stays the default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from rplcare.render.report import LOCALE_DIR

from .conftest import EXAMPLES, PASSWORDS, csrf_of

PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")
WEB = Path(__file__).resolve().parents[2] / "src" / "rplcare" / "web"


def _read(path: Path):
    with path.open("rb") as fh:
        return read_po(fh)


def test_every_msgid_has_a_chinese_msgstr_with_its_placeholders():
    pot = _read(LOCALE_DIR / "clinician.pot")
    zh = _read(LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "clinician.po")
    assert zh.plural_forms == "nplurals=1; plural=0;"
    assert {m.id for m in pot if m.id} == {m.id for m in zh if m.id}
    assert len([m for m in pot if m.id]) > 400
    for m in zh:
        if not m.id:
            continue
        assert not m.fuzzy, m.id
        # a plural message (`{% trans count %}`) has a tuple of ids; Chinese has one form
        msgid = m.id[-1] if isinstance(m.id, tuple) else m.id
        strings = tuple(m.string) if isinstance(m.string, (tuple, list)) else (m.string,)
        for string in strings:
            assert string, f"untranslated: {m.id!r}"
            words = PLACEHOLDER.sub("", msgid)
            if re.search(r"[a-z]{3,}", words):  # words to translate, not an acronym (hCG, BMI)
                assert re.search(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]", string), m.id
            assert sorted(PLACEHOLDER.findall(string)) == sorted(PLACEHOLDER.findall(msgid)), m.id


def test_compiled_clinician_catalog_matches_the_po():
    po = _read(LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "clinician.po")
    with (LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "clinician.mo").open("rb") as fh:
        mo = read_mo(fh)

    def pairs(cat: Any) -> dict[Any, Any]:
        return {
            (tuple(m.id) if isinstance(m.id, list) else m.id): (
                tuple(m.string) if isinstance(m.string, (tuple, list)) else m.string
            )
            for m in cat
            if m.id
        }

    assert pairs(mo) == pairs(po), (
        "run: pybabel compile -D clinician -d src/rplcare/render/locale -l zh_Hans"
    )


def test_every_template_string_was_extracted():
    """Catches a `_("...")` added to a page without `pybabel extract` (see web/i18n.py)."""
    ids = {m.id for m in _read(LOCALE_DIR / "clinician.pot") if m.id}
    found: set[str] = set()
    for path in (WEB / "templates").rglob("*.html"):
        text = path.read_text("utf-8")
        found |= set(re.findall(r'\b_\("((?:[^"\\]|\\.)*)"', text))
        found |= set(re.findall(r"\b_\('((?:[^'\\]|\\.)*)'", text))
    assert len(found) > 250
    assert found <= ids, sorted(found - ids)


def _chinese(web) -> None:
    r = web.client.get("/account/language/zh?next=/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/cases"
    assert "rplcare_lang=zh" in r.headers["set-cookie"]


def _aps_case(web) -> str:
    text = (EXAMPLES / "aps-three-losses.yaml").read_text("utf-8")
    r = web.client.post("/api/cases", content=text, headers=web.h())
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_plan_page_in_chinese(web):
    """A woman with three losses and persistent lupus anticoagulant, her plan read in zh-Hans."""
    cid = _aps_case(web)
    web.login()
    _chinese(web)
    page = web.client.get(f"/cases/{cid}").text
    assert '<html lang="zh-Hans">' in page
    # the page's own words (hand-written: the clinician catalog)
    for words in ("分类", "复发性流产", "临床发现", "现在执行", "审计日志", "决策支持，而非诊断。"):
        assert words in page, words
    # knowledge-base texts (knowledge/data/zh_Hans/clinician.yaml)
    for words in ("抗磷脂综合征", "小剂量阿司匹林 + 预防剂量肝素", "低分子肝素", "叶酸"):
        assert words in page, words
    # the page's English headings are gone; the header offers English back
    for english in (">Classification<", ">Findings<", ">Do now (", ">Audit log<"):
        assert english not in page, english
    assert 'href="/account/language/en?next=' in page and 'lang="en"' in page


def test_form_pages_in_chinese(web):
    cid = _aps_case(web)
    web.login()
    _chinese(web)
    new = web.client.get("/cases/new").text
    for words in (
        "新建病例",
        "既往妊娠",
        "检查结果",
        "本次妊娠",
        "保存并评估",
        "（必填）",
        "稽留流产",
    ):
        assert words in new, words
    assert "狼疮抗凝物" in new  # the test picker in Chinese; the value stays the code
    assert '<option value="lupus_anticoagulant"' in new
    edit = web.client.get(f"/cases/{cid}/edit").text
    assert f"编辑 {cid}" in edit
    r = web.client.post("/cases/new", data={"csrf_token": web.csrf()})
    assert r.status_code == 422 and "未保存任何内容。" in r.text
    # the form's own required-field messages, tied to the field and in the list
    assert 'id="err-age_years"' in r.text and "必填：她的年龄（岁），或出生日期" in r.text


def test_the_choice_is_kept_across_logins_and_english_is_the_default(web):
    web.login()
    assert '<html lang="en">' in web.client.get("/cases").text
    _chinese(web)
    csrf = web.csrf()
    web.client.post("/logout", data={"csrf_token": csrf})
    login = web.client.get("/login").text
    assert "用户名" in login and "登录" in login  # the cookie outlives the session
    web.login()
    assert "<h1>工作列表</h1>" in web.client.get("/cases").text


def test_the_choice_is_the_users_on_any_browser(web):
    """Rule (issue 11 §6: a language switch per user): the language chosen is kept on the user,
    so the same user logging in from another browser (no cookie) gets it; another user does
    not."""
    from fastapi.testclient import TestClient

    def log_in(client: TestClient, name: str) -> None:
        page = client.get("/login")
        data = {"csrf_token": csrf_of(page.text), "name": name, "password": PASSWORDS[name]}
        client.post("/login", data={**data, "next": "/cases"})

    web.login()
    _chinese(web)
    other = TestClient(web.app)  # another browser (the app has started: no second lifespan)
    assert '<html lang="en">' in other.get("/login").text  # no cookie there: English
    log_in(other, "clin")
    assert "<h1>工作列表</h1>" in other.get("/cases").text
    third = TestClient(web.app)
    log_in(third, "view")  # the viewer never chose: English
    assert "<h1>Worklist</h1>" in third.get("/cases").text


def test_unknown_language_and_foreign_redirect(web):
    assert web.client.get("/account/language/fr", follow_redirects=False).status_code == 404
    r = web.client.get("/account/language/zh?next=//evil.example", follow_redirects=False)
    assert r.headers["location"] == "/cases"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_report_follows_the_users_language(web, lang):
    cid = _aps_case(web)
    web.login()
    web.client.get(f"/account/language/{lang}")
    report = web.client.get(f"/cases/{cid}/report.html").text
    if lang == "zh":
        assert '<html lang="zh-Hans">' in report and "复发性流产：医生报告" in report
        assert "低分子肝素" in report  # the knowledge base's texts in the report too
    else:
        assert '<html lang="en">' in report and "Low-dose aspirin" in report
    # an explicit ?lang= still wins (e.g. a copy for a colleague)
    other = "en" if lang == "zh" else "zh"
    again = web.client.get(f"/cases/{cid}/report.html?lang={other}").text
    assert ('lang="zh-Hans"' in again) == (other == "zh")


def test_outcomes_page_in_chinese(web):
    web.login()
    _chinese(web)
    page = web.client.get("/outcomes").text
    for words in ("结局统计", "每名患者的活产率", "下次妊娠的结局", "分组方式", "图表"):
        assert words in page, words
    assert "Live birth per patient" not in page
