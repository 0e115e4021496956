"""Serum progesterone in early pregnancy: what a value can and cannot tell.

A low value is never explained away: without supplements it is a strong marker of a failing
pregnancy (Verhaegen 2012; M6 step 1), and with supplements the assay either misses the drug
(dydrogesterone) or is raised by it (vaginal/IM progesterone), so it cannot triage a PUL.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rplcare.knowledge import KnowledgeBase

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
    sources: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def ng_ml_to_nmol_l(x: float, *, kb: KnowledgeBase) -> float:
    """ng/mL → nmol/L (× 3.18, from the molar mass 314.46 g/mol)."""
    return x * kb.param("progesterone.ng_ml_to_nmol_l")


def nmol_l_to_ng_ml(x: float, *, kb: KnowledgeBase) -> float:
    return x / kb.param("progesterone.ng_ml_to_nmol_l")


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
        warnings.append(
            "artificial-cycle frozen transfer with no progestogen recorded: progesterone is an "
            "integral part of that regimen — check the current treatments"
        )
        sources.append("fet-lps")

    if latest_nmol_l is None:
        text = "No progesterone result in this pregnancy."
        if on:
            text += " She takes a progestogen; a level would not be usable for PUL triage."
        return ProgesteroneBlock(
            latest_nmol_l=None,
            on_progestogen=on,
            interpretation=text,
            sources=sources,
            warnings=warnings,
        )
    value = round(latest_nmol_l, 1)

    if on:
        parts.append(
            f"{value:g} nmol/L on a progestogen supplement: not usable for triage of a pregnancy "
            "of unknown location (the M6 two-step protocol says not to use progesterone with "
            "supplements; triage on hCG alone)."
        )
        sources.append("m6-2st")
        block["m6_step1"] = "not_applicable"
        if dydro:
            parts.append(
                "Dydrogesterone is not measured by progesterone assays: the value reflects her "
                "own progesterone only, so a low value does not mean the supplement is missing "
                "or not absorbed; do not use it to adjust the dose."
            )
        if unnamed:
            parts.append(
                "The preparation is not recorded: vaginal or intramuscular progesterone would "
                "raise the measured level, dydrogesterone would not be measured at all."
            )
        if prog:
            parts.append(
                "Vaginal or intramuscular progesterone raises the measured level, so a normal "
                "value does not show that the pregnancy is doing well."
            )
        if artificial_cycle_fet:
            parts.append(
                "In an artificial-cycle frozen transfer the supplement is the main source of "
                "progesterone, and a low level on supplementation is associated with lower "
                "ongoing pregnancy and more miscarriage (Ranisavljevic 2022: miscarriage RR 1.48, "
                "1.17–1.86): review the dose with the fertility clinic against its threshold for "
                "this preparation (published thresholds differ; none is set here), and do not "
                "take the value as reassurance."
            )
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
                f"{value:g} nmol/L with hCG {initial_hcg_iu_l:g} IU/L: outside the M6 population "
                f"(hCG must be > {min_hcg:g} IU/L), so the two-step triage does not apply."
            )
        elif latest_nmol_l <= cut:
            block["m6_step1"] = "failed"
            parts.append(
                f"{value:g} nmol/L (≤ {cut:g}) without supplements and no intrauterine sac seen: "
                "very likely a failing pregnancy (M6 two-step triage, step 1: low risk, failed "
                "PUL). A low progesterone is a strong marker of non-viability (Verhaegen 2012: "
                "with symptoms and an inconclusive scan, specificity 98 %), but it cannot tell a "
                "failing intrauterine pregnancy from an ectopic: follow up as the PUL protocol "
                "says until the hCG is negative."
            )
        else:
            block["m6_step1"] = "step2"
            parts.append(
                f"{value:g} nmol/L (> {cut:g}) without supplements and no intrauterine sac seen: "
                "step 1 of the M6 two-step triage does not classify; a second hCG at 48 h is "
                "needed (step 2, the M6 model, is not computed here). NICE NG126: do not use "
                "progesterone to diagnose a viable intrauterine or an ectopic pregnancy."
            )
    else:
        sources += ["verhaegen2012", "nice-ng126"]
        parts.append(
            f"{value:g} nmol/L without supplements in a scan-confirmed intrauterine pregnancy: "
            "viability is judged by ultrasound, not by this value. A low value is associated "
            "with a failing pregnancy (Verhaegen 2012), so it is a reason for timely follow-up, "
            "not for reassurance or for repeating the test to explain it away."
        )
    return ProgesteroneBlock(
        latest_nmol_l=value,
        on_progestogen=on,
        interpretation=" ".join(parts),
        sources=sources,
        warnings=warnings,
        **block,  # type: ignore[arg-type]
    )
