"""Early-pregnancy viability by the SRU 2013 criteria (Doubilet, NEJM) and NICE NG126.

All scans are read in date order and the latest decides; earlier scans only feed the
time-based rules ("no embryo with heartbeat ≥ 11 days after a sac with a yolk sac"). A finding
that was not recorded (`None`) never counts as normal and never satisfies a failure rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.gestation import format_ga
from rplcare.pregnancy.inputs import ScanInput

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
    criteria: list[str] = Field(default_factory=list)  # every SRU criterion met on the latest
    scan_date: date | None = None
    rescan_from: date | None = None
    rescan_by: date | None = None
    sources: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    evidence: list[int] = Field(default_factory=list)  # ScanInput.index values


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
        warnings.append(
            "embryo or heartbeat not recorded on the latest scan: the time-based "
            "SRU rules cannot be applied"
        )
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
            what, diag_at, susp_max = "with a yolk sac", d_with, d_with - 1
        else:
            what, diag_at, susp_max = "without a yolk sac", d_without, d_without - 1
            if e.yolk_sac is None:
                what = "whose yolk sac was not recorded (read as without)"
        if gap >= diag_at:
            diagnostic.append(
                f"no embryo with heartbeat {gap} days after a scan ({e.date}) showing a sac "
                f"{what} (≥ {diag_at} days)"
            )
        elif s_min <= gap <= susp_max:
            suspicious.append(
                f"no embryo with heartbeat {gap} days after a scan ({e.date}) showing a sac "
                f"{what} ({s_min}–{susp_max} days)"
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
            rule="no scan recorded",
            next_step="transvaginal ultrasound when the pregnancy is to be located and dated",
        )
    ordered = sorted(scans, key=lambda s: s.date)
    latest = ordered[-1]
    warnings: list[str] = []
    evidence = [s.index for s in ordered if s.index is not None]
    if any(s.date > today for s in ordered):
        warnings.append("a scan is dated after the assessment date")

    ectopic = [s for s in ordered if s.location == "ectopic"]
    if ectopic:
        if latest.location == "intrauterine":
            warnings.append(
                f"an earlier scan ({ectopic[-1].date}) reported an ectopic pregnancy and the "
                "latest an intrauterine one: consider a heterotopic pregnancy"
            )
        return Viability(
            status="ectopic",
            rule=f"the scan of {ectopic[-1].date} reports an ectopic pregnancy",
            next_step="urgent gynaecology care for ectopic pregnancy (NICE NG126)",
            scan_date=ectopic[-1].date,
            sources=["nice-ng126"],
            warnings=warnings,
            evidence=evidence,
        )
    if latest.location != "intrauterine":
        rule = (
            "no intrauterine sac seen on the latest scan"
            if latest.location == "unknown"
            else "location not recorded on the latest scan"
        )
        return Viability(
            status="location_unknown",
            rule=f"{rule} ({latest.date}): pregnancy of unknown location",
            next_step=(
                "manage as a pregnancy of unknown location: two serum hCG 48 h apart and "
                "clinical review; same-day review if pain (NICE NG126)"
            ),
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
            suspicious.append(
                "embryo without heartbeat, CRL not recorded (≥ 7 mm would be diagnostic)"
            )
        elif s.crl_mm >= crl_lim:
            diagnostic.append(f"CRL {s.crl_mm:g} mm (≥ {crl_lim:g}) and no heartbeat")
        else:
            suspicious.append(f"CRL {s.crl_mm:g} mm (< {crl_lim:g}) and no heartbeat")
    if s.embryo is False and s.msd_mm is not None:
        if s.msd_mm >= msd_lim:
            diagnostic.append(f"MSD {s.msd_mm:g} mm (≥ {msd_lim:g}) and no embryo")
        elif s.msd_mm >= msd_susp:
            suspicious.append(f"MSD {s.msd_mm:g} mm ({msd_susp:g}–{msd_lim - 1:g}) and no embryo")
    d_time, s_time = _time_rules(s, ordered[:-1], warnings, kb)
    diagnostic += d_time
    suspicious += s_time
    ga = dating_ga_days_at(s.date) if dating_ga_days_at is not None else None
    no_embryo_ga = int(kb.param("sru.no_embryo_after_lmp_days"))
    if s.embryo is False and ga is not None and ga >= no_embryo_ga:
        suspicious.append(f"no embryo at {format_ga(ga)} (≥ 6 weeks after LMP)")
    if s.amnion_empty is True:
        suspicious.append("empty amnion (amnion next to the yolk sac, no embryo)")
    ys_lim = kb.param("sru.yolk_sac_enlarged_mm")
    if s.yolk_sac_diameter_mm is not None and s.yolk_sac_diameter_mm > ys_lim:
        suspicious.append(f"enlarged yolk sac {s.yolk_sac_diameter_mm:g} mm (> {ys_lim:g})")
    small = kb.param("sru.small_sac_difference_mm")
    if s.msd_mm is not None and s.crl_mm is not None and s.msd_mm - s.crl_mm < small:
        suspicious.append(
            f"small sac for the embryo: MSD {s.msd_mm:g} − CRL {s.crl_mm:g} = "
            f"{s.msd_mm - s.crl_mm:g} mm (< {small:g})"
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
            rule="diagnostic of pregnancy failure (SRU 2013): " + "; ".join(diagnostic),
            next_step=(
                "before any intervention, get a second opinion and/or repeat the scan at least "
                f"7 days later (from {start}) (NICE NG126)"
            ),
            criteria=diagnostic + suspicious,
            rescan_from=start,
            sources=["sru2013", "nice-ng126"],
            **common,
        )
    if suspicious:
        start, end = _window(s.date, "sru.followup_min_days", "sru.followup_max_days", kb)
        return Viability(
            status="failure_suspicious",
            rule="suspicious for, not diagnostic of, pregnancy failure (SRU 2013): "
            + "; ".join(suspicious),
            next_step=f"rescan in 7–10 days ({start} to {end}); no intervention on this scan",
            criteria=suspicious,
            rescan_from=start,
            rescan_by=end,
            sources=["sru2013"],
            **common,
        )
    if s.heartbeat is True:
        return Viability(
            status="viable",
            rule="heartbeat seen on the latest intrauterine scan and no SRU failure criterion",
            next_step="continue routine early-pregnancy care",
            sources=["sru2013", "nice-ng126"],
            **common,
        )
    if s.embryo is True:
        return Viability(
            status="not_assessable",
            rule="embryo seen but the heartbeat was not recorded on the latest scan",
            next_step="record the heartbeat and CRL (review the scan report)",
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
            warnings.append("mean sac diameter not recorded")
        if s.embryo is None:
            warnings.append("whether an embryo was seen is not recorded")
        when = "no dates" if ga is None else f"{format_ga(ga)} by dates"
        return Viability(
            status="too_early",
            rule=f"intrauterine sac without an embryo, MSD < {msd_susp:g} mm, {when}",
            next_step=f"rescan in 7–14 days ({start} to {end})",
            rescan_from=start,
            rescan_by=end,
            sources=["sru2013", "nice-ng126"],
            **common,
        )
    return Viability(
        status="not_assessable",
        rule="the latest scan lacks the findings the SRU criteria need (embryo, MSD)",
        next_step="review the scan report; rescan if the findings are missing",
        sources=["sru2013"],
        **common,
    )
