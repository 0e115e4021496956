"""Suite-wide test settings.

The clock is moved (time-machine) to CLOCK, 00:30 in Pacific/Auckland (UTC+13 in summer), for
the whole run, and the process time zone is Pacific/Auckland. CLOCK is months away from TODAY,
the date tests pass explicitly, and its UTC date is the day before its local date: reasoning
that read the clock (`date.today()`) instead of its `today` argument would give other dates than
the ones a test expects, and a UTC clock read at the edges would be off by a day. The clock keeps
ticking from CLOCK (tick=True), so timeouts and token lifetimes still work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

os.environ["TZ"] = "Pacific/Auckland"
time.tzset()

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TODAY = date(2026, 11, 23)
CLOCK = datetime(2027, 2, 14, 0, 30, tzinfo=ZoneInfo("Pacific/Auckland"))


@pytest.fixture(autouse=True, scope="session")
def _moved_clock() -> Iterator[None]:
    with time_machine.travel(CLOCK, tick=True):
        yield


@pytest.fixture(scope="session")
def today() -> date:
    return TODAY


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES
