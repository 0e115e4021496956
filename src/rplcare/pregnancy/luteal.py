"""Luteal-support schedule under the selected policy, plus the cervix windows.

`guideline` (default) follows NICE NG126 for bleeding and ART practice for ART; `article`
reproduces the source articles' clinic protocol and is always labelled expert opinion. Neither
policy treats a pregnancy of unknown location, an ectopic or a diagnosed failure, and a stop
date is never moved earlier than what an ART regimen or the NICE bleeding rule requires.
"""

from datetime import date, timedelta
from typing import Literal, Self

from pydantic import BaseModel, Field

from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.dating import Dating
from rplcare.pregnancy.gestation import format_ga
from rplcare.util import empty_list

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
    sources: list[str] = Field(default_factory=empty_list)
    warnings: list[str] = Field(default_factory=empty_list)

    @classmethod
    def not_indicated(
        cls, policy: Policy, why: str, sources: list[str], warnings: list[str] | None = None
    ) -> Self:
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
            policy, kb.say("luteal.not_indicated", reason=not_indicated_reason), ["nice-ng126"]
        )
    if indication not in (None, BLEEDING, ART):
        raise ValueError(f"unknown luteal indication {indication!r}")
    if indication is None and is_art and art_requires_progesterone:
        indication = ART
        warnings.append(kb.say("luteal.warning.art_assumed"))
    nice_regimen = str(kb.param("luteal.nice_regimen"))

    # Candidate stops: (GA days, label, reason, sources); the latest one wins.
    stops: list[tuple[int, Label, str, list[str]]] = []
    if indication == BLEEDING:
        stops.append(
            (
                _p(kb, "luteal.nice_stop_ga_days"),
                "guideline",
                kb.say("luteal.stop.bleeding"),
                ["nice-ng126", "prism2019"],
            )
        )
    if indication == ART or (is_art and art_requires_progesterone):
        stops.append(
            (
                _p(kb, "luteal.art_default_stop_ga_days"),
                "practice, not evidence",
                kb.say(
                    "luteal.stop.art_integral" if art_requires_progesterone else "luteal.stop.art"
                ),
                ["lps-duration", "lps-practice"]
                + (["fet-lps"] if art_requires_progesterone else []),
            )
        )

    if policy == "article" and has_rpl:
        if any_second_trimester_loss:
            ga = _p(kb, "luteal.article_second_trimester_stop_ga_days")
            rule = kb.say("luteal.article.second_trimester", stop=format_ga(ga))
        elif last_loss_ga_days is not None:
            raw = last_loss_ga_days + _p(kb, "luteal.article_after_last_loss_days")
            lo, hi = (
                _p(kb, "luteal.article_min_stop_ga_days"),
                _p(kb, "luteal.article_max_stop_ga_days"),
            )
            ga = min(max(raw, lo), hi)
            rule = kb.say(
                "luteal.article.after_last_loss",
                last=format_ga(last_loss_ga_days),
                raw=format_ga(raw),
                stop=format_ga(ga),
            )
        else:
            ga = _p(kb, "luteal.article_max_stop_ga_days")
            rule = kb.say("luteal.article.last_loss_unknown")
            warnings.append(kb.say("luteal.warning.last_loss_ga_unrecorded"))
        stops.append(
            (
                ga,
                "expert opinion without guideline support",
                kb.say("luteal.stop.article", rule=rule),
                ["source-articles", "promise2015"],
            )
        )
    if indication == ART:
        regimen = kb.say("luteal.regimen.art")
    elif indication == BLEEDING:
        regimen = nice_regimen
    elif policy == "article" and has_rpl:
        regimen = kb.say("luteal.regimen.article", regimen=nice_regimen)
    else:
        why = kb.say("luteal.no_indication")
        if policy == "article" and not has_rpl:
            why = kb.say("luteal.no_indication_article_without_rpl", why=why)
        return LutealSupport.not_indicated(policy, why, ["nice-ng126", "promise2015"], warnings)

    ga, label, _, _ = max(stops, key=lambda s: s[0])
    why = "; ".join(r for _, _, r, _ in stops)
    if len(stops) > 1:
        why += kb.say("luteal.latest_stop", stop=format_ga(ga))
    sources = [sid for _, _, _, ids in stops for sid in ids]
    stop_date = _on(dating, ga)
    if dating is None:
        warnings.append(kb.say("luteal.warning.no_dating"))
    elif today is not None and stop_date is not None and stop_date <= today:
        warnings.append(kb.say("luteal.warning.stop_reached", stop=format_ga(ga), day=stop_date))
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
    return Window(
        kind="cervical_length",
        start_ga=format_ga(lo),
        end_ga=format_ga(hi),
        start=_on(dating, lo),
        end=_on(dating, hi),
        text=kb.say("luteal.window.cervical_length"),
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
        text=kb.say("luteal.window.cerclage"),
        verified=False,
        sources=["rcog-gtg75", "cerclage-timing-secondary"],
        note=kb.say("luteal.window.cerclage_note"),
    )
