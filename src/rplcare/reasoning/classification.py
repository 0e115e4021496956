"""RPL classification: which past pregnancies count as losses under each definition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rplcare.case.model import Case, PastPregnancy
from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.gestation import parse_ga

Definition = Literal["eshre2022", "asrm2012", "rcog2023"]
DEFINITIONS: tuple[str, ...] = ("eshre2022", "asrm2012", "rcog2023")


@dataclass(frozen=True)
class Classification:
    """Whether the losses meet a definition of recurrent pregnancy loss, and why."""

    definition: str
    rpl: bool
    losses_counted: int
    first_trimester_losses: int
    second_trimester_losses: int
    type: Literal["primary", "secondary"] | None
    care_tier: int | None
    counted: tuple[int, ...]  # indices into case.pregnancies
    miscarriages: int  # clinical losses < 24+0 (for prognosis)
    any_second_trimester_loss: bool
    rcog_second_trimester_scope: bool

    def to_json(self) -> dict[str, object]:
        return {
            "definition": self.definition,
            "rpl": self.rpl,
            "losses_counted": self.losses_counted,
            "first_trimester_losses": self.first_trimester_losses,
            "second_trimester_losses": self.second_trimester_losses,
            "type": self.type,
            "care_tier": self.care_tier,
            "counted_pregnancies": [f"pregnancies[{i}]" for i in self.counted],
        }


def is_early_loss(p: PastPregnancy, kb: KnowledgeBase) -> bool:
    """A miscarriage or biochemical loss before 24+0 (what every definition starts from).

    A miscarriage whose record gives no GA (`ga_unknown`, e.g. an EHR outcome code) is a loss
    before viability by the meaning of the word, so it is a loss here; the definitions that
    need the GA decide below whether it counts."""
    if p.outcome == "biochemical":
        return True
    if p.outcome != "miscarriage":
        return False
    if p.ga is None:
        return bool(p.ga_unknown)
    return bool(p.ga < kb.param("class.loss_limit_days"))


def _trimester(p: PastPregnancy, kb: KnowledgeBase) -> str | None:
    """'first' / 'second' from the GA, else the trimester the record states, else None."""
    if p.ga is not None:
        return "first" if p.ga < kb.param("class.first_trimester_end_days") else "second"
    return p.trimester


def is_second_trimester_loss(p: PastPregnancy, kb: KnowledgeBase) -> bool:
    return is_early_loss(p, kb) and p.outcome == "miscarriage" and _trimester(p, kb) == "second"


def reached_viability_mark(p: PastPregnancy, kb: KnowledgeBase) -> bool:
    """A pregnancy that went beyond the mark secondary RPL is counted from: a live birth, or
    any pregnancy whose GA reached `class.secondary_reached_days` (its GA at the end, or a
    milestone recorded while it was ongoing, `reached_weeks`, when it ended with no GA)."""
    mark = kb.param("class.secondary_reached_days")
    return (
        p.outcome == "live_birth"
        or (p.ga is not None and p.ga >= mark)
        or (p.reached_weeks is not None and parse_ga(p.reached_weeks) >= mark)
    )


def _year(p: PastPregnancy) -> int | None:
    return p.date.year if p.date is not None else p.year


def happened_before(preg: list[PastPregnancy], i: int, j: int) -> bool:
    """Did past pregnancy `i` end before pregnancy `j`? By the dates recorded: the full dates
    when both have one, else the years when both differ; only when the record cannot tell
    (no date, or the same year) by the list order, which the case format defines as oldest
    first."""
    a, b = preg[i], preg[j]
    if a.date is not None and b.date is not None and a.date != b.date:
        return a.date < b.date
    ya, yb = _year(a), _year(b)
    if ya is not None and yb is not None and ya != yb:
        return ya < yb
    return i < j


def _secondary(preg: list[PastPregnancy], kb: KnowledgeBase) -> bool:
    """Secondary RPL: losses after a previous pregnancy beyond the mark (ESHRE: "after one or
    more pregnancies beyond 22 weeks"); a birth that came only after every loss leaves the
    losses primary. One loss after such a pregnancy is enough (a birth between losses)."""
    reached = [i for i, p in enumerate(preg) if reached_viability_mark(p, kb)]
    losses = [i for i, p in enumerate(preg) if is_early_loss(p, kb)]
    return any(happened_before(preg, r, k) for r in reached for k in losses)


def classify(case: Case, definition: str, kb: KnowledgeBase) -> Classification:
    if definition not in DEFINITIONS:
        raise ValueError(f"unknown definition {definition!r} (allowed: {', '.join(DEFINITIONS)})")
    preg = case.pregnancies
    counted: list[int] = []
    for i, p in enumerate(preg):
        if not is_early_loss(p, kb):
            continue
        # ASRM 2012 counts clinical losses before 20 weeks; RCOG 2023 first-trimester ones: a
        # loss of unknown GA counts there only when the record states the first trimester
        stated_first = p.ga is None and p.trimester == "first"
        if definition == "asrm2012" and (
            p.outcome == "biochemical"
            or (p.ga is None and not stated_first)
            or (p.ga is not None and p.ga >= kb.param("class.asrm_limit_days"))
        ):
            continue
        if definition == "rcog2023" and (
            p.outcome == "biochemical" or (p.ga is None and not stated_first)
        ):
            continue
        counted.append(i)
    first = [
        i for i in counted if preg[i].outcome == "biochemical" or _trimester(preg[i], kb) == "first"
    ]
    second = [i for i in counted if _trimester(preg[i], kb) == "second"]
    any_second = any(is_second_trimester_loss(p, kb) for p in preg)
    if definition == "eshre2022":
        rpl = len(counted) >= kb.param("class.min_losses_eshre")
    elif definition == "asrm2012":
        rpl = len(counted) >= kb.param("class.min_losses_asrm")
    else:
        rpl = len(first) >= kb.param("class.min_losses_rcog")
    secondary = _secondary(preg, kb)
    all_losses = sum(1 for p in preg if is_early_loss(p, kb))
    top = int(kb.param("class.care_tier_max"))
    tier = None if all_losses == 0 else top if any_second else min(top, all_losses)
    return Classification(
        definition=definition,
        rpl=rpl,
        losses_counted=len(counted),
        first_trimester_losses=len(first),
        second_trimester_losses=len(second),
        type=("secondary" if secondary else "primary") if all_losses else None,
        care_tier=tier,
        counted=tuple(counted),
        miscarriages=sum(1 for p in preg if p.outcome == "miscarriage" and is_early_loss(p, kb)),
        any_second_trimester_loss=any_second,
        rcog_second_trimester_scope=definition == "rcog2023" and any_second and not rpl,
    )
