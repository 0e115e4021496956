"""Suite-wide test settings.

Time is frozen in a non-UTC zone (Pacific/Auckland, UTC+13 in November) for the whole run, so a
date computed from a UTC clock instead of the explicit `today` argument shows up as an
off-by-one day. Reasoning never reads the clock; tests pass dates explicitly.
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pytest

os.environ["TZ"] = "Pacific/Auckland"
time.tzset()

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TODAY = date(2026, 11, 23)


@pytest.fixture(scope="session")
def today() -> date:
    return TODAY


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES
