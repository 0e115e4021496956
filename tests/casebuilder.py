"""Small builders for test cases: a valid minimal case, modified per test."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import date
from typing import Any

from hypothesis import strategies as st

from rplcare.case.loader import load_case
from rplcare.reasoning.assess import Assessment, assess

TODAY = date(2026, 11, 23)

BASE: dict[str, Any] = {
    "format": "rplcare.case/1",
    "id": "t",
    "assessed_on": "2026-11-23",
    "patient": {"age_years": 32, "bmi": 22, "smoking": False},
    "pregnancies": [
        {"outcome": "miscarriage", "ga": "7+0", "year": 2024},
        {"outcome": "miscarriage", "ga": "8+0", "year": 2025},
    ],
    "results": [],
}

COMPLETE_WORKUP = [
    {"test": "lupus_anticoagulant", "value": "negative", "date": "2026-06-01"},
    {"test": "anticardiolipin_igg", "value": 3, "unit": "GPL", "date": "2026-06-01"},
    {"test": "anticardiolipin_igm", "value": 2, "unit": "MPL", "date": "2026-06-01"},
    {"test": "tsh", "value": 1.8, "unit": "mIU/L", "date": "2026-06-01"},
    {"test": "tpo_antibodies", "value": "negative", "date": "2026-06-01"},
    {
        "test": "uterine_imaging",
        "method": "3d_ultrasound",
        "finding": "normal",
        "date": "2026-06-10",
    },
]


def case(**changes: Any) -> dict[str, Any]:
    """BASE with top-level keys replaced (deep-copied, so tests cannot leak into each other)."""
    c = copy.deepcopy(BASE)
    c.update(copy.deepcopy(changes))
    return c


def run(data: dict[str, Any], **kw: Any) -> Assessment:
    return assess(load_case(data, today=TODAY), **kw)


def statuses(a: Assessment) -> dict[str, str]:
    return {r.id: r.status for r in a.recommendations}


def finding_ids(a: Assessment) -> set[str]:
    return set(a.findings.ids)


def drawn_case(draw: Any, bmis: Sequence[int], **fields: Any) -> dict[str, Any]:
    """For Hypothesis strategies: a case assessed on TODAY whose patient has a drawn age
    (20-45), BMI (one of `bmis`) and smoking, then `fields` (already drawn) as top-level keys."""
    data: dict[str, Any] = {
        "format": "rplcare.case/1",
        "id": "gen",
        "assessed_on": TODAY.isoformat(),
        "patient": {
            "age_years": draw(st.integers(20, 45)),
            "bmi": draw(st.sampled_from(bmis)),
            "smoking": draw(st.booleans()),
        },
    }
    return {**data, **fields}
