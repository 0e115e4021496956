"""`assess()`: the one entry point every face (CLI, web, CDS Hooks, batch) calls.

Pure: the same case, knowledge-base version, options and date give the same assessment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rplcare import __version__ as ENGINE_VERSION
from rplcare.case.errors import warnings_json
from rplcare.case.loader import load_case
from rplcare.case.model import Case
from rplcare.knowledge import KnowledgeBase, get_kb
from rplcare.reasoning.actions import (
    Action,
    action_events,
    build_actions,
    fold_not_recommended,
    supersede_events,
)
from rplcare.reasoning.classification import DEFINITIONS, Classification, classify
from rplcare.reasoning.engine import PopulationContext, Rec, recommend
from rplcare.reasoning.findings import FindingSet
from rplcare.reasoning.rules import bound_notes, compute_findings
from rplcare.util import jsonio

if TYPE_CHECKING:  # imported where used: a case with no current pregnancy never needs them
    from rplcare.reasoning import pregnancy as preg_mod

FORMAT = "rplcare.assessment/1"
DISCLAIMER = (
    "Decision support, not diagnosis: every recommendation is for a clinician to review "
    "against the full clinical picture."
)
LUTEAL_POLICIES = ("guideline", "article")


@dataclass
class Assessment:
    """The result of `assess()`: findings, plan and the context they came from."""

    case_id: str | None
    assessed_on: date
    kb_version: str
    definition: str
    luteal_policy: str
    classification: Classification
    findings: FindingSet
    recommendations: list[Rec]
    pregnancy: dict[str, Any] | None
    prognosis: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    #: the same warnings as (field path, message), every one with the part of the record it
    #: concerns, like the input errors (`case.errors`); `warnings_at` in the JSON
    warning_items: list[tuple[str, str]] = field(default_factory=list)
    workup_done: list[dict[str, Any]] = field(default_factory=list)
    input_hash: str | None = None
    actions: list[Action] = field(default_factory=list)
    population: PopulationContext | None = None
    asked_about: tuple[str, ...] = ()

    def most_urgent(self) -> Action | None:
        """The first action of the ordered list (contract 1), or None."""
        return self.actions[0] if self.actions else None

    fold_minimum: int = 3  # actions.fold_not_recommended_min of the KB that made it

    def folded_not_recommended(self) -> dict[str, Any]:
        """Routine not-recommended items as one line with a count (issue 9 §2); prominent ones
        and those the patient asked about stay listed."""
        return fold_not_recommended(
            self.recommendations, keep=set(self.asked_about), minimum=self.fold_minimum
        )

    # the knowledge base that made it: to_dict() reads finding flags and the stamp from it
    kb: KnowledgeBase | None = field(default=None, repr=False, compare=False)

    def rec(self, rid: str) -> Rec | None:
        return next((r for r in self.recommendations if r.id == rid), None)

    def status(self, rid: str) -> str | None:
        r = self.rec(rid)
        return r.status if r else None

    def to_dict(self) -> dict[str, Any]:
        kb = self.kb
        if kb is None:
            raise ValueError("Assessment.to_dict needs the knowledge base that made it (kb=)")
        # every finding is listed, so each `because` id resolves; `reported: false` marks the
        # context facts (e.g. "no bleeding recorded") that displays may leave out
        findings = []
        for f in self.findings:
            item = f.to_json()
            if f.id in kb.findings and not kb.findings[f.id].reported:
                item["reported"] = False
            findings.append(item)
        return {
            "format": FORMAT,
            "case_id": self.case_id,
            "assessed_on": self.assessed_on.isoformat(),
            "knowledge_base": {
                "version": self.kb_version,
                "content_hash": kb.content_hash,
                "engine": ENGINE_VERSION,
                "definition": self.definition,
                "luteal_policy": self.luteal_policy,
            },
            "disclaimer": DISCLAIMER,
            "actions": [a.to_json() for a in self.actions],
            "population": (
                {
                    "stage": self.population.stage,
                    "ga_days": self.population.ga_days,
                    "conception": self.population.conception,
                }
                if self.population
                else None
            ),
            "not_recommended_folded": self.folded_not_recommended(),
            "classification": self.classification.to_json(),
            "findings": findings,
            "recommendations": [r.to_json() for r in self.recommendations],
            "workup": {"done": self.workup_done},
            "pregnancy": self.pregnancy,
            "prognosis": self.prognosis,
            "warnings": self.warnings,
            "warnings_at": warnings_json(self.warning_items),
            "input_hash": self.input_hash,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The assessment JSON (orjson; `indent=None` gives the compact form)."""
        return jsonio.dumps(self.to_dict(), compact=indent is None)


def _split_path(line: str) -> tuple[str, str]:
    """A `PATH: message` note (e.g. `results[3]: hCG 0 IU/L ...`) as (path, message)."""
    head, sep, rest = line.partition(": ")
    if sep and head and " " not in head:
        return head, rest
    return "", line


def case_hash(case: Case) -> str:
    """SHA-256 of the case as validated (stable key order), stored with every assessment."""
    text = json.dumps(case.model_dump(mode="json", exclude_none=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def assess(
    case: Case | Mapping[str, Any] | str | Path,
    today: date | None = None,
    definition: str = "eshre2022",
    luteal_policy: Literal["guideline", "article"] | str = "guideline",
    kb: KnowledgeBase | None = None,
) -> Assessment:
    """Assess a case as of `today` (default: the case's `assessed_on`; one of them is required).

    `kb` is the knowledge base to reason with; when omitted the packaged one is used (the
    only place in reasoning that picks it: everything below receives `kb` as an argument).
    Raises CaseError for invalid input and ValueError for an unknown option or no date.
    """
    if definition not in DEFINITIONS:
        raise ValueError(f"unknown definition {definition!r} (allowed: {', '.join(DEFINITIONS)})")
    if luteal_policy not in LUTEAL_POLICIES:
        raise ValueError(f"unknown luteal policy {luteal_policy!r} (allowed: guideline, article)")
    kb = kb or get_kb()
    if not isinstance(case, Case):
        case = load_case(case, today=today, kb=kb)
    as_of = today or case.assessed_on
    if as_of is None:
        raise ValueError("no assessment date: pass today= or set assessed_on in the case")
    if case.assessed_on is not None and as_of < case.assessed_on:
        raise ValueError(f"today ({as_of}) is before the case's assessed_on ({case.assessed_on})")
    cls = classify(case, definition, kb)
    parts = None
    if case.current_pregnancy is not None:
        from rplcare.reasoning import pregnancy as preg_mod

        parts = preg_mod.analyse(case, cls, kb, as_of)
    fs = compute_findings(case, cls, kb, parts.context if parts else None, as_of)
    population = population_context(case, parts)
    recs = recommend(fs, kb, population)
    for r in recs:
        if r.id in case.asked_about and r.status == "not_recommended":
            r.extra["asked_about"] = True
    warnings = list(case.warnings)
    items = case.warning_items
    for i, note in bound_notes(case, kb):  # a bound a rule cannot compare: said, with its path
        warnings.append(f"results[{i}]: {note}")
        items.append((f"results[{i}]", note))
    pregnancy = None
    if parts is not None:
        statuses = {r.id: r.status for r in recs}
        preg_mod.plan_luteal(parts, case, cls, statuses, luteal_policy, as_of, kb, fs.ids)
        pregnancy = preg_mod.block(parts)
        warnings.extend(parts.warnings)
        items.extend(_split_path(w) for w in parts.warnings)
        for path, block in (
            ("current_pregnancy", parts.dating),
            ("current_pregnancy.scans", parts.viability),
            ("current_pregnancy.treatments", parts.progesterone),
            ("current_pregnancy.treatments", parts.luteal),
        ):
            for w in getattr(block, "warnings", None) or []:
                warnings.append(w)
                at, message = _split_path(w)  # a warning may name its own field
                items.append((at, message) if at.startswith(path) else (path, w))
        _attach_schedule(recs, parts)
    actions = build_actions(recs, parts.alerts if parts else [], kb, as_of, fs.ids)
    if parts is not None:
        parts.events = action_events(actions) + supersede_events(parts.events, actions, as_of)
        parts.events.sort(key=lambda e: e.start)  # stable: due actions lead their day
        assert pregnancy is not None
        pregnancy["events"] = [e.model_dump(mode="json") for e in parts.events]
    prognosis = None
    if cls.miscarriages:
        prognosis = _prognosis(case, cls, population, as_of, kb, warnings, items)
    done = [
        {"id": test_id, "because": [fid], "evidence": f.evidence}
        for test_id, fid in kb.param("workup.satisfied_by").items()
        if (f := fs.get(fid)) is not None
    ]
    return Assessment(
        case_id=case.id,
        assessed_on=as_of,
        kb_version=kb.version,
        definition=definition,
        luteal_policy=luteal_policy,
        classification=cls,
        findings=fs,
        recommendations=recs,
        pregnancy=pregnancy,
        prognosis=prognosis,
        warnings=list(dict.fromkeys(warnings)),
        warning_items=list(dict.fromkeys(items)),
        workup_done=done,
        input_hash=case_hash(case),
        actions=actions,
        population=population,
        asked_about=tuple(case.asked_about),
        fold_minimum=int(kb.param("actions.fold_not_recommended_min")),
        kb=kb,
    )


def conception_mode(case: Case) -> str | None:
    """The current pregnancy's conception as populations name it (None when not pregnant)."""
    cp = case.current_pregnancy
    if cp is None:
        return None
    if case.gestational_carrier:
        return "gestational_carrier"
    if cp.conception == "donor_egg":
        return "donor_egg"
    if cp.conception == "frozen_transfer":
        return "artificial_fet" if cp.endometrial_preparation == "artificial" else "frozen"
    if cp.conception in ("ivf", "icsi") or (cp.conception is None and cp.transfer_date):
        return "fresh"
    if cp.conception == "iui":
        return "iui"
    return "natural"


def population_context(case: Case, parts: preg_mod.PregnancyParts | None) -> PopulationContext:
    if case.current_pregnancy is None or parts is None:
        return PopulationContext(stage="preconception")
    return PopulationContext(
        stage="pregnant", ga_days=parts.context.ga_days, conception=conception_mode(case)
    )


def _prognosis(
    case: Case,
    cls: Classification,
    population: PopulationContext,
    as_of: date,
    kb: KnowledgeBase,
    warnings: list[str],
    items: list[tuple[str, str]],
) -> dict[str, Any] | None:
    """Brigham 1999 applies to a woman's own eggs before her next pregnancy (issue 9 §1).
    Each reason it is not shown goes to `warnings` and, with its field path, to `items`."""

    def warn(path: str, message: str) -> None:
        warnings.append(message)
        items.append((path, message))

    own_eggs = population.conception not in ("donor_egg", "gestational_carrier") and not (
        case.gestational_carrier
    )
    if not own_eggs:
        warn(
            "gestational_carrier" if case.gestational_carrier else "current_pregnancy.conception",
            "prognosis: Brigham 1999 is by the age of the woman whose eggs are used; with donor "
            "eggs or a gestational carrier the egg's age is not recorded, so it is not shown",
        )
        return None
    limit = kb.param("class.first_trimester_end_days")
    if population.stage == "pregnant" and (population.ga_days or 0) >= limit:
        warn(
            "current_pregnancy",
            "prognosis: not shown during an ongoing pregnancy past the first trimester (Brigham "
            "1999 predicts the success of a next pregnancy)",
        )
        return None
    from rplcare.prognosis.brigham import brigham1999

    age = case.patient.age_on(as_of)
    prog, why = brigham1999(age, cls.miscarriages, kb=kb)
    age_path = "patient.birth_date" if case.patient.birth_date else "patient.age_years"
    in_range = age is not None and (
        kb.param("brigham.min_age_years") <= age <= kb.param("brigham.max_age_years")
    )
    for w in why:  # the age first, then the count of miscarriages (brigham1999's order)
        warn("pregnancies" if in_range else age_path, w)
    if prog is None:
        return None
    out = prog.model_dump(mode="json")
    out["applies_to"] = "this pregnancy" if population.stage == "pregnant" else "next pregnancy"
    return out


def _attach_schedule(recs: list[Rec], parts: preg_mod.PregnancyParts) -> None:
    """Give the luteal-support recommendation its stop date, so every face shows the same."""
    lut = parts.luteal
    if lut is None or not lut.indicated:
        return
    for r in recs:
        if r.id == lut.indication:
            r.extra["schedule"] = {
                "regimen": lut.regimen,
                "stop_ga": lut.stop_ga,
                "stop_date": lut.stop_date.isoformat() if lut.stop_date else None,
                "policy": lut.policy,
            }
