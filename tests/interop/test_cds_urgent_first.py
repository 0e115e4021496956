"""Urgent first on the CDS card list (issue 9 §2): the patient-view cards open with one card per
non-routine action of the assessment, in its order and with the indicator of its urgency
(immediate -> critical; same day / within 24 h -> warning). A pregnancy of unknown location
with pain and an hCG above the discriminatory level (Connolly 2013; NICE NG126) therefore
opens with the critical ectopic alerts; no later card repeats an action with a milder
indicator."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import tests.interop.test_cds_service as cds_tests
from fastapi.testclient import TestClient
from tests.render.test_urgent_first import CASE, ECTOPIC_WORDS, FIRST

import rplcare
from rplcare.interop.cds import create_cds_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TODAY = date(2026, 11, 23)
SEVERITY = {"critical": 0, "warning": 1, "info": 2}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_cds_app(clock=lambda: TODAY, environ={}, allow_unauthenticated=True))


def _cards(client: TestClient, path: Path) -> list[dict]:
    pid, prefetch, _day = cds_tests.chart(path)
    r = client.post(
        "/cds-services/rplcare-patient-view",
        json=cds_tests.request("patient-view", pid, prefetch),
    )
    assert r.status_code == 200, r.text[:300]
    return r.json()["cards"]


def test_pul_with_pain_cards_open_with_the_critical_ectopic_alerts(client, tmp_path):
    path = tmp_path / "pul.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    cards = _cards(client, path)
    assert cards[0]["indicator"] == "critical"
    assert cards[0]["summary"].startswith("IMMEDIATE: pain with a pregnancy of unknown location")
    assert ECTOPIC_WORDS in cards[0]["detail"]
    assert cards[0]["source"]["topic"]["code"] == FIRST
    # the assessment's order, leading the list
    a = rplcare.assess(rplcare.load_case(path, today=TODAY))
    urgent = [x.id for x in a.actions if x.urgency != "routine"]
    codes = [c["source"].get("topic", {}).get("code") for c in cards]
    assert codes[: len(urgent)] == urgent


def test_cards_never_put_a_milder_indicator_before_an_urgent_action(client, tmp_path):
    path = tmp_path / "pul.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
    for p in [path, *examples]:
        cards = _cards(client, p)
        a = rplcare.assess(rplcare.load_case(p, today=TODAY))
        n = sum(1 for x in a.actions if x.urgency != "routine")
        lead = [SEVERITY[c["indicator"]] for c in cards[:n]]
        assert lead == sorted(lead), p.name
        # an action's recommendation is not repeated later with another indicator
        later = [c["source"].get("topic", {}).get("code") for c in cards[n:]]
        assert not {x.id for x in a.actions if x.urgency != "routine"} & set(later), p.name
