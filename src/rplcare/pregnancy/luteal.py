"""Luteal-support schedule under the selected policy, plus the cervix windows.

`guideline` (default) follows NICE NG126 for bleeding and ART practice for ART; `article`
reproduces the source articles' clinic protocol and is always labelled expert opinion. Neither
policy treats a pregnancy of unknown location, an ectopic or a diagnosed failure, and a stop
date is never moved earlier than what an ART regimen or the NICE bleeding rule requires.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.dating import Dating
from rplcare.pregnancy.gestation import format_ga

BLEEDING = "treat.vaginal_progesterone_bleeding"
ART = "treat.luteal_phase_support_art"

Policy = Literal["guideline", "article"]
Label = Literal["guideline", "practice, not evidence", "expert opinion without guideline support"]


class LutealSupport(BaseModel):
    """`rplcare.assessment/1` pregnancy.luteal_support."""

    indicated: bool
    indication: str | None
    regimen: str | None
    start: date | None = None
    stop_ga: str | None
    stop_date: date | None
    policy: Policy
    why: str
    label: Label | None
    sources: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def not_indicated(
        cls, policy: Policy, why: str, sources: list[str], warnings: list[str] | None = None
    ) -> LutealSupport:
        return cls(
            indicated=False,
            indication=None,
            regimen=None,
            stop_ga=None,
            stop_date=None,
            policy=policy,
            label=None,
            why=why,
            sources=sources,
            warnings=warnings or [],
        )


class Window(BaseModel):
    """A gestational window with its dates (None without dating)."""

    kind: str
    start_ga: str
    end_ga: str
    start: date | None
    end: date | None
    text: str
    verified: bool
    sources: list[str]
    note: str | None = None


def _p(kb: KnowledgeBase, name: str) -> int:
    return int(kb.param(name))


def _on(dating: Dating | None, ga_days: int) -> date | None:
    return dating.lmp_equivalent + timedelta(days=ga_days) if dating is not None else None


def schedule(
    indication: str | None,
    policy: Policy,
    dating: Dating | None,
    is_art: bool,
    art_requires_progesterone: bool,
    has_rpl: bool,
    last_loss_ga_days: int | None,
    any_second_trimester_loss: bool,
    not_indicated_reason: str | None,
    today: date | None = None,
    *,
    kb: KnowledgeBase,
) -> LutealSupport:
    """Whether luteal support is indicated, its regimen and when it stops under `policy`.

    `today` (optional) is the start date for a treatment that starts now (bleeding, article).
    """
    if policy not in ("guideline", "article"):
        raise ValueError(f"luteal policy {policy!r} is not guideline or article")
    warnings: list[str] = []
    if not_indicated_reason:
        return LutealSupport.not_indicated(
            policy, f"not indicated: {not_indicated_reason}", ["nice-ng126"]
        )
    if indication not in (None, BLEEDING, ART):
        raise ValueError(f"unknown luteal indication {indication!r}")
    if indication is None and is_art and art_requires_progesterone:
        indication = ART
        warnings.append("ART regimen that needs progesterone: ART luteal support assumed")
    nice_regimen = str(kb.param("luteal.nice_regimen"))

    # Candidate stops: (GA days, label, reason, sources); the latest one wins.
    stops: list[tuple[int, Label, str, list[str]]] = []
    if indication == BLEEDING:
        stops.append(
            (
                _p(kb, "luteal.nice_stop_ga_days"),
                "guideline",
                "NICE NG126 1.5.2–1.5.3: vaginal bleeding with a scan-confirmed intrauterine "
                "pregnancy and a previous miscarriage; continue to 16 completed weeks once a "
                "heartbeat is seen (it may start before)",
                ["nice-ng126", "prism2019"],
            )
        )
    if indication == ART or (is_art and art_requires_progesterone):
        stops.append(
            (
                _p(kb, "luteal.art_default_stop_ga_days"),
                "practice, not evidence",
                "ART: evidence supports luteal support at least until the positive pregnancy test "
                "after fresh IVF (Liu 2012; Watters 2020); the clinic default of 10+0 is practice "
                "(Di Guardo 2020 survey), not evidence"
                + (
                    "; after an artificial-cycle frozen or donor-egg transfer progesterone is part "
                    "of the regimen and must not be stopped early"
                    if art_requires_progesterone
                    else ""
                ),
                ["lps-duration", "lps-practice"]
                + (["fet-lps"] if art_requires_progesterone else []),
            )
        )

    if policy == "article" and has_rpl:
        if any_second_trimester_loss:
            ga = _p(kb, "luteal.article_second_trimester_stop_ga_days")
            rule = f"after a second-trimester loss, stop at {format_ga(ga)}"
        elif last_loss_ga_days is not None:
            raw = last_loss_ga_days + _p(kb, "luteal.article_after_last_loss_days")
            lo, hi = (
                _p(kb, "luteal.article_min_stop_ga_days"),
                _p(kb, "luteal.article_max_stop_ga_days"),
            )
            ga = min(max(raw, lo), hi)
            rule = (
                f"last loss at {format_ga(last_loss_ga_days)} + 2 weeks = {format_ga(raw)}, "
                f"kept within {format_ga(lo)}–{format_ga(hi)}: stop at {format_ga(ga)}"
            )
        else:
            ga = _p(kb, "luteal.article_max_stop_ga_days")
            rule = f"GA of the last loss unknown: the protocol's latest stop {format_ga(ga)} used"
            warnings.append("gestational age of the last loss not recorded")
        stops.append(
            (
                ga,
                "expert opinion without guideline support",
                "source articles' clinic protocol (expert opinion without guideline support; "
                f"PROMISE found no benefit without bleeding): luteal support for every pregnancy "
                f"after RPL; {rule}",
                ["source-articles", "promise2015"],
            )
        )
    if indication == ART:
        regimen = "the fertility clinic's luteal-support regimen (progesterone as prescribed)"
    elif indication == BLEEDING:
        regimen = nice_regimen
    elif policy == "article" and has_rpl:
        regimen = nice_regimen + (
            " (the NICE preparation; the articles' dydrogesterone is not the preferred progestogen)"
        )
    else:
        why = (
            "no guideline indication: luteal support is for vaginal bleeding with a previous "
            "miscarriage (NICE NG126) or part of an ART regimen; progesterone without bleeding "
            "did not help (PROMISE)"
        )
        if policy == "article" and not has_rpl:
            why = "the article policy applies to women with RPL only; " + why
        return LutealSupport.not_indicated(policy, why, ["nice-ng126", "promise2015"], warnings)

    ga, label, _, _ = max(stops, key=lambda s: s[0])
    why = "; ".join(r for _, _, r, _ in stops)
    if len(stops) > 1:
        why += f". The latest stop applies: {format_ga(ga)}"
    sources = [sid for _, _, _, ids in stops for sid in ids]
    stop_date = _on(dating, ga)
    if dating is None:
        warnings.append("no dating: the stop date cannot be computed")
    elif today is not None and stop_date is not None and stop_date <= today:
        warnings.append(f"the stop point {format_ga(ga)} ({stop_date}) has been reached")
    start = today if indication == BLEEDING or policy == "article" else None
    return LutealSupport(
        indicated=True,
        indication=indication,
        regimen=regimen,
        start=start,
        stop_ga=format_ga(ga),
        stop_date=stop_date,
        policy=policy,
        why=why,
        label=label,
        sources=list(dict.fromkeys(sources)),
        warnings=warnings,
    )


def cervical_surveillance(
    dating: Dating | None,
    any_second_trimester_loss_or_spontaneous_preterm: bool,
    *,
    kb: KnowledgeBase,
) -> Window | None:
    """Serial transvaginal cervical length 16+0–24+0 after a spontaneous second-trimester loss
    or preterm birth (RCOG GTG 75, NICE NG25); None when not indicated."""
    if not any_second_trimester_loss_or_spontaneous_preterm:
        return None
    lo, hi = _p(kb, "cervix.surveillance_start_ga_days"), _p(kb, "cervix.surveillance_end_ga_days")
    short = kb.param("cervix.surveillance_short_mm")
    return Window(
        kind="cervical_length",
        start_ga=format_ga(lo),
        end_ga=format_ga(hi),
        start=_on(dating, lo),
        end=_on(dating, hi),
        text=(
            f"serial transvaginal cervical length {format_ga(lo)}–{format_ga(hi)}; if < {short:g} "
            "mm offer vaginal progesterone or cerclage (NICE NG25 1.2.1)"
        ),
        verified=True,
        sources=["rcog-gtg75", "nice-ng25"],
    )


def cerclage_window(dating: Dating | None, indicated: bool, *, kb: KnowledgeBase) -> Window | None:
    """History-indicated cerclage window 12+0–14+0 (timing unverified); None when not indicated."""
    if not indicated:
        return None
    lo, hi = _p(kb, "cerclage.history_start_ga_days"), _p(kb, "cerclage.history_end_ga_days")
    return Window(
        kind="cerclage",
        start_ga=format_ga(lo),
        end_ga=format_ga(hi),
        start=_on(dating, lo),
        end=_on(dating, hi),
        text=f"history-indicated cerclage, usually at {format_ga(lo)}–{format_ga(hi)}",
        verified=False,
        sources=["rcog-gtg75", "cerclage-timing-secondary"],
        note="timing found only in a secondary summary; the RCOG GTG 75 wording was not seen",
    )
