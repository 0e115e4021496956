"""Apply knowledge-base rules to findings: which recommendations apply, how strongly, why."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from rplcare.knowledge import KnowledgeBase
from rplcare.knowledge.model import Population, Recommendation, Rule, SourceRef
from rplcare.reasoning.findings import FindingSet


@dataclass(frozen=True)
class PopulationContext:
    """Where the case stands, as populations name it: stage, gestation, conception mode."""

    stage: str = "preconception"  # preconception | pregnant
    ga_days: int | None = None
    conception: str | None = None  # a CONCEPTION_MODES value when pregnant

    @classmethod
    def from_findings(cls, fs: FindingSet) -> PopulationContext:
        return cls(stage="pregnant" if "current.pregnant" in fs else "preconception")


def population_holds(pop: Population | None, ctx: PopulationContext) -> bool:
    """Whether the case is inside a population (None = no restriction)."""
    if pop is None:
        return True
    if ctx.stage not in pop.stage:
        return False
    if ctx.stage != "pregnant":
        return True
    if pop.ga_days is not None:
        lo, hi = pop.ga_days
        if ctx.ga_days is None:
            if lo != 0:  # unknown gestation: only early-pregnancy windows match
                return False
        elif not lo <= ctx.ga_days < hi:
            return False
    return ctx.conception is None or ctx.conception in pop.conception


UNVERIFIED_NOTE = "(source wording not verified)"


@dataclass
class Rec:
    """One recommendation as the engine emits it."""

    id: str
    kind: str
    status: str
    because: list[str]
    sources: list[dict[str, Any]]
    text: str
    patient_text: str
    title: str
    prominent: bool = False
    verified: bool = True
    rule_index: int = 0
    urgency: str = "routine"
    timing: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "because": self.because,
            "sources": self.sources,
            "text": self.text,
            "patient_text": self.patient_text,
            "title": self.title,
            "prominent": self.prominent,
            "verified": self.verified,
            "urgency": self.urgency,
        }
        if self.timing:
            out["timing"] = self.timing
        out.update(self.extra)
        return out


def _ref_json(kb: KnowledgeBase, ref: SourceRef) -> tuple[dict[str, Any], bool]:
    src = kb.sources[ref.id]
    verified = src.verified if ref.verified is None else ref.verified
    out: dict[str, Any] = {"id": ref.id, "citation": src.citation, "year": src.year}
    if ref.locator:
        out["locator"] = ref.locator
    if ref.strength:
        out["strength"] = ref.strength
    if src.url:
        out["url"] = src.url
    out["verified"] = verified
    return out, verified


def _because(rule: Rule, present: frozenset[str]) -> list[str]:
    return list(rule.when.all) + [f for f in rule.when.any if f in present]


@dataclass(frozen=True)
class _Outcome:
    """What a rule that holds gives, for one stage (the rule's or its recommendation's
    pregnancy wording applied, the unverified-source note added): everything of the `Rec`
    but `because`, which depends on the findings present."""

    text: str
    patient_text: str
    urgency: str
    timing: str | None


@dataclass(frozen=True)
class _Compiled:
    """The knowledge-base-only part of evaluating one rule, worked out once per knowledge base
    (issue 12 §1): its condition as sets, its source references as JSON and, compiled with
    its recommendation, what it gives before and during a pregnancy."""

    rule: Rule
    all: frozenset[str]
    any: frozenset[str]
    none: frozenset[str]
    refs: tuple[tuple[dict[str, Any], bool], ...]
    all_ids: tuple[str, ...] = ()
    any_ids: tuple[str, ...] = ()
    verified: bool = True
    outcomes: tuple[_Outcome, _Outcome] | None = None  # (not pregnant, pregnant)

    def holds(self, present: frozenset[str]) -> bool:
        """`rule.when.holds(present)`, on sets."""
        return (
            self.all <= present
            and (not self.any or not self.any.isdisjoint(present))
            and self.none.isdisjoint(present)
        )


def _outcome(
    rec: Recommendation, rule: Rule, refs: tuple[tuple[dict[str, Any], bool], ...], pregnant: bool
) -> _Outcome:
    verified = all(v for _, v in refs)
    text = rule.text or rec.text
    patient_text = rule.patient_text or rec.patient_text
    urgency, timing = rule.urgency, rule.timing
    wp = rule.when_pregnant
    if wp is None and rule.text is None and rec.population is not None:
        wp = rec.population.when_pregnant
    if pregnant and wp is not None:
        text = wp.text or text
        patient_text = wp.patient_text or patient_text
        urgency = wp.urgency or urgency
        timing = wp.timing or timing
    if not verified:
        unverified = ", ".join(dict.fromkeys(r["id"] for r, v in refs if not v))
        text = f"{text} {UNVERIFIED_NOTE[:-1]}: {unverified})"
    return _Outcome(text, patient_text, urgency, timing)


def _compile_rule(kb: KnowledgeBase, rule: Rule, rec: Recommendation | None = None) -> _Compiled:
    when = rule.when
    refs = tuple(_ref_json(kb, r) for r in rule.sources)
    outcomes = None
    if rec is not None:
        outcomes = (_outcome(rec, rule, refs, False), _outcome(rec, rule, refs, True))
    return _Compiled(
        rule,
        frozenset(when.all),
        frozenset(when.any),
        frozenset(when.none),
        refs,
        tuple(when.all),
        tuple(when.any),
        all(v for _, v in refs),
        outcomes,
    )


def _compiled(kb: KnowledgeBase) -> dict[str, tuple[Recommendation, tuple[_Compiled, ...]]]:
    """Recommendation id -> (the recommendation, its compiled rules), kept on the knowledge
    base (frozen, so set once with object.__setattr__; not a dataclass field: equality and
    the fields ignore it)."""
    try:
        out: dict[str, tuple[Recommendation, tuple[_Compiled, ...]]] | None = vars(kb).get(
            "_compiled_rules"
        )
    except TypeError:  # no __dict__ (a stand-in knowledge base): compiled at each call
        out = None
    if out is None:
        out = {
            rid: (rec, tuple(_compile_rule(kb, rule, rec) for rule in rec.rules))
            for rid, rec in kb.recommendations.items()
        }
        with contextlib.suppress(AttributeError, TypeError):  # kept when it can be
            object.__setattr__(kb, "_compiled_rules", out)
    return out


def evaluate(
    rec: Recommendation,
    fs: FindingSet,
    kb: KnowledgeBase,
    population: PopulationContext | None = None,
) -> Rec | None:
    ctx = population or PopulationContext.from_findings(fs)
    return _evaluate(rec, fs.ids, kb, ctx, _compiled(kb))


def _evaluate(
    rec: Recommendation,
    present: frozenset[str],
    kb: KnowledgeBase,
    ctx: PopulationContext,
    table: dict[str, tuple[Recommendation, tuple[_Compiled, ...]]],
) -> Rec | None:
    if rec.population is not None and not population_holds(rec.population, ctx):
        return None
    entry = table.get(rec.id)
    if entry is not None and entry[0] is rec:
        compiled = entry[1]
    else:  # a recommendation that is not the knowledge base's own (a test's copy)
        compiled = tuple(_compile_rule(kb, r, rec) for r in rec.rules)
    pregnant = ctx.stage == "pregnant"
    for i, c in enumerate(compiled):
        # `c.holds(present)`, inlined (the hot loop of recommend())
        if not c.all <= present or (c.any and c.any.isdisjoint(present)):
            continue
        if c.none and not c.none.isdisjoint(present):
            continue
        rule = c.rule
        if rule.population is not None and not population_holds(rule.population, ctx):
            continue
        assert c.outcomes is not None
        o = c.outcomes[pregnant]
        because = list(c.all_ids)
        if c.any_ids:
            because += [f for f in c.any_ids if f in present]
        return Rec(
            id=rec.id,
            kind=rec.kind,
            status=rule.status,
            because=because,
            sources=[dict(d) for d, _ in c.refs],  # fresh dicts: a Rec owns its sources
            text=o.text,
            patient_text=o.patient_text,
            title=rec.title,
            prominent=rule.prominent,
            verified=c.verified,
            rule_index=i,
            urgency=o.urgency,
            timing=o.timing,
        )
    return None


def recommend(
    fs: FindingSet, kb: KnowledgeBase, population: PopulationContext | None = None
) -> list[Rec]:
    """Every recommendation whose rules hold inside its population, in knowledge-base order."""
    out = []
    satisfied = kb.param("workup.satisfied_by") if "workup.satisfied_by" in kb.parameters else {}
    present = fs.ids
    ctx = population or PopulationContext.from_findings(fs)
    table = _compiled(kb)
    for rec in kb.recommendations.values():
        r = _evaluate(rec, present, kb, ctx, table)
        if r is not None and r.status != "not_recommended" and satisfied.get(rec.id) in fs:
            continue  # a recorded result satisfies it: listed under workup.done instead
        if r is not None:
            out.append(r)
    return out
