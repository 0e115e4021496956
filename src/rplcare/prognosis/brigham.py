"""Brigham, Conlon & Farquharson 1999: success of the next pregnancy after idiopathic RM.

A counselling aid only: external validation (Youssef 2022) found it over-optimistic with poor
discrimination. Table rows are exact cells (each flagged verified or not); ages between rows
use our logistic fit to the table, labelled `interpolated` because the fit is not published.
"""

import math
from typing import Literal

from pydantic import BaseModel, Field

from rplcare.knowledge import KnowledgeBase


class Prognosis(BaseModel):
    """`rplcare.assessment/1` prognosis."""

    model: Literal["brigham1999"] = "brigham1999"
    next_pregnancy_success_pct: float
    exact_table_cell: bool
    verified_cell: bool
    interpolated: bool
    caveat: str  # from the knowledge base (prognosis.brigham.caveat)
    age_years: int
    previous_miscarriages: int
    note: str
    sources: list[str] = Field(default_factory=lambda: ["brigham1999", "youssef2022"])


def _fit_pct(age: int, n: int, kb: KnowledgeBase) -> float:
    logit = (
        kb.param("brigham.fit_intercept")
        + kb.param("brigham.fit_age_coef") * age
        + kb.param("brigham.fit_miscarriage_coef") * n
    )
    return 100 / (1 + math.exp(-logit))


def brigham1999(
    age_years: int | None, previous_miscarriages: int, *, kb: KnowledgeBase
) -> tuple[Prognosis | None, list[str]]:
    """Predicted % success of the next pregnancy; (None, [why]) outside the model's ranges."""
    a_lo, a_hi = int(kb.param("brigham.min_age_years")), int(kb.param("brigham.max_age_years"))
    n_lo = int(kb.param("brigham.min_miscarriages"))
    n_hi = int(kb.param("brigham.max_miscarriages"))
    if age_years is None:
        return None, [kb.say("prognosis.brigham.no_age")]
    if not a_lo <= age_years <= a_hi:
        return None, [kb.say("prognosis.brigham.age_outside", age=age_years)]
    if not n_lo <= previous_miscarriages <= n_hi:
        return None, [kb.say("prognosis.brigham.count_outside", n=previous_miscarriages)]
    caveat = kb.say("prognosis.brigham.caveat")
    name = f"brigham.cell_{age_years}_{previous_miscarriages}"
    cell = kb.parameters.get(name)
    if cell is not None:
        verified = cell.verified
        note = kb.say(
            "prognosis.brigham.cell_verified" if verified else "prognosis.brigham.cell_unverified"
        )
        return Prognosis(
            next_pregnancy_success_pct=float(kb.param(name)),
            exact_table_cell=True,
            verified_cell=verified,
            interpolated=False,
            age_years=age_years,
            previous_miscarriages=previous_miscarriages,
            note=note,
            caveat=caveat,
        ), []
    return Prognosis(
        next_pregnancy_success_pct=round(_fit_pct(age_years, previous_miscarriages, kb), 1),
        exact_table_cell=False,
        verified_cell=False,
        interpolated=True,
        age_years=age_years,
        previous_miscarriages=previous_miscarriages,
        note=kb.say(
            "prognosis.brigham.interpolated",
            age_coef=f"{kb.param('brigham.fit_age_coef'):+}",
            n_coef=f"{kb.param('brigham.fit_miscarriage_coef'):+}",
        ),
        caveat=caveat,
    ), []
