"""Early-pregnancy viability by the SRU 2013 criteria (Doubilet, NEJM) and NICE NG126.

All scans are read in date order and the latest decides; earlier scans only feed the
time-based rules ("no embryo with heartbeat ≥ 11 days after a sac with a yolk sac"). A finding
that was not recorded (`None`) never counts as normal and never satisfies a failure rule.
"""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.gestation import format_ga
from rplcare.pregnancy.inputs import ScanInput
from rplcare.util import empty_list

Status = Literal[
    "viable",
    "failure_diagnostic",
    "failure_suspicious",
    "too_early",
    "location_unknown",
    "ectopic",
    "not_assessable",
]


class Viability(BaseModel):
    """`rplcare.assessment/1` pregnancy.viability plus the criteria met and the rescan window."""

    status: Status
    rule: str
    next_step: str
    criteria: list[str] = Field(default_factory=empty_list)  # every SRU criterion met on the latest
    scan_date: date | None = None
    rescan_from: date | None = None
    rescan_by: date | None = None
    sources: list[str] = Field(default_factory=empty_list)
    warnings: list[str] = Field(default_factory=empty_list)
    evidence: list[int] = Field(default_factory=empty_list)  # ScanInput.index values


def _no_embryo_with_heartbeat(s: ScanInput) -> bool | None:
    """True when the scan shows no embryo with a heartbeat; None when that is not recorded."""
    if s.embryo is False or s.heartbeat is False:
        return True
    if s.embryo is True and s.heartbeat is True:
        return False
    if s.heartbeat is True:
        return False
    return None


def _time_rules(
    latest: ScanInput, earlier: list[ScanInput], warnings: list[str], kb: KnowledgeBase
) -> tuple[list[str], list[str]]:
    """SRU rules across scans: (diagnostic, suspicious) criteria met by the latest scan."""
    diagnostic: list[str] = []
    suspicious: list[str] = []
    if not earlier:
        return diagnostic, suspicious
    absent = _no_embryo_with_heartbeat(latest)
    if absent is None:
        warnings.append(kb.say("viability.warning.time_rules_unrecorded"))
        return diagnostic, suspicious
    if not absent:
        return diagnostic, suspicious
    d_without = int(kb.param("sru.no_embryo_after_sac_without_yolk_days"))
    d_with = int(kb.param("sru.no_embryo_after_sac_with_yolk_days"))
    s_min = int(kb.param("sru.suspicious_after_sac_min_days"))
    for e in earlier:
        if e.location != "intrauterine":
            continue
        gap = (latest.date - e.date).days
        if e.yolk_sac is True:
            key, diag_at, susp_max = "with_yolk", d_with, d_with - 1
        else:
            key, diag_at, susp_max = "without_yolk", d_without, d_without - 1
            if e.yolk_sac is None:
                key = "yolk_unrecorded"
        what = kb.say(f"viability.sac.{key}")
        if gap >= diag_at:
            diagnostic.append(
                kb.say(
                    "viability.criterion.no_embryo_after_sac",
                    gap=gap,
                    day=e.date,
                    what=what,
                    limit=f"≥ {diag_at}",
                )
            )
        elif s_min <= gap <= susp_max:
            suspicious.append(
                kb.say(
                    "viability.criterion.no_embryo_after_sac",
                    gap=gap,
                    day=e.date,
                    what=what,
                    limit=f"{s_min}–{susp_max}",
                )
            )
    return diagnostic, suspicious


def _window(latest: date, lo: str, hi: str | None, kb: KnowledgeBase) -> tuple[date, date | None]:
    start = latest + timedelta(days=int(kb.param(lo)))
    return start, (latest + timedelta(days=int(kb.param(hi)))) if hi else None


def assess_viability(
    scans: list[ScanInput],
    dating_ga_days_at: Callable[[date], int] | None,
    today: date,
    *,
    kb: KnowledgeBase,
) -> Viability:
    """Viability status from all scans, the latest deciding (SRU 2013, NICE NG126)."""
    if not scans:
        return Viability(
            status="not_assessable",
            rule=kb.say("viability.rule.no_scan"),
            next_step=kb.say("viability.next.no_scan"),
        )
    ordered = sorted(scans, key=lambda s: s.date)
    latest = ordered[-1]
    warnings: list[str] = []
    evidence = [s.index for s in ordered if s.index is not None]
    if any(s.date > today for s in ordered):
        warnings.append(kb.say("viability.warning.scan_after_today"))

    ectopic = [s for s in ordered if s.location == "ectopic"]
    if ectopic:
        if latest.location == "intrauterine":
            warnings.append(kb.say("viability.warning.heterotopic", day=ectopic[-1].date))
        return Viability(
            status="ectopic",
            rule=kb.say("viability.rule.ectopic", day=ectopic[-1].date),
            next_step=kb.say("viability.next.ectopic"),
            scan_date=ectopic[-1].date,
            sources=["nice-ng126"],
            warnings=warnings,
            evidence=evidence,
        )
    if latest.location != "intrauterine":
        key = "no_sac" if latest.location == "unknown" else "not_recorded"
        return Viability(
            status="location_unknown",
            rule=kb.say(f"viability.rule.location_{key}", day=latest.date),
            next_step=kb.say("viability.next.location_unknown"),
            scan_date=latest.date,
            sources=["nice-ng126"],
            warnings=warnings,
            evidence=evidence,
        )

    crl_lim = kb.param("sru.crl_no_heartbeat_mm")
    msd_lim = kb.param("sru.msd_no_embryo_mm")
    msd_susp = kb.param("sru.msd_suspicious_min_mm")
    diagnostic: list[str] = []
    suspicious: list[str] = []
    s = latest
    if s.embryo is True and s.heartbeat is False:
        if s.crl_mm is None:
            suspicious.append(kb.say("viability.criterion.crl_unrecorded"))
        elif s.crl_mm >= crl_lim:
            diagnostic.append(kb.say("viability.criterion.crl_diagnostic", crl=f"{s.crl_mm:g}"))
        else:
            suspicious.append(kb.say("viability.criterion.crl_suspicious", crl=f"{s.crl_mm:g}"))
    if s.embryo is False and s.msd_mm is not None:
        if s.msd_mm >= msd_lim:
            diagnostic.append(kb.say("viability.criterion.msd_diagnostic", msd=f"{s.msd_mm:g}"))
        elif s.msd_mm >= msd_susp:
            suspicious.append(
                kb.say(
                    "viability.criterion.msd_suspicious",
                    msd=f"{s.msd_mm:g}",
                    upper=f"{msd_lim - 1:g}",
                )
            )
    d_time, s_time = _time_rules(s, ordered[:-1], warnings, kb)
    diagnostic += d_time
    suspicious += s_time
    ga = dating_ga_days_at(s.date) if dating_ga_days_at is not None else None
    no_embryo_ga = int(kb.param("sru.no_embryo_after_lmp_days"))
    if s.embryo is False and ga is not None and ga >= no_embryo_ga:
        suspicious.append(kb.say("viability.criterion.no_embryo_after_lmp", ga=format_ga(ga)))
    if s.amnion_empty is True:
        suspicious.append(kb.say("viability.criterion.empty_amnion"))
    ys_lim = kb.param("sru.yolk_sac_enlarged_mm")
    if s.yolk_sac_diameter_mm is not None and s.yolk_sac_diameter_mm > ys_lim:
        suspicious.append(
            kb.say("viability.criterion.yolk_sac_enlarged", ys=f"{s.yolk_sac_diameter_mm:g}")
        )
    small = kb.param("sru.small_sac_difference_mm")
    if s.msd_mm is not None and s.crl_mm is not None and s.msd_mm - s.crl_mm < small:
        suspicious.append(
            kb.say(
                "viability.criterion.small_sac",
                msd=f"{s.msd_mm:g}",
                crl=f"{s.crl_mm:g}",
                diff=f"{s.msd_mm - s.crl_mm:g}",
            )
        )

    common = {
        "scan_date": s.date,
        "warnings": warnings,
        "evidence": evidence,
    }
    if diagnostic:
        start, _ = _window(s.date, "viability.nice_repeat_scan_min_days", None, kb)
        return Viability(
            status="failure_diagnostic",
            rule=kb.say("viability.rule.failure_diagnostic", criteria="; ".join(diagnostic)),
            next_step=kb.say("viability.next.failure_diagnostic", start=start),
            criteria=diagnostic + suspicious,
            rescan_from=start,
            sources=["sru2013", "nice-ng126"],
            **common,
        )
    if suspicious:
        start, end = _window(s.date, "sru.followup_min_days", "sru.followup_max_days", kb)
        return Viability(
            status="failure_suspicious",
            rule=kb.say("viability.rule.failure_suspicious", criteria="; ".join(suspicious)),
            next_step=kb.say("viability.next.failure_suspicious", start=start, end=end),
            criteria=suspicious,
            rescan_from=start,
            rescan_by=end,
            sources=["sru2013"],
            **common,
        )
    if s.heartbeat is True:
        return Viability(
            status="viable",
            rule=kb.say("viability.rule.viable"),
            next_step=kb.say("viability.next.viable"),
            sources=["sru2013", "nice-ng126"],
            **common,
        )
    if s.embryo is True:
        return Viability(
            status="not_assessable",
            rule=kb.say("viability.rule.heartbeat_unrecorded"),
            next_step=kb.say("viability.next.heartbeat_unrecorded"),
            sources=["sru2013"],
            **common,
        )
    if (ga is None or ga < no_embryo_ga) and (s.msd_mm is None or s.msd_mm < msd_susp):
        start, end = _window(
            s.date,
            "viability.too_early_rescan_min_days",
            "viability.too_early_rescan_max_days",
            kb,
        )
        if s.msd_mm is None:
            warnings.append(kb.say("viability.warning.msd_unrecorded"))
        if s.embryo is None:
            warnings.append(kb.say("viability.warning.embryo_unrecorded"))
        when = (
            kb.say("viability.when.no_dates")
            if ga is None
            else kb.say("viability.when.by_dates", ga=format_ga(ga))
        )
        return Viability(
            status="too_early",
            rule=kb.say("viability.rule.too_early", when=when),
            next_step=kb.say("viability.next.too_early", start=start, end=end),
            rescan_from=start,
            rescan_by=end,
            sources=["sru2013", "nice-ng126"],
            **common,
        )
    return Viability(
        status="not_assessable",
        rule=kb.say("viability.rule.incomplete"),
        next_step=kb.say("viability.next.incomplete"),
        sources=["sru2013"],
        **common,
    )
