"""Gestational dating: ART dates, LMP (Naegele + cycle length) and CRL redating (ACOG CO 700).

All gestational ages are whole days counted from the (equivalent) LMP, so every later rule
(16+0 stop dates, scan windows, SRU "6 weeks after LMP") works from one anchor date.
"""

import math
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.gestation import format_ga
from rplcare.pregnancy.inputs import ScanInput
from rplcare.util import empty_list

Basis = Literal["art", "crl", "lmp"]


class Dating(BaseModel):
    """`rplcare.assessment/1` pregnancy.dating (basis, ga, ga_days, edd) plus provenance."""

    basis: Basis
    ga: str
    ga_days: int
    edd: date
    why: str
    lmp_equivalent: date
    crl_ga_days: float | None = None  # unrounded CRL estimate of the scan used
    crl_scan_date: date | None = None
    discrepancy_days: int | None = None  # CRL GA minus dates GA at that scan (whole days)
    sources: list[str] = Field(default_factory=empty_list)
    warnings: list[str] = Field(default_factory=empty_list)


CrlStandard = Literal["bmus_robinson", "intergrowth"]


def crl_standard(kb: KnowledgeBase, standard: str | None = None) -> CrlStandard:
    """The CRL standard in use: `dating.crl_standard` unless one is named."""
    chosen = standard if standard is not None else kb.param("dating.crl_standard")
    if chosen not in ("bmus_robinson", "intergrowth"):
        raise ValueError(kb.say("dating.error.crl_standard_unknown", standard=chosen))
    return "bmus_robinson" if chosen == "bmus_robinson" else "intergrowth"


def crl_range_mm(kb: KnowledgeBase, standard: str | None = None) -> tuple[float, float]:
    """(lowest, highest) CRL of the standard; the lowest is exclusive for BMUS-Robinson (> 0)."""
    if crl_standard(kb, standard) == "bmus_robinson":
        return 0.0, float(kb.param("dating.robinson_max_crl_mm"))
    return (
        float(kb.param("dating.intergrowth_min_crl_mm")),
        float(kb.param("dating.intergrowth_max_crl_mm")),
    )


def crl_in_range(crl_mm: float, *, kb: KnowledgeBase, standard: str | None = None) -> bool:
    lo, hi = crl_range_mm(kb, standard)
    if not math.isfinite(crl_mm) or crl_mm <= 0 or crl_mm > hi:
        return False
    return crl_mm >= lo


def crl_to_ga_days(crl_mm: float, *, kb: KnowledgeBase, standard: str | None = None) -> float:
    """GA in days for a CRL by ONE standard over its whole range (issue 9 §5: no jump where
    two formulas would meet): BMUS-Robinson (the default, to 84 mm) or INTERGROWTH-21st
    (15 to 95 mm). A CRL outside the chosen standard's range is a ValueError.
    """
    chosen = crl_standard(kb, standard)
    if not math.isfinite(crl_mm) or crl_mm <= 0:
        raise ValueError(kb.say("dating.error.crl_not_positive", crl=repr(crl_mm)))
    if crl_mm > kb.param("dating.intergrowth_max_crl_mm"):
        raise ValueError(kb.say("dating.error.crl_too_long", crl=crl_mm))
    if not crl_in_range(crl_mm, kb=kb, standard=chosen):
        lo, hi = crl_range_mm(kb, chosen)
        raise ValueError(
            kb.say(
                "dating.error.crl_outside_standard",
                crl=f"{crl_mm:g}",
                lo=f"{lo:g}",
                hi=f"{hi:g}",
                formula=crl_formula_name(crl_mm, kb=kb, standard=chosen),
            )
        )
    if chosen == "bmus_robinson":
        return float(kb.param("dating.robinson_bmus_coef")) * math.sqrt(
            kb.param("dating.robinson_bmus_scale") * crl_mm
        ) + float(kb.param("dating.robinson_bmus_const"))
    return float(
        kb.param("dating.intergrowth_const")
        + kb.param("dating.intergrowth_sqrt_coef") * math.sqrt(crl_mm)
        + kb.param("dating.intergrowth_lin_coef") * crl_mm
    )


def crl_formula_name(crl_mm: float = 0.0, *, kb: KnowledgeBase, standard: str | None = None) -> str:
    """The name of the CRL standard in use (the CRL no longer selects the formula)."""
    if crl_standard(kb, standard) == "bmus_robinson":
        return kb.say("dating.formula.robinson")
    return kb.say("dating.formula.intergrowth")


def ga_on(dating: Dating, day: date) -> int:
    """Gestational age in whole days on `day` under this dating."""
    return (day - dating.lmp_equivalent).days


def _build(
    kb: KnowledgeBase,
    today: date,
    basis: Basis,
    lmp_eq: date,
    why: str,
    sources: list[str],
    warnings: list[str],
    **extra: object,
) -> Dating:
    ga_days = (today - lmp_eq).days
    if ga_days < 0:
        warnings.append(kb.say("dating.warning.before_start", today=today))
    edd = lmp_eq + timedelta(days=int(kb.param("dating.naegele_days")))
    return Dating(
        basis=basis,
        ga=format_ga(ga_days) if ga_days >= 0 else f"-{format_ga(-ga_days)}",
        ga_days=ga_days,
        edd=edd,
        why=why,
        lmp_equivalent=lmp_eq,
        sources=sources,
        warnings=warnings,
        **extra,
    )


def date_pregnancy(
    today: date,
    lmp: date | None,
    cycle_length_days: int | None,
    transfer_date: date | None,
    embryo_age_days: int | None,
    scans: list[ScanInput],
    *,
    kb: KnowledgeBase,
) -> Dating | None:
    """Date the pregnancy: ART dates win; else LMP, redated to the first CRL when it differs
    beyond the ACOG CO 700 limits; else the first CRL. None when nothing dates it."""
    # never date by the CRL of an embryo without a heartbeat (issue 9 §5): a failed or
    # failing embryo's length does not tell the gestation
    measured = sorted(
        (s for s in scans if s.crl_mm is not None and s.crl_mm > 0 and s.heartbeat is not False),
        key=lambda s: s.date,
    )
    # one CRL standard over its own range (issue 9 §5): a CRL outside it is not used, and
    # the dating says so rather than switching formula
    standard = crl_standard(kb)
    crl_scans = [s for s in measured if crl_in_range(s.crl_mm or 0.0, kb=kb, standard=standard)]
    lo, hi = crl_range_mm(kb, standard)
    ignored = [
        kb.say(
            "dating.warning.crl_outside_standard",
            crl=f"{s.crl_mm:g}",
            day=s.date,
            lo=f"{lo:g}",
            hi=f"{hi:g}",
            formula=crl_formula_name(kb=kb, standard=standard),
        )
        for s in measured
        if not crl_in_range(s.crl_mm or 0.0, kb=kb, standard=standard)
    ]
    crl_scans, unrecorded = _heartbeat_rule(
        crl_scans, lmp, transfer_date is not None and embryo_age_days is not None, kb
    )
    dating = _date_pregnancy(
        today, lmp, cycle_length_days, transfer_date, embryo_age_days, crl_scans, kb=kb
    )
    extra = [*unrecorded, *ignored]
    if dating is None or not extra:
        return dating
    return dating.model_copy(update={"warnings": [*dating.warnings, *extra]})


def _heartbeat_rule(
    crl_scans: list[ScanInput], lmp: date | None, art: bool, kb: KnowledgeBase
) -> tuple[list[ScanInput], list[str]]:
    """The CRL scans that may date the pregnancy, and the warnings (each `PATH: message`)
    for a CRL whose heartbeat is not recorded (`dating.crl_needs_heartbeat`): such a CRL does
    not redate an LMP; with no LMP it dates only when no scan with a heartbeat does, as
    provisional. ART dates never move, so their CRL check is left as it is."""
    if art or not kb.param("dating.crl_needs_heartbeat"):
        return crl_scans, []
    seen = [s for s in crl_scans if s.heartbeat is True]
    if lmp is None and not seen and crl_scans:
        first = crl_scans[0]
        msg = kb.say(
            "dating.warning.crl_heartbeat_unrecorded_only", crl=f"{first.crl_mm:g}", day=first.date
        )
        return crl_scans, [_at(first, msg)]
    notes = [
        _at(s, kb.say("dating.warning.crl_heartbeat_unrecorded", crl=f"{s.crl_mm:g}", day=s.date))
        for s in crl_scans
        if s.heartbeat is None
    ]
    return seen, notes


def _at(scan: ScanInput, message: str) -> str:
    """A dating warning as `PATH: message`, the path naming the scan's heartbeat field."""
    if scan.index is None:
        return message
    return f"current_pregnancy.scans[{scan.index}].heartbeat: {message}"


def _date_pregnancy(
    today: date,
    lmp: date | None,
    cycle_length_days: int | None,
    transfer_date: date | None,
    embryo_age_days: int | None,
    crl_scans: list[ScanInput],
    *,
    kb: KnowledgeBase,
) -> Dating | None:
    """`date_pregnancy` on the usable CRL scans, already sorted by date."""
    first = crl_scans[0] if crl_scans else None
    first_ga = crl_to_ga_days(first.crl_mm, kb=kb) if first and first.crl_mm else None

    if transfer_date is not None and embryo_age_days is not None:
        lo, hi = kb.param("dating.art_embryo_age_range_days")
        if not lo <= embryo_age_days <= hi:
            raise ValueError(f"embryo age {embryo_age_days} days is not {lo}-{hi}")
        base = int(kb.param("dating.art_ga_at_transfer_base_days"))
        lmp_eq = transfer_date - timedelta(days=base + embryo_age_days)
        edd_offset = int(kb.param("dating.art_edd_base_days")) - embryo_age_days
        warnings: list[str] = []
        extra: dict[str, object] = {}
        if first is not None and first_ga is not None:
            diff = round(first_ga) - (first.date - lmp_eq).days
            extra = {
                "crl_ga_days": round(first_ga, 2),
                "crl_scan_date": first.date,
                "discrepancy_days": diff,
            }
            if abs(diff) > kb.param("dating.redate_before_9w_days"):
                warnings.append(kb.say("dating.warning.art_crl", day=first.date, diff=f"{diff:+d}"))
        why = kb.say(
            "dating.why.art",
            age=embryo_age_days,
            transfer=transfer_date,
            offset=edd_offset,
            ga=format_ga(base + embryo_age_days),
        )
        return _build(kb, today, "art", lmp_eq, why, ["acog-co700"], warnings, **extra)

    if lmp is not None:
        ref = int(kb.param("dating.reference_cycle_days"))
        shift = (cycle_length_days - ref) if cycle_length_days is not None else 0
        lmp_eq = lmp + timedelta(days=shift)
        cyc = (
            kb.say("dating.cycle.shifted", cycle=cycle_length_days, shift=f"{shift:+d}")
            if cycle_length_days is not None and shift
            else kb.say("dating.cycle.assumed")
            if cycle_length_days is None
            else kb.say("dating.cycle.reference")
        )
        lmp_why = kb.say("dating.why.lmp", lmp=lmp, cycle=cyc)
        if first is None or first_ga is None:
            return _build(
                kb,
                today,
                "lmp",
                lmp_eq,
                kb.say("dating.why.lmp_no_crl", why=lmp_why),
                ["naegele"],
                [],
            )
        lmp_ga_at_scan = (first.date - lmp_eq).days
        crl_ga = round(first_ga)
        diff = crl_ga - lmp_ga_at_scan
        extra = {
            "crl_ga_days": round(first_ga, 2),
            "crl_scan_date": first.date,
            "discrepancy_days": diff,
        }
        scan_txt = kb.say(
            "dating.scan_vs_lmp",
            crl=f"{first.crl_mm:g}",
            day=first.date,
            crl_ga=format_ga(crl_ga),
            formula=crl_formula_name(first.crl_mm or 0, kb=kb),
            lmp_ga=format_ga(lmp_ga_at_scan),
            diff=f"{diff:+d}",
        )
        if lmp_ga_at_scan >= kb.param("dating.crl_redating_max_ga_days"):
            return _build(
                kb,
                today,
                "lmp",
                lmp_eq,
                kb.say("dating.why.crl_too_late", why=lmp_why, scan=scan_txt),
                ["naegele", "acog-co700"],
                [kb.say("dating.warning.crl_too_late")],
                **extra,
            )
        before_9w = lmp_ga_at_scan < kb.param("dating.redate_band_9w_ga_days")
        limit = kb.param(
            "dating.redate_before_9w_days" if before_9w else "dating.redate_9_to_14w_days"
        )
        band = kb.say("dating.band.before_9w" if before_9w else "dating.band.9_to_14w")
        if abs(diff) > limit:
            lmp_eq = first.date - timedelta(days=crl_ga)
            why = kb.say("dating.why.redated", band=band, limit=f"{limit:g}", scan=scan_txt)
            return _build(
                kb,
                today,
                "crl",
                lmp_eq,
                why,
                ["acog-co700", _crl_source(first.crl_mm, kb)],
                [],
                **extra,
            )
        why = kb.say("dating.why.kept", why=lmp_why, scan=scan_txt, band=band, limit=f"{limit:g}")
        return _build(kb, today, "lmp", lmp_eq, why, ["naegele", "acog-co700"], [], **extra)

    if first is not None and first_ga is not None:
        crl_ga = round(first_ga)
        lmp_eq = first.date - timedelta(days=crl_ga)
        why = kb.say(
            "dating.why.crl_only",
            crl=f"{first.crl_mm:g}",
            day=first.date,
            crl_ga=format_ga(crl_ga),
            formula=crl_formula_name(first.crl_mm or 0, kb=kb),
        )
        return _build(
            kb,
            today,
            "crl",
            lmp_eq,
            why,
            [_crl_source(first.crl_mm, kb)],
            [],
            crl_ga_days=round(first_ga, 2),
            crl_scan_date=first.date,
        )
    return None


def _crl_source(crl_mm: float | None, kb: KnowledgeBase) -> str:
    """The source of the CRL standard in use (one standard, whatever the CRL)."""
    return "bmus2009" if crl_standard(kb) == "bmus_robinson" else "intergrowth2014"
