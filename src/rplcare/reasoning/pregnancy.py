"""Glue between the case and the early-pregnancy calculators (rplcare.pregnancy).

Builds the calculators' inputs from the current pregnancy, runs them once, and returns both
what reasoning needs (`PregnancyContext`) and the `pregnancy` block of the assessment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from rplcare.case.model import Case
from rplcare.case.vocabulary import vocabulary
from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy import hcg as hcg_mod
from rplcare.pregnancy.dating import Dating, date_pregnancy, ga_on
from rplcare.pregnancy.inputs import HcgSample, ScanInput
from rplcare.pregnancy.luteal import (
    LutealSupport,
    Policy,
    cerclage_window,
    cervical_surveillance,
    schedule,
)
from rplcare.pregnancy.progesterone import ProgesteroneBlock, interpret
from rplcare.pregnancy.schedule import Event, events
from rplcare.pregnancy.viability import Viability, assess_viability
from rplcare.reasoning.classification import Classification
from rplcare.reasoning.rules import PregnancyContext

ART_CONCEPTIONS = ("ivf", "icsi", "frozen_transfer", "donor_egg")
BLEEDING_ID = "treat.vaginal_progesterone_bleeding"
ART_ID = "treat.luteal_phase_support_art"


@dataclass
class PregnancyParts:
    """The pregnancy blocks of one assessment: context, dating, viability and the rest."""

    context: PregnancyContext
    dating: Dating | None
    viability: Viability
    pairs: list[hcg_mod.HcgPair]
    alerts: list[hcg_mod.Alert]
    progesterone: ProgesteroneBlock | None
    scans: list[ScanInput]
    samples: list[HcgSample]
    luteal: LutealSupport | None = None
    cervical: Any = None
    cerclage: Any = None
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _scans(case: Case) -> list[ScanInput]:
    cp = case.current_pregnancy
    assert cp is not None
    return [
        ScanInput(
            date=s.date,
            location=s.location,
            msd_mm=s.msd_mm,
            yolk_sac=s.yolk_sac,
            embryo=s.embryo,
            crl_mm=s.crl_mm,
            heartbeat=s.heartbeat,
            cervical_length_mm=s.cervical_length_mm,
            index=i,
            amnion_empty=s.amnion_empty,
            yolk_sac_diameter_mm=s.yolk_sac_diameter_mm,
        )
        for i, s in enumerate(cp.scans)
    ]


def pregnancy_start(case: Case, dating: Dating | None, kb: KnowledgeBase) -> date:
    """Results dated on or after this day belong to the current pregnancy."""
    if dating is not None:
        return dating.lmp_equivalent
    cp = case.current_pregnancy
    if cp and cp.lmp:
        return cp.lmp
    return case.day - timedelta(days=int(kb.param("pregnancy.unknown_start_lookback_days")))


def analyse(
    case: Case, cls: Classification, kb: KnowledgeBase, today: date
) -> PregnancyParts | None:
    cp = case.current_pregnancy
    if cp is None:
        return None
    scans = _scans(case)
    dating = date_pregnancy(
        today, cp.lmp, cp.cycle_length_days, cp.transfer_date, cp.embryo_age_days, scans, kb=kb
    )
    start = pregnancy_start(case, dating, kb)
    all_samples = sorted(
        (
            HcgSample(at=r.at, value_iu_l=r.si, index=i)
            for i, r in enumerate(case.results)
            if r.code == "hcg" and r.si is not None and r.day >= start
        ),
        key=lambda s: s.at,
    )
    # an hCG of 0 is a negative test: every calculator takes positive values only (no log of 0,
    # no division by it); the negative result is reported, never silently dropped
    samples = [s for s in all_samples if s.value_iu_l > 0]
    notes = [
        f"results[{s.index}]: hCG 0 IU/L (negative test) on {s.at.date()} is not used in the "
        "hCG pair analysis"
        + (
            "; after a positive hCG it suggests the pregnancy has resolved: confirm"
            if any(p.at < s.at for p in samples)
            else ""
        )
        for s in all_samples
        if s.value_iu_l <= 0
    ]
    ga_at = (lambda d: ga_on(dating, d)) if dating is not None else None
    viability = assess_viability(scans, ga_at, today, kb=kb)
    pairs = hcg_mod.analyse_series(samples, kb=kb)
    alerts = hcg_mod.alerts(samples, scans, "pain" in cp.symptoms, "bleeding" in cp.symptoms, kb=kb)
    intrauterine = any(s.location == "intrauterine" for s in scans)
    progs = [m for m in cp.treatments if m in vocabulary().progestogens]
    art = (cp.conception in ART_CONCEPTIONS) or cp.transfer_date is not None
    frozen = cp.conception == "frozen_transfer"
    required = art and (not frozen or cp.endometrial_preparation == "artificial")
    prep_unknown = art and frozen and cp.endometrial_preparation is None
    prog_results = [
        (i, r)
        for i, r in enumerate(case.results)
        if r.code == "progesterone" and r.si is not None and r.day >= start
    ]
    progesterone = None
    if prog_results or progs:
        latest = max(prog_results, key=lambda ir: ir[1].at)[1].si if prog_results else None
        progesterone = interpret(
            latest,
            bool(progs),
            progs,
            intrauterine,
            artificial_cycle_fet=frozen and cp.endometrial_preparation == "artificial",
            initial_hcg_iu_l=samples[0].value_iu_l if samples else None,
            kb=kb,
        )
    short: list[int] = []
    # NICE NG25 as updated in 2019: "25 mm or less" (cervix.short_mm_ng25_2019)
    short_mm = kb.param("cervix.short_mm_ng25_2019")
    lo, hi = (
        kb.param("cervix.surveillance_start_ga_days"),
        kb.param("cervix.surveillance_end_ga_days"),
    )
    for s in scans:
        if (
            s.cervical_length_mm is not None
            and s.cervical_length_mm <= short_mm
            and dating is not None
        ) and lo <= ga_on(dating, s.date) <= hi:
            short.append(s.index or 0)
    ctx = PregnancyContext(
        ga_days=dating.ga_days if dating else None,
        viability=viability.status,
        intrauterine=intrauterine and viability.status != "ectopic",
        art=art,
        art_progesterone_required=required and not prep_unknown,
        art_preparation_unknown=prep_unknown,
        cervical_length_short=short,
    )
    parts = PregnancyParts(ctx, dating, viability, pairs, alerts, progesterone, scans, samples)
    parts.warnings = notes
    return parts


def plan_luteal(
    parts: PregnancyParts,
    case: Case,
    cls: Classification,
    statuses: dict[str, str],
    policy: str,
    today: date,
    kb: KnowledgeBase,
    fids: frozenset[str],
) -> None:
    """Luteal schedule, surveillance windows and dated events, from the decided recommendations."""
    ctx = parts.context
    reason = None
    if ctx.viability == "ectopic":
        reason = kb.say("luteal.not_indicated.ectopic")
    elif ctx.viability == "failure_diagnostic":
        reason = kb.say("luteal.not_indicated.failure")
    elif not ctx.intrauterine:
        reason = kb.say("luteal.not_indicated.location_unknown")
    indication = None
    if statuses.get(BLEEDING_ID) == "recommended":
        indication = BLEEDING_ID
    elif statuses.get(ART_ID) in ("recommended", "conditional"):
        indication = ART_ID
    if (
        reason
        and ctx.art
        and indication == ART_ID
        and ctx.viability not in ("ectopic", "failure_diagnostic")
    ):
        reason = None  # an ART regimen continues before the first scan
    losses = [p for p in case.pregnancies if p.outcome in ("miscarriage", "biochemical")]
    last_ga = next((p.ga for p in reversed(losses) if p.ga is not None), None)
    parts.luteal = schedule(
        indication,
        cast(Policy, policy),
        parts.dating,
        ctx.art,
        ctx.art_progesterone_required,
        cls.rpl,
        last_ga,
        cls.any_second_trimester_loss,
        reason,
        today=today,
        kb=kb,
    )
    parts.cervical = cervical_surveillance(
        parts.dating, "history.second_trimester_loss_or_spontaneous_preterm" in fids, kb=kb
    )
    parts.cerclage = cerclage_window(
        parts.dating, statuses.get("treat.history_indicated_cerclage") == "recommended", kb=kb
    )
    parts.events = events(
        today, parts.luteal, parts.pairs, parts.viability, parts.cervical, parts.cerclage, kb=kb
    )


def block(parts: PregnancyParts) -> dict[str, Any]:
    """The `pregnancy` block of rplcare.assessment/1."""

    def dump(m: Any) -> Any:
        return m.model_dump(mode="json", by_alias=True) if m is not None else None

    return {
        "dating": dump(parts.dating),
        "hcg": {
            "pairs": [dump(p) for p in parts.pairs],
            "alerts": [dump(a) for a in parts.alerts],
            "samples": [
                {
                    "at": s.at.isoformat(),
                    "value_iu_l": s.value_iu_l,
                    "evidence": f"results[{s.index}]",
                }
                for s in parts.samples
            ],
        },
        "progesterone": dump(parts.progesterone),
        "viability": dump(parts.viability),
        "luteal_support": dump(parts.luteal),
        "cervical_surveillance": dump(parts.cervical),
        "cerclage_window": dump(parts.cerclage),
        "events": [dump(e) for e in parts.events],
    }
