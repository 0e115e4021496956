"""Draft orders as proposed items of the case (issue 8 §2: one decision path for order-sign).

Rule checked: an item in `proposed` (the draft orders being signed) makes the same `recorded.*`
finding a record of it makes, so `assess()` answers the order with the knowledge base's rule for
the recorded item. Expected statuses are written by hand from recommendations.yaml:
treat.ivig rule 0 (`recorded.ivig` -> not_recommended, prominent), test.nk_cells rule 0
(`recorded.nk_cells` -> not_recommended, prominent).
"""

from __future__ import annotations

from datetime import date

import pytest

from rplcare import assess, load_case
from rplcare.case.errors import CaseError
from rplcare.reasoning.assess import case_hash

TODAY = date(2026, 11, 23)
ONE_LOSS = {
    "id": "proposed",
    "assessed_on": "2026-11-22",
    "patient": {"age_years": 31},
    "pregnancies": [{"outcome": "miscarriage", "ga": "7+0", "year": 2025}],
}


def test_a_proposed_ivig_is_answered_by_the_recorded_ivig_rule() -> None:
    case = load_case({**ONE_LOSS, "proposed": {"medications": ["ivig"]}}, today=TODAY)
    a = assess(case, today=TODAY)
    rec = a.rec("treat.ivig")
    assert rec is not None
    assert (rec.status, rec.prominent, rec.because) == ("not_recommended", True, ["recorded.ivig"])
    assert a.findings.get("recorded.ivig").evidence == ["proposed.medications[0]"]


def test_a_proposed_nk_cell_test_is_answered_by_the_recorded_test_rule() -> None:
    case = load_case({**ONE_LOSS, "proposed": {"tests": ["nk_cells"]}}, today=TODAY)
    rec = assess(case, today=TODAY).rec("test.nk_cells")
    assert rec is not None
    assert (rec.status, rec.prominent) == ("not_recommended", True)


def test_without_the_proposal_one_loss_lists_no_ivig() -> None:
    # one miscarriage is not RPL, so treat.ivig's state.rpl rule does not hold either
    assert assess(load_case(ONE_LOSS, today=TODAY), today=TODAY).rec("treat.ivig") is None


def test_a_case_without_proposals_hashes_as_before() -> None:
    case = load_case(ONE_LOSS, today=TODAY)
    assert "proposed" not in case.model_dump(mode="json", exclude_none=True)
    with_empty = load_case({**ONE_LOSS, "proposed": None}, today=TODAY)
    assert case_hash(with_empty) == case_hash(case)


def test_an_unknown_proposed_item_is_a_path_error() -> None:
    with pytest.raises(CaseError) as exc:
        load_case({**ONE_LOSS, "proposed": {"medications": ["xyz"], "tests": ["abc"]}}, today=TODAY)
    text = str(exc.value)
    assert "proposed.medications[0]" in text
    assert "proposed.tests[0]" in text
