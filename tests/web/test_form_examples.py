"""The case form and the outcome form against the example cases (issue 11 §1 and §4): the
examples typed into fields are stored exactly as their YAML; several errors at once at their
inputs; the whole-record checks on save; edits and a stale version; every outcome offered, a
live birth stored with its weight, the viewer refused. (tests/web/test_form_pages.py has the
rows, the live check, the picker and the YAML tab.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from rplcare.store import repository as repo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def error_of(html: str, name: str) -> str:
    """The text of the error element of field `name` (empty when the field is fine)."""
    m = re.search(rf'<span class="field-error" id="err-{re.escape(name)}"[^>]*>(.*?)</span>', html)
    assert m, f"no error element for {name}"
    return m.group(1)


def described_by(html: str, name: str) -> bool:
    """The input / select called `name` points at its error element."""
    m = re.search(rf'<(input|select)[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert m, f"no control {name}"
    return f'aria-describedby="err-{name}"' in m.group(0)


def post(web, url, **fields):
    data = {"csrf_token": web.csrf(), **fields}
    return web.client.post(url, data=data, follow_redirects=False)


def stored(web, case_id):
    with web.app.state.store.read() as s:
        return repo.latest_version(s, case_id)


def versions(web, case_id):
    with web.app.state.store.read() as s:
        return [v.n for v in repo.case_versions(s, case_id)]


def example(name, **changes):
    data = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    data.update(changes)
    return repo.canonical_case(data)


# the APS example (examples/aps-three-losses.yaml) as a clinician types it into the form
APS_FORM = {
    "id": "form-aps",
    "assessed_on": "2026-11-22",
    "birth_date": "1991-03-14",
    "bmi": "22.5",
    "smoking": "no",
    "menstrual_cycle": "regular",
    "p0_outcome": "miscarriage",
    "p0_ga": "6+5",
    "p0_year": "2022",
    "p0_conception": "natural",
    "p1_outcome": "miscarriage",
    "p1_ga": "8+2",
    "p1_year": "2024",
    "p1_conception": "natural",
    "p1_heartbeat_seen": "yes",
    "p2_outcome": "miscarriage",
    "p2_ga": "7+1",
    "p2_year": "2025",
    "p2_conception": "natural",
    "r0_test": "lupus_anticoagulant",
    "r0_value": "positive",
    "r0_date": "2026-02-02",
    "r1_test": "lupus_anticoagulant",
    "r1_value": "positive",
    "r1_date": "2026-05-11",
    "r2_test": "anticardiolipin_igg",
    "r2_value": "18",
    "r2_unit": "GPL",
    "r2_date": "2026-02-02",
    "r3_test": "anticardiolipin_igm",
    "r3_value": "9",
    "r3_unit": "MPL",
    "r3_date": "2026-02-02",
    "r4_test": "tsh",
    "r4_value": "2.1",
    "r4_unit": "mIU/L",
    "r4_date": "2026-02-02",
    "r5_test": "tpo_antibodies",
    "r5_value": "negative",
    "r5_date": "2026-02-02",
    "r6_test": "uterine_imaging",
    "r6_method": "3d_ultrasound",
    "r6_finding": "normal",
    "r6_date": "2026-03-01",
    "r7_test": "karyotype_female",
    "r7_value": "46,XX",
    "r7_date": "2026-03-01",
    "r8_test": "karyotype_male",
    "r8_value": "46,XY",
    "r8_date": "2026-03-01",
}

# the pregnancy example (examples/bleeding-early-pregnancy.yaml): hCG pair, progesterone, scan
BLEEDING_FORM = {
    "id": "form-bleeding",
    "assessed_on": "2026-11-20",
    "age_years": "33",
    "p0_outcome": "miscarriage",
    "p0_ga": "8+0",
    "p0_year": "2024",
    "p1_outcome": "miscarriage",
    "p1_ga": "6+4",
    "p1_year": "2025",
    "cp_lmp": "2026-10-06",
    "cp_cycle_length_days": "30",
    "cp_conception": "natural",
    "cp_symptoms": "bleeding",
    "s0_date": "2026-11-20",
    "s0_location": "intrauterine",
    "s0_msd_mm": "16",
    "s0_yolk_sac": "yes",
    "s0_embryo": "yes",
    "s0_crl_mm": "4.2",
    "s0_heartbeat": "yes",
    "h0_value": "2150",
    "h0_unit": "IU/L",
    "h0_date": "2026-11-10",
    "h1_value": "4020",
    "h1_unit": "IU/L",
    "h1_date": "2026-11-12",
    "g0_value": "58",
    "g0_unit": "nmol/L",
    "g0_date": "2026-11-10",
}


def test_the_whole_aps_record_entered_in_fields_is_the_example_case(web):
    """Rule: every part of the record can be entered in fields: the three losses, both lupus
    anticoagulant positives (14 weeks apart), the other results with their units, imaging and
    karyotypes are stored exactly as the YAML example holds them, and the plan follows."""
    web.login()
    r = post(web, "/cases/new", **APS_FORM)
    assert r.status_code == 303 and r.headers["location"] == "/cases/form-aps"
    assert stored(web, "form-aps").data == example("aps-three-losses.yaml", id="form-aps")
    plan = web.client.get("/cases/form-aps").text
    # the example's expectation: antiphospholipid syndrome, aspirin with heparin recommended
    assert 'id="rec-treat-aspirin_heparin"' in plan
    assert 'id="rec-test-antiphospholipid_repeat"' not in plan


def test_the_current_pregnancy_hcg_pair_and_scan_entered_in_fields(web):
    """Rule: the current pregnancy (LMP, cycle, conception, symptoms), its hCG pair, its
    progesterone and its scan are entered in their own sections and stored as the example."""
    web.login()
    r = post(web, "/cases/new", **BLEEDING_FORM)
    assert r.status_code == 303
    expected = example("bleeding-early-pregnancy.yaml", id="form-bleeding")
    assert stored(web, "form-bleeding").data == expected
    assert "Current pregnancy" in web.client.get("/cases/form-bleeding").text


def test_errors_on_save_keep_what_was_typed_and_are_tied_to_their_inputs(web):
    """Rule: on any error nothing is saved, every problem is named at once next to its input
    (aria-describedby), and the values typed come back."""
    web.login()
    form = dict(BLEEDING_FORM)
    form |= {
        "h1_unit": "mg",
        "p1_ga": "30+0",
        "s0_embryo": "no",
    }  # three problems at once
    r = post(web, "/cases/new", **form)
    assert r.status_code == 422 and "Nothing was saved" in r.text
    for name in ("h1_unit", "p1_ga", "s0_heartbeat"):
        assert error_of(r.text, name), name
        assert described_by(r.text, name)
        assert re.search(rf'name="{name}"[^>]*aria-invalid="true"', r.text), name
    assert 'value="30+0"' in r.text and 'value="4020"' in r.text and 'value="2026-10-06"' in r.text
    assert error_of(r.text, "age_years") == ""
    assert web.client.get("/cases/form-bleeding").status_code == 404


def test_whole_record_checks_run_on_save(web):
    """Rule: the whole-record checks (src/rplcare/case/record_checks.py) refuse the save: a
    transfer date under a natural conception contradicts it, and the form names the field."""
    web.login()
    form = dict(BLEEDING_FORM)
    form |= {"cp_transfer_date": "2026-10-20", "cp_embryo_age_days": "5"}
    r = post(web, "/cases/new", **form)
    assert r.status_code == 422
    assert error_of(r.text, "cp_transfer_date") or error_of(r.text, "cp_conception")
    assert web.client.get("/cases/form-bleeding").status_code == 404


def test_edit_shows_the_stored_case_in_fields_and_saves_a_version(web, example_text):
    """Rule: the edit form holds the stored case (series and scan in their sections); a change
    saves version 2; an error saves nothing."""
    web.client.post("/api/cases", content=example_text, headers=web.h())
    web.login()
    edit = web.client.get("/cases/example-bleeding/edit")
    assert edit.status_code == 200
    assert 'name="h1_value" type="text" value="4020"' in edit.text.replace(
        ' inputmode="decimal"', ""
    )
    assert 'name="s0_crl_mm"' in edit.text and 'value="4.2"' in edit.text
    assert "age_years: 33" in edit.text  # the YAML tab holds the case file
    fields = {k: v for k, v in BLEEDING_FORM.items() if k != "id"} | {"version": "1"}
    r = post(web, "/cases/example-bleeding/edit", **(fields | {"h1_unit": "mg"}))
    assert r.status_code == 422 and error_of(r.text, "h1_unit")
    assert versions(web, "example-bleeding") == [1]
    r = post(web, "/cases/example-bleeding/edit", **(fields | {"age_years": "34"}))
    assert r.status_code == 303
    assert stored(web, "example-bleeding").data["patient"]["age_years"] == 34
    assert versions(web, "example-bleeding")[-1] == 2
    # a second writer with the old version is stopped, the edit kept
    r = post(web, "/cases/example-bleeding/edit", **(fields | {"age_years": "35"}))
    assert r.status_code == 409 and 'value="35"' in r.text


# --- outcomes (issue 11 §4) ------------------------------------------------------------------

# pregnant since LMP 2026-03-01, seen on 2026-05-01 (the test clock is in 2027)
TERM_CASE = {
    "format": "rplcare.case/1",
    "id": "term",
    "assessed_on": "2026-05-01",
    "patient": {"age_years": 34},
    "pregnancies": [
        {"outcome": "miscarriage", "ga": "7+0", "year": 2023},
        {"outcome": "miscarriage", "ga": "8+0", "year": 2024},
        {"outcome": "miscarriage", "ga": "6+0", "year": 2025},
    ],
    "current_pregnancy": {"lmp": "2026-03-01", "conception": "natural"},
}


@pytest.fixture
def term(web):
    r = web.client.post("/api/cases", json=TERM_CASE, headers=web.h())
    assert r.status_code == 201, r.text
    web.login()
    return web


def test_the_outcome_form_is_linked_from_the_plan_and_offers_every_outcome(term):
    """Rule: from the case page in two clicks: the link, then the outcome; every outcome of
    issue 11 §4 is offered."""
    plan = term.client.get("/cases/term").text
    assert 'href="/cases/term/outcome"' in plan
    page = term.client.get("/cases/term/outcome").text
    offered = re.findall(r'name="outcome" value="([^"]+)"', page)
    assert offered == [
        "live_birth",
        "ongoing_12",
        "ongoing_24",
        "miscarriage",
        "ectopic",
        "molar",
        "termination",
        "stillbirth",
    ]


def test_a_live_birth_is_confirmed_then_moves_the_pregnancy_into_the_history(term):
    """Rule: the outcome is shown for confirmation first (nothing saved); confirmed, the
    current pregnancy becomes a past live birth with GA, date and birth weight."""
    birth = {
        "outcome": "live_birth",
        "date": "2026-11-30",
        "ga": "39+1",
        "birth_weight_g": "3400",
    }
    r = post(term, "/cases/term/outcome", version="1", **birth)
    assert r.status_code == 200 and "Please confirm" in r.text and "3400 g" in r.text
    assert versions(term, "term") == [1]
    r = post(term, "/cases/term/outcome", version="1", confirm="yes", **birth)
    assert r.status_code == 303 and r.headers["location"] == "/cases/term"
    data = stored(term, "term").data
    assert "current_pregnancy" not in data
    assert data["pregnancies"][-1] == {
        "outcome": "live_birth",
        "ga": "39+1",
        "date": "2026-11-30",
        "conception": "natural",
        "lmp": "2026-03-01",  # kept: the record checks compare the GA with birth date - LMP
        "birth_weight_g": 3400,
    }
    assert len(data["pregnancies"]) == 4
    # a birth is not a loss: the handout is not the after-loss one; no pregnancy reminders
    handout = term.client.get("/cases/term/handout").text
    assert "after pregnancy loss" not in handout
    assert "BEGIN:VEVENT" not in term.client.get("/cases/term/schedule.ics").text


def test_a_miscarriage_from_the_outcome_form_is_a_loss_as_before(term):
    """Rule: the loss-aware handout and calendar behave as with the loss form: after a
    recorded miscarriage the handout is the after-loss one and the calendar is empty."""
    loss = {"outcome": "miscarriage", "date": "2026-05-10", "ga": "10+0"}
    r = post(term, "/cases/term/outcome", version="1", confirm="yes", **loss)
    assert r.status_code == 303
    assert stored(term, "term").data["pregnancies"][-1]["outcome"] == "miscarriage"
    assert "Your care after pregnancy loss" in term.client.get("/cases/term/handout").text
    assert "BEGIN:VEVENT" not in term.client.get("/cases/term/schedule.ics").text


def test_ongoing_past_12_weeks_keeps_the_pregnancy_current(term):
    """Rule: "ongoing past 12 weeks" is a milestone of the current pregnancy, which stays."""
    r = post(
        term,
        "/cases/term/outcome",
        version="1",
        confirm="yes",
        outcome="ongoing_12",
        date="2026-05-25",
    )
    assert r.status_code == 303
    current = stored(term, "term").data["current_pregnancy"]
    assert current["milestones"] == [{"weeks": 12, "date": "2026-05-25"}]
    assert "Current pregnancy" in term.client.get("/cases/term").text


def test_outcome_errors_save_nothing_and_sit_at_their_inputs(term):
    """Rule: a birth weight for a miscarriage and a date that is not one are refused at once,
    at their inputs, and nothing is saved."""
    r = post(
        term,
        "/cases/term/outcome",
        version="1",
        confirm="yes",
        outcome="miscarriage",
        date="2026-13-45",
        ga="9+0",
        birth_weight_g="400",
    )
    assert r.status_code == 422 and "Nothing was saved" in r.text
    assert error_of(r.text, "date") and error_of(r.text, "birth_weight_g")
    assert 'aria-describedby="err-date"' in r.text
    assert versions(term, "term") == [1]


def test_no_outcome_without_a_current_pregnancy(web, example_text):
    """Rule: a case without a current pregnancy has no outcome to record."""
    aps = (EXAMPLES / "aps-three-losses.yaml").read_text(encoding="utf-8")
    web.client.post("/api/cases", content=aps, headers=web.h())
    web.login()
    r = post(
        web,
        "/cases/example-aps/outcome",
        version="1",
        confirm="yes",
        outcome="live_birth",
        date="2026-11-20",
        ga="39+0",
    )
    assert r.status_code == 422 and "no current pregnancy" in r.text
    assert versions(web, "example-aps") == [1]


def test_a_viewer_cannot_record_an_outcome(term):
    """Rule: reading roles do not write (the outcome form is refused)."""
    term.client.post("/logout", data={"csrf_token": term.csrf()})
    term.login("view", "amber-kettle-river-02")
    assert term.client.get("/cases/term/outcome").status_code == 403
    assert "/outcome" not in term.client.get("/cases/term").text.replace("/outcomes", "")


def test_an_outcome_must_fit_the_pregnancys_dating(term):
    """Rule: "ongoing past 24 weeks" is refused on a day the dating puts earlier (LMP
    2026-03-01: on 2026-05-10 she is 10+0), and no outcome is dated before the pregnancy
    began; nothing is saved, the message sits at the date field."""
    early = {"version": "1", "confirm": "yes", "outcome": "ongoing_24", "date": "2026-05-10"}
    r = post(term, "/cases/term/outcome", **early)
    assert r.status_code == 422 and "10+0" in error_of(r.text, "date")
    before = {"version": "1", "confirm": "yes", "outcome": "miscarriage", "date": "2026-02-01"}
    r = post(term, "/cases/term/outcome", **before | {"ga": "6+0"})
    assert r.status_code == 422 and "before this pregnancy began" in error_of(r.text, "date")
    assert versions(term, "term") == [1]
    # past 12 weeks on 2026-05-25 (12+1) is accepted
    ok = early | {"outcome": "ongoing_12", "date": "2026-05-25"}
    assert post(term, "/cases/term/outcome", **ok).status_code == 303


def test_the_confirmation_shows_the_ga_by_the_pregnancys_dating(term):
    """Rule: decision support at the confirmation step: the GA by the pregnancy's own dating
    on the outcome date (LMP 2026-03-01 -> 2026-11-30 is 274 days, 39+1) is shown beside the
    GA typed, and a GA that differs is pointed out (the one typed is the one recorded)."""
    birth = {"version": "1", "outcome": "live_birth", "date": "2026-11-30"}
    same = post(term, "/cases/term/outcome", **birth | {"ga": "39+1"})
    assert same.status_code == 200
    shown = re.search(r'<p id="dating-ga">(.*?)</p>', same.text).group(1)
    assert "<strong>39+1</strong>" in shown and "You entered" not in shown
    other = post(term, "/cases/term/outcome", **birth | {"ga": "38"})
    shown = re.search(r'<p id="dating-ga">(.*?)</p>', other.text).group(1)
    assert "You entered <strong>38+0</strong>" in shown
    assert versions(term, "term") == [1]
