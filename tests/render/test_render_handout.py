"""Patient handout: plain language in English and Chinese, the assumptions table, loss-aware."""

from __future__ import annotations

import re

import pytest
import yaml
from markupsafe import escape

from rplcare.knowledge import get_kb
from rplcare.render.handout import (
    localised_date,
    pregnancy_bound,
    render_handout_html,
)
from rplcare.render.report import LOCALE_DIR

HAN = re.compile(r"[\u4e00-\u9fff]")
ZH = yaml.safe_load((LOCALE_DIR / "zh_Hans" / "recommendations.yaml").read_text("utf-8"))


def esc(text: str) -> str:
    return str(escape(text))


def _section(page: str, heading_id: str) -> str:
    start = page.index(f'id="{heading_id}"')
    return page[start : page.index("</section>", start)]


def _rows(page: str, table_class: str) -> str:
    start = page.index(f'class="assumptions {table_class}"')
    return page[start : page.index("</table>", start)]


def test_english_handout_of_a_pregnancy(bleeding):
    page = render_handout_html(*bleeding, lang="en")
    assert '<html lang="en">' in page
    assert "decision support, not a diagnosis" in page and "Talk to your clinician" in page
    found = _section(page, "h-found")
    assert "2 pregnancy losses" in found and "recurrent pregnancy loss" in found
    assert "6 weeks and 1 day" in found and "15 July 2027" in found
    assert "heartbeat" in found and "rose as expected" in found
    now = _section(page, "h-now")
    assert 'data-id="treat.vaginal_progesterone_bleeding"' in now
    assert "Continue to 16 weeks" in now
    avoid = _section(page, "h-avoid")
    for rid in (
        "advice.no_bed_rest",
        "treat.lymphocyte_immunotherapy",
        "treat.ivig",
        "test.nk_cells",
    ):
        assert f'data-id="{rid}"' in avoid
    assert "Bed rest does not prevent miscarriage" in avoid
    help_ = _section(page, "h-help")
    assert "heavy bleeding" in help_ and "high temperature" in help_ and "pain" in help_


def test_assumptions_table_en(bleeding):
    page = render_handout_html(*bleeding, lang="en")
    dates = _rows(page, "dates")
    assert "First day of your last period" in dates and "6 October 2026" in dates
    assert "Due date" in dates and "15 July 2027" in dates and "last period" in dates
    assert "Earlier pregnancy losses in your notes" in dates
    medicines = _rows(page, "medicines")
    row = medicines[medicines.index('<tr class="medicine">') :]
    row = row[: row.index("</tr>")]
    assert "Vaginal micronised progesterone 400 mg twice daily" in row
    assert "20 November 2026" in row  # start
    assert "28 January 2027" in row and "16 weeks" in row  # stop date and week
    upcoming = _rows(page, "upcoming")
    assert "Full blood count" in upcoming and "ask your clinic when" in upcoming
    assert page.count('class="box"') >= 6  # a box to tick on every row


def test_chinese_handout(bleeding):
    assessment, case = bleeding
    page = render_handout_html(assessment, case, lang="zh")
    assert '<html lang="zh-Hans">' in page
    body = page[page.index("<body") :]
    assert len(HAN.findall(body)) > 500
    for english in ("What to do now", "What we found", "When to get help", "Due date"):
        assert english not in page
    assert "本计划是决策支持，不是诊断" in page and "请先和您的医生谈一谈" in page
    assert "2027年7月15日" in page  # due date, formatted by Babel for zh
    assert "6周1天" in page
    for rec in assessment["recommendations"]:
        zh = ZH["recommendations"][rec["id"]]
        if f'data-id="{rec["id"]}"' in page:
            # she is pregnant: the pregnancy wording where the catalog has one (issue 9 §1)
            text = zh.get("pregnant_patient_text") or zh["patient_text"]
            assert esc(zh["title"]) in page and esc(text) in page
            assert esc(rec["patient_text"]) not in page
    medicines = _rows(page, "medicines")
    assert "阴道用微粒化黄体酮 400 毫克，每天两次" in medicines
    assert "2027年1月28日" in medicines and "16周" in medicines  # stop date
    assert "2026年11月20日" in medicines  # start
    dates = _rows(page, "dates")
    assert "末次月经第一天" in dates and "2026年10月6日" in dates
    avoid = _section(page, "h-avoid")
    assert "不要卧床休息" in avoid and "淋巴细胞免疫治疗" in avoid


def test_lost_pregnancy_switches_to_after_loss_content(bleeding):
    for lang, texts in (
        (
            "en",
            (
                "What happens next",
                "Support",
                "before trying again",
                "very sorry",
                "You did not cause this loss",
            ),
        ),
        ("zh", ("接下来会怎样", "支持", "再次备孕前", "深感难过")),
    ):
        ongoing = render_handout_html(*bleeding, lang=lang)
        lost = render_handout_html(*bleeding, lang=lang, lost=True)
        stop = localised_date("2027-01-28", lang)
        due = localised_date("2027-07-15", lang)
        assert stop in ongoing and due in ongoing
        assert stop not in lost and due not in lost  # no schedule, no due date
        assert 'class="assumptions medicines"' not in lost
        assert 'data-id="treat.vaginal_progesterone_bleeding"' in ongoing
        assert 'data-id="treat.vaginal_progesterone_bleeding"' not in lost
        assert 'id="h-now"' not in lost and 'id="h-next"' in lost
        for text in texts:
            assert text in lost, text
        assert "after-loss" in lost[: lost.index("<main")]
    lost = render_handout_html(*bleeding, lang="en", lost=True)
    assert "heartbeat" not in _section(lost, "h-found")
    assert "Tissue from this pregnancy can be tested" in lost
    assert 'data-id="advice.mental_health"' in _section(lost, "h-support")
    assert 'data-id="test.antiphospholipid_antibodies"' in _section(lost, "h-before")
    assert "before your next pregnancy" in _rows(lost, "upcoming")
    assert "thoughts of harming yourself" in _section(lost, "h-help")
    assert "If you are pregnant" not in lost


def test_art_pregnancy_dates(carrier):
    page = render_handout_html(*carrier, lang="en")
    dates = _rows(page, "dates")
    assert "Embryo transfer" in dates and "28 October 2026" in dates and "day-5 embryo" in dates
    assert "embryo transfer" in dates  # how the due date was worked out
    medicines = _rows(page, "medicines")
    assert "18 December 2026" in medicines and "10 weeks" in medicines
    assert "as your clinic prescribed" in medicines
    assert medicines.count('<tr class="medicine">') == 1  # recorded progesterone not repeated
    upcoming = _rows(page, "upcoming")
    assert "Ultrasound scan" in upcoming
    assert "between 16 November 2026 and 22 November 2026" in upcoming
    zh = render_handout_html(*carrier, lang="zh")
    assert "生殖中心的黄体支持方案" in zh and "第 5 天胚胎" in zh


def test_not_pregnant_handout(aps):
    page = render_handout_html(*aps, lang="en")
    assert "3 pregnancy losses" in page
    assert "antiphospholipid syndrome" in _section(page, "h-found")
    assert "before your next pregnancy" in _rows(page, "upcoming")
    assert "When you next have a positive pregnancy test" in page
    assert 'class="assumptions medicines"' not in page
    assert "Due date" not in page


def test_recorded_medicines_are_listed_for_checking(thyroid):
    assessment, case = thyroid
    case["patient"]["medications"] = ["levothyroxine", "folic_acid"]
    page = render_handout_html(assessment, case, lang="zh")
    medicines = _rows(page, "medicines")
    assert "左甲状腺素" in medicines and "叶酸" in medicines and "按处方" in medicines


def test_handout_escapes(thyroid):
    assessment, case = thyroid
    assessment["case_id"] = "<script>x</script>"
    assessment["recommendations"][0]["patient_text"] = "<b>x</b>"
    page = render_handout_html(assessment, case, lang="en")
    assert "<script>" not in page and "<b>x</b>" not in page


def test_unknown_language(thyroid):
    with pytest.raises(ValueError, match="unknown language"):
        render_handout_html(*thyroid, lang="de")  # type: ignore[arg-type]


def test_pregnancy_bound():
    assert pregnancy_bound({"because": ["state.rpl", "current.pregnant"]})
    assert pregnancy_bound({"because": [], "schedule": {"stop_date": "2027-01-01"}})
    assert not pregnancy_bound({"because": ["state.rpl"]})
    assert not pregnancy_bound({"because": ["current.on_levothyroxine", "current.not_pregnant"]})


def test_every_kb_recommendation_has_a_chinese_title_and_patient_text():
    kb_ids = set(get_kb().recommendations)
    zh = ZH["recommendations"]
    assert kb_ids <= set(zh), sorted(kb_ids - set(zh))
    assert set(zh) <= kb_ids, sorted(set(zh) - kb_ids)  # no stale entries
    kb = get_kb()
    for rid, entry in zh.items():
        assert set(entry) <= {"title", "patient_text", "pregnant_patient_text"}, rid
        # pregnancy wording (issue 9 §1): where the KB words it for a pregnant woman, so does zh
        rec = kb.recommendations[rid]
        wps = [r.when_pregnant for r in rec.rules] + [rec.population.when_pregnant]
        if any(w is not None and w.patient_text for w in wps):
            assert HAN.search(entry.get("pregnant_patient_text") or ""), rid
        assert HAN.search(entry["title"]) and HAN.search(entry["patient_text"]), rid


def test_chinese_regimens_cover_the_kb_regimen():
    assert str(get_kb().param("luteal.nice_regimen")) in ZH["regimens"]


def test_localised_dates():
    assert localised_date("2027-01-28", "zh") == "2027年1月28日"
    assert localised_date("2027-01-28", "en") == "28 January 2027"
    assert localised_date("2026-11-10T00:00:00", "en") == "10 November 2026"
    assert localised_date(None, "en") == ""
