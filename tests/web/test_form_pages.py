"""The structured case form and the outcome form (issue 11 §1, §4): every part of the record
in fields, rows added and removed in place, live field checks, nothing saved on any error,
the YAML tab, and every outcome recorded from the case page with a confirmation step."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from rplcare.store import repository as repo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
HX = {"HX-Request": "true"}


class _Fields(HTMLParser):
    """The values a browser would submit from the first form of a page after `<main>`."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, str]] = []
        self.forms = 0
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "action" in a and "/logout" not in a["action"]:
            self.forms += 1
        if self.forms != 1:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind != "submit" and a.get("value"):
                self.values.append((a["name"], a["value"]))
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and "selected" in a and a.get("value"):
            self.values.append((self.select, a["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None


def form_values(html: str) -> dict[str, list[str]]:
    parser = _Fields()
    parser.feed(html)
    out: dict[str, list[str]] = {}
    for k, v in parser.values:
        out.setdefault(k, []).append(v)
    return out


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _post(web, url, **fields):
    data = {"csrf_token": web.csrf(), **fields}
    return web.client.post(url, data=data, follow_redirects=False)


# three first-trimester losses, LA positive twice 12+ weeks apart, an hCG pair and a scan
WHOLE = {
    "id": "form-whole",
    "assessed_on": "2026-11-20",
    "age_years": "34",
    "p0_outcome": "miscarriage",
    "p0_ga": "8+0",
    "p0_year": "2023",
    "p1_outcome": "miscarriage",
    "p1_ga": "7+2",
    "p1_year": "2024",
    "p2_outcome": "miscarriage",
    "p2_ga": "9+1",
    "p2_year": "2025",
    "r0_test": "lupus_anticoagulant",
    "r0_value": "positive",
    "r0_date": "2026-03-02",
    "r1_test": "lupus_anticoagulant",
    "r1_value": "positive",
    "r1_date": "2026-06-15",
    "cp_lmp": "2026-10-02",
    "cp_conception": "natural",
    "h0_value": "1200",
    "h0_unit": "IU/L",
    "h0_date": "2026-11-10",
    "h1_value": "2600",
    "h1_unit": "IU/L",
    "h1_date": "2026-11-12",
    "s0_date": "2026-11-18",
    "s0_location": "intrauterine",
    "s0_embryo": "yes",
    "s0_crl_mm": "4",
    "s0_heartbeat": "yes",
}


def test_blank_form_saves_nothing_and_names_the_required_fields(web):
    """Rule: required fields are required: a blank form does not save an empty case."""
    web.login()
    blank = web.client.get("/cases/new").text
    assert 'id="row-p2"' in blank and 'id="row-p3"' not in blank  # a row for each of 3 losses
    r = _post(web, "/cases/new")
    assert r.status_code == 422 and "Nothing was saved" in r.text
    assert 'id="err-age_years"' in r.text and "required: her age" in r.text
    # the message is tied to its input, and focus moves there
    assert 'aria-describedby="err-age_years" aria-invalid="true" autofocus' in r.text
    with web.app.state.store.read() as s:
        assert repo.list_cases(s, None) == []


def test_whole_record_through_the_form_and_edit_round_trip(web):
    """Rule: every part of the record can be entered in fields; the stored case holds it, and
    the edit form shows it back (saving unchanged adds no version)."""
    web.login()
    r = _post(web, "/cases/new", **WHOLE)
    assert r.status_code == 303, r.text[-3000:]
    with web.app.state.store.read() as s:
        data = repo.latest_version(s, "form-whole").data
    assert [p["ga"] for p in data["pregnancies"]] == ["8+0", "7+2", "9+1"]
    assert [(x["test"], x["value"]) for x in data["results"]] == [
        ("lupus_anticoagulant", "positive"),
        ("lupus_anticoagulant", "positive"),
        ("hcg", 1200.0),
        ("hcg", 2600.0),
    ]
    assert data["current_pregnancy"]["scans"][0]["crl_mm"] == 4.0
    edit = web.client.get("/cases/form-whole/edit")
    assert 'name="h1_value" type="text" value="2600"' in edit.text
    fields = form_values(edit.text)
    r = web.client.post("/cases/form-whole/edit", data=fields, follow_redirects=False)
    assert r.status_code == 303
    with web.app.state.store.read() as s:
        assert repo.latest_version(s, "form-whole").n == 1


def test_errors_keep_the_values_and_save_nothing(web):
    """Rule: on any error nothing is saved, what was typed is kept, and each message is tied
    to its input (aria-describedby)."""
    web.login()
    bad = {**WHOLE, "h1_unit": "mg", "s0_embryo": "no"}
    r = _post(web, "/cases/new", **bad)
    assert r.status_code == 422
    assert 'id="err-h1_unit" data-field="h1_unit" data-path="results[3].unit"' in r.text
    assert 'id="err-s0_crl_mm"' in r.text and "given although embryo is false" in r.text
    assert 'value="2600"' in r.text
    assert web.client.get("/cases/form-whole").status_code == 404


def test_rows_added_and_removed_in_place(web):
    """Rule: rows are added (htmx fragment, next row number out of band) and removed."""
    web.login()
    r = web.client.get("/forms/row/r?r_next=3", headers=HX)
    assert 'id="row-r3"' in r.text and 'name="r_next" value="4" hx-swap-oob="true"' in r.text
    assert web.client.get("/forms/empty", headers=HX).text == ""
    # without JS the buttons post the form: a row more, nothing saved
    r = _post(web, "/cases/new", add="h", age_years="30", h0_value="")
    assert r.status_code == 200 and 'id="row-h1"' in r.text and 'value="30"' in r.text
    r = _post(web, "/cases/new", remove="p0", p0_outcome="miscarriage", p1_outcome="ectopic")
    assert 'id="row-p0"' not in r.text and 'id="row-p1"' in r.text


def test_test_picker_offers_the_units_and_answers_of_the_test(web):
    """Rule: the units offered are the test's (vocabulary.yaml: progesterone nmol/L, ng/mL),
    and a qualitative test offers its answers instead of a unit."""
    web.login()
    r = web.client.get("/forms/result/r2?r2_test=progesterone", headers=HX)
    units = re.findall(r'<option value="([^"]+)"', r.text)
    assert units == ["nmol/L", "ng/mL"]
    r = web.client.get("/forms/result/r2?r2_test=lupus_anticoagulant", headers=HX)
    assert 'name="r2_value"' in r.text and '<option value="positive"' in r.text
    assert 'name="r2_unit"' not in r.text


def test_live_check_returns_the_fields_error(web):
    """Rule: each field is checked when it changes; the answer is that field's message."""
    web.login()
    headers = {**HX, "HX-Trigger-Name": "p0_ga"}
    data = {"csrf_token": web.csrf(), "p0_outcome": "miscarriage", "p0_ga": "30+0"}
    r = web.client.post("/forms/check", data=data, headers=headers)
    assert r.status_code == 200 and 'id="err-p0_ga"' in r.text and "30+0" in r.text
    data["p0_ga"] = "8+0"
    r = web.client.post("/forms/check", data=data, headers=headers)
    assert re.search(r'id="err-p0_ga"[^>]*></span>', r.text)


def test_yaml_tab_is_the_advanced_option(web, example_text):
    """Rule: the YAML tab still saves a whole case file."""
    web.login()
    page = web.client.get("/cases/new?tab=yaml")
    assert '<details class="card" id="yaml-tab" open>' in page.text
    r = _post(web, "/cases/new", yaml=example_text)
    assert r.headers["location"] == "/cases/example-bleeding"


def _outcome(web, case_id, **fields):
    page = web.client.get(f"/cases/{case_id}/outcome")
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    data = {"csrf_token": csrf_of(page.text), "version": version, **fields}
    return web.client.post(f"/cases/{case_id}/outcome", data=data, follow_redirects=False)


def _confirmed(web, case_id, **fields):
    """The outcome recorded with its confirmation: saved (303); the case's latest version."""
    r = _outcome(web, case_id, confirm="yes", **fields)
    assert r.status_code == 303
    with web.app.state.store.read() as s:
        return repo.latest_version(s, case_id)


#: pregnant since an LMP of 25 February (28-day cycle, a heartbeat seen): 38+2 on 20 November
TERM_CASE = """
id: term-1
assessed_on: 2026-04-10
patient: {age_years: 33}
pregnancies:
  - {outcome: miscarriage, ga: "8+0", year: 2024}
  - {outcome: miscarriage, ga: "6+4", year: 2025}
current_pregnancy:
  lmp: 2026-02-25
  conception: natural
  scans:
    - {date: 2026-04-08, location: intrauterine, yolk_sac: true, embryo: true, heartbeat: true}
"""


def test_live_birth_moves_the_pregnancy_into_the_history_after_confirmation(web):
    """Rule: an outcome is recorded from the case page in two clicks with a confirmation;
    the current pregnancy moves into the history with GA, date, birth weight and its LMP."""
    web.client.post("/api/cases", content=TERM_CASE, headers=web.h())
    web.login()
    plan = web.client.get("/cases/term-1")
    assert 'href="/cases/term-1/outcome"' in plan.text
    fields = {"outcome": "live_birth", "date": "2026-11-20", "ga": "38+2", "birth_weight_g": "3210"}
    r = _outcome(web, "term-1", **fields)
    assert r.status_code == 200 and "Please confirm" in r.text
    with web.app.state.store.read() as s:
        assert repo.latest_version(s, "term-1").n == 1  # not yet
    r = _outcome(web, "term-1", confirm="yes", **fields)
    assert r.status_code == 303
    with web.app.state.store.read() as s:
        v = repo.latest_version(s, "term-1")
        assert v.event == "outcome_recorded" and "current_pregnancy" not in v.data
        assert v.data["pregnancies"][-1] == {
            "outcome": "live_birth",
            "ga": "38+2",
            "date": "2026-11-20",
            "conception": "natural",
            "lmp": "2026-02-25",
            "heartbeat_seen": True,
            "birth_weight_g": 3210,
        }
        assert not repo.is_lost(repo.case_versions(s, "term-1"))
    edit = web.client.get("/cases/term-1/edit")  # an edit keeps the LMP (a hidden field)
    assert 'name="p2_lmp" value="2026-02-25"' in edit.text


def test_a_live_birth_whose_ga_contradicts_the_dating_is_refused(web, example_text):
    """Rule: the GA entered for a live birth is compared with the pregnancy's dating on the
    birth date; more than record.birth_ga_dating_tolerance_days (21) apart is refused at the
    GA field and nothing is saved. example-bleeding is 6+1 on 20 November (LMP-equivalent
    8 October), so a birth "at 38+2" that day is refused; with no GA the dating's is taken."""
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.client.post("/api/cases", content=TERM_CASE, headers=web.h())
    web.login()
    r = _outcome(web, "example-bleeding", outcome="live_birth", date="2026-11-20", ga="38+2")
    assert r.status_code == 422 and 'id="err-ga"' in r.text and "contradicts the dating" in r.text
    # term-1 on 20 November is 38+2 by its LMP: 41+2 is 21 days away (allowed), 41+3 is not
    r = _outcome(web, "term-1", outcome="live_birth", date="2026-11-20", ga="41+3")
    assert r.status_code == 422 and "contradicts the dating" in r.text
    r = _outcome(web, "term-1", outcome="live_birth", date="2026-11-20", ga="41+2")
    assert r.status_code == 200 and "Please confirm" in r.text
    with web.app.state.store.read() as s:
        assert repo.latest_version(s, "example-bleeding").n == 1
        assert repo.latest_version(s, "term-1").n == 1


def test_a_termination_is_not_recorded_as_a_loss(web):
    """Rule: an induced termination is not a pregnancy loss (ESHRE: a pregnancy loss is the
    spontaneous demise of a pregnancy before viability; spec recommendations.md §1:
    termination is not an RPL loss). After one the handout is not the after-loss handout and
    its count of losses is the classification's (the two miscarriages, not three)."""
    web.client.post("/api/cases", content=TERM_CASE, headers=web.h())
    web.login()
    v = _confirmed(web, "term-1", outcome="termination", date="2026-04-10")
    assert v.event == "outcome_recorded"
    assert v.data["pregnancies"][-1]["outcome"] == "termination"
    with web.app.state.store.read() as s:
        assert not repo.is_lost(repo.case_versions(s, "term-1"))
        assessment = repo.assessment_for(s, v)
    assert assessment["classification"]["losses_counted"] == 2
    handout = web.client.get("/cases/term-1/handout")
    assert handout.status_code == 200
    assert "after pregnancy loss" not in handout.text
    assert "We are very sorry that your pregnancy has ended" not in handout.text
    assert "You have had 2 pregnancy losses." in handout.text


def test_a_termination_stored_as_a_loss_earlier_is_not_one(web):
    """Rule: versions written before this rule with event loss_recorded for a termination do
    not switch the handout to the after-loss one (the pregnancy that ended decides)."""
    web.client.post("/api/cases", content=TERM_CASE, headers=web.h())
    with web.app.state.store.write() as s:
        prev = repo.latest_version(s, "term-1")
        data = {k: v for k, v in prev.data.items() if k != "current_pregnancy"}
        data["pregnancies"] = [*data["pregnancies"], {"outcome": "termination", "year": 2026}]
        repo.update_case(s, "term-1", data, None, event="loss_recorded")
        assert not repo.is_lost(repo.case_versions(s, "term-1"))
        data["pregnancies"][-1] = {"outcome": "miscarriage", "ga": "9+0", "year": 2026}
        repo.update_case(s, "term-1", data, None, event="loss_recorded")
        assert repo.is_lost(repo.case_versions(s, "term-1"))


def test_loss_outcomes_keep_the_after_loss_handout(web, example_text):
    """Rule: a loss recorded here behaves as the loss recording does (after-loss handout, no
    calendar events)."""
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    v = _confirmed(web, "example-bleeding", outcome="ectopic", date="2026-11-20")
    assert v.event == "loss_recorded" and v.data["pregnancies"][-1]["outcome"] == "ectopic"
    ics = web.client.get("/cases/example-bleeding/schedule.ics")
    assert "BEGIN:VEVENT" not in ics.text


def test_ongoing_milestone_and_outcome_errors(web, example_text):
    """Rule: ongoing past 12 weeks keeps the pregnancy and adds the milestone, which the
    ended pregnancy keeps (pregnancies[].reached_weeks); a bad outcome saves nothing and says
    why at the field."""
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    r = _outcome(web, "example-bleeding", outcome="miscarriage", date="2026-11-20", ga="30+0")
    assert r.status_code == 422 and 'id="err-ga"' in r.text and "Nothing was saved" in r.text
    r = _outcome(web, "example-bleeding", outcome="ectopic", birth_weight_g="900", date="x")
    assert r.status_code == 422 and "not a date" in r.text and "only for a live birth" in r.text
    # on 2026-11-20 she is 6+1 (LMP-equivalent 2026-10-08): not yet past 12 weeks
    r = _outcome(web, "example-bleeding", outcome="ongoing_12", date="2026-11-20", confirm="yes")
    assert r.status_code == 422 and "not yet past 12 weeks" in r.text
    v = _confirmed(web, "example-bleeding", outcome="ongoing_12", date="2027-01-05")
    assert v.data["current_pregnancy"]["milestones"] == [{"weeks": 12, "date": "2027-01-05"}]
    # when it ends, the milestone goes with it into the history, kept by an edit (hidden field)
    v = _confirmed(web, "example-bleeding", outcome="termination", date="2027-01-12")
    assert v.data["pregnancies"][-1]["reached_weeks"] == 12
    n = len(v.data["pregnancies"]) - 1
    edit = web.client.get("/cases/example-bleeding/edit")
    assert f'name="p{n}_reached_weeks" value="12"' in edit.text


def test_viewer_cannot_open_the_forms(web, example_text):
    """Rule: roles as documented: a viewer reads, never writes (no form, no outcome)."""
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login("view", "amber-kettle-river-02")
    assert web.client.get("/cases/new").status_code == 403
    assert web.client.get("/cases/example-bleeding/outcome").status_code == 403
    plan = web.client.get("/cases/example-bleeding")
    assert "/cases/example-bleeding/outcome" not in plan.text
