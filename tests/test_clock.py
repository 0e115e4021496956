"""The suite's clock is moved and zoned (tests/conftest.py), and reasoning never reads it."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from casebuilder import TODAY, case
from conftest import CLOCK
from rplcare import assess, load_case


def test_the_clock_is_moved_to_a_local_date_whose_utc_date_differs():
    assert date.today() == CLOCK.date() != TODAY
    assert datetime.now(UTC).date() != date.today()  # 00:30 NZDT is the previous day in UTC
    assert time.localtime().tm_gmtoff == 13 * 3600


def test_assess_uses_the_date_it_is_given_not_the_clock():
    data = case()
    data.pop("assessed_on")
    a = assess(load_case(data, today=TODAY), today=TODAY)
    assert a.assessed_on == TODAY


def test_assess_without_any_date_is_refused_rather_than_reading_the_clock():
    data = case()
    data.pop("assessed_on")
    c = load_case(data, today=TODAY)
    c.assessed_on = None
    with pytest.raises(ValueError, match="no assessment date"):
        assess(c)
