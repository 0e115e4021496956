"""Serum progesterone in early pregnancy: what a value can and cannot tell.

A low value is never explained away: without supplements it is a strong marker of a failing
pregnancy (Verhaegen 2012; M6 step 1), and with supplements the assay either misses the drug
(dydrogesterone) or is raised by it (vaginal/IM progesterone), so it cannot triage a PUL.
"""

from typing import Literal

from pydantic import BaseModel, Field

from rplcare.knowledge import KnowledgeBase
from rplcare.util import empty_list

DYDROGESTERONE = frozenset(
    {"dydrogesterone", "oral_dydrogesterone", "dextroprogesterone", "dextrogestrel"}
)
PROGESTERONE = frozenset(
    {
        "progesterone",
        "vaginal_progesterone",
        "intramuscular_progesterone",
        "micronised_progesterone",
        "vaginal_micronised_progesterone",
    }
)

M6Step1 = Literal["failed", "step2", "not_applicable"]


class ProgesteroneBlock(BaseModel):
    """`rplcare.assessment/1` pregnancy.progesterone plus the triage detail."""

    latest_nmol_l: float | None
    on_progestogen: bool
    interpretation: str
    usable_for_pul_triage: bool = False
    m6_step1: M6Step1 | None = None
    dose_review_suggested: bool = False
    sources: list[str] = Field(default_factory=empty_list)
    warnings: list[str] = Field(default_factory=empty_list)


def ng_ml_to_nmol_l(x: float, *, kb: KnowledgeBase) -> float:
    """ng/mL → nmol/L (× 3.18, from the molar mass 314.46 g/mol)."""
    return x * float(kb.param("progesterone.ng_ml_to_nmol_l"))


def nmol_l_to_ng_ml(x: float, *, kb: KnowledgeBase) -> float:
    return x / float(kb.param("progesterone.ng_ml_to_nmol_l"))


def interpret(
    latest_nmol_l: float | None,
    on_progestogen: bool,
    progestogens: list[str],
    location_known_intrauterine: bool,
    artificial_cycle_fet: bool,
    initial_hcg_iu_l: float | None = None,
    *,
    kb: KnowledgeBase,
) -> ProgesteroneBlock:
    """Interpret the latest progesterone; `initial_hcg_iu_l` (optional) checks the M6
    population (hCG > 25 IU/L)."""
    names = {n.strip().lower() for n in progestogens}
    on = on_progestogen or bool(names)
    dydro = bool(names & DYDROGESTERONE)
    prog = bool(names & PROGESTERONE)
    unnamed = on and not names
    parts: list[str] = []
    sources: list[str] = []
    warnings: list[str] = []
    block: dict[str, object] = {}

    if artificial_cycle_fet and not on:
        warnings.append(kb.say("progesterone.warning.fet_without_progestogen"))
        sources.append("fet-lps")

    if latest_nmol_l is None:
        text = kb.say("progesterone.none_on_progestogen" if on else "progesterone.none")
        return ProgesteroneBlock(
            latest_nmol_l=None,
            on_progestogen=on,
            interpretation=text,
            sources=sources,
            warnings=warnings,
        )
    value = round(latest_nmol_l, 1)

    if on:
        parts.append(kb.say("progesterone.on_supplement", value=f"{value:g}"))
        sources.append("m6-2st")
        block["m6_step1"] = "not_applicable"
        if dydro:
            parts.append(kb.say("progesterone.dydrogesterone"))
        if unnamed:
            parts.append(kb.say("progesterone.preparation_unrecorded"))
        if prog:
            parts.append(kb.say("progesterone.progesterone_raises_level"))
        if artificial_cycle_fet:
            parts.append(kb.say("progesterone.artificial_fet"))
            sources.append("ranisavljevic2022")
            block["dose_review_suggested"] = True
    elif not location_known_intrauterine:
        cut = kb.param("progesterone.pul_failing_nmol_l")
        min_hcg = kb.param("hcg.m6_min_hcg_iu_l")
        sources += ["m6-2st", "verhaegen2012", "nice-ng126"]
        block["usable_for_pul_triage"] = True
        if initial_hcg_iu_l is not None and initial_hcg_iu_l <= min_hcg:
            block["m6_step1"] = "not_applicable"
            block["usable_for_pul_triage"] = False
            parts.append(
                kb.say("progesterone.outside_m6", value=f"{value:g}", hcg=f"{initial_hcg_iu_l:g}")
            )
        elif latest_nmol_l <= cut:
            block["m6_step1"] = "failed"
            parts.append(kb.say("progesterone.m6_failed", value=f"{value:g}"))
        else:
            block["m6_step1"] = "step2"
            parts.append(kb.say("progesterone.m6_step2", value=f"{value:g}"))
    else:
        sources += ["verhaegen2012", "nice-ng126"]
        parts.append(kb.say("progesterone.intrauterine", value=f"{value:g}"))
    return ProgesteroneBlock(
        latest_nmol_l=value,
        on_progestogen=on,
        interpretation=" ".join(parts),
        sources=sources,
        warnings=warnings,
        **block,
    )
