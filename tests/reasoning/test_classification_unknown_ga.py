"""Rule: a miscarriage whose record gives no gestational age (ga_unknown, e.g. an EHR code such
as SNOMED 17369002 with no GA observation) is still a loss. ESHRE 2022 (any two pregnancy losses
before 24 weeks) counts it; ASRM 2012 (clinical losses before 20 weeks) and RCOG 2023 (three
first-trimester losses) count it only when the record states the first trimester (e.g. SNOMED
19169002 "miscarriage in first trimester"). Expected counts written by hand from those texts."""

from __future__ import annotations

import pytest

from casebuilder import case, run

UNKNOWN = {"outcome": "miscarriage", "ga_unknown": True, "year": 2024}
FIRST = {"outcome": "miscarriage", "ga_unknown": True, "trimester": "first", "year": 2024}
SECOND = {"outcome": "miscarriage", "ga_unknown": True, "trimester": "second", "year": 2024}
KNOWN = {"outcome": "miscarriage", "ga": "7+0", "year": 2023}

TABLE = [
    # pregnancies, definition, losses counted, RPL?, first-trimester, second-trimester
    ([UNKNOWN, UNKNOWN], "eshre2022", 2, True, 0, 0),
    ([UNKNOWN, UNKNOWN], "asrm2012", 0, False, 0, 0),
    ([UNKNOWN, UNKNOWN, UNKNOWN], "rcog2023", 0, False, 0, 0),
    ([FIRST, FIRST, KNOWN], "rcog2023", 3, True, 3, 0),
    ([FIRST, KNOWN], "asrm2012", 2, True, 2, 0),
    ([SECOND, KNOWN], "eshre2022", 2, True, 1, 1),
    ([SECOND, KNOWN], "rcog2023", 1, False, 1, 0),
]


@pytest.mark.parametrize(("pregs", "definition", "n", "rpl", "t1", "t2"), TABLE)
def test_loss_of_unknown_ga_counts_where_the_definition_allows(
    pregs: list[dict], definition: str, n: int, rpl: bool, t1: int, t2: int
) -> None:
    c = run(case(pregnancies=pregs), definition=definition).classification
    assert (c.losses_counted, c.rpl) == (n, rpl)
    assert (c.first_trimester_losses, c.second_trimester_losses) == (t1, t2)


def test_stated_second_trimester_loss_is_a_second_trimester_loss() -> None:
    c = run(case(pregnancies=[SECOND, KNOWN])).classification
    assert c.any_second_trimester_loss
