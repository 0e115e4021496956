"""Antiphospholipid syndrome: Sydney 2006 (revised Sapporo) and the 2023 ACR/EULAR score.

Pure functions over the case's results and history. A laboratory criterion needs the same
test positive on two occasions at least 12 weeks apart; a single positive is "unconfirmed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rplcare.case.model import Case, Result
from rplcare.knowledge import KnowledgeBase

APL_TESTS = (
    "lupus_anticoagulant",
    "anticardiolipin_igg",
    "anticardiolipin_igm",
    "anti_b2gpi_igg",
    "anti_b2gpi_igm",
)


@dataclass
class LabCriterion:
    """One antiphospholipid laboratory family and its positive results."""

    family: str  # la | acl | b2gpi
    positives: list[tuple[int, Result]] = field(default_factory=list)
    titre_unknown: list[int] = field(default_factory=list)

    def persistent(self, days: int) -> tuple[int, int] | None:
        """Indices of the earliest and the latest positive when they are `days` or more apart.

        Some pair is at least `days` apart exactly when the earliest and the latest are (any
        pair spans no more than they do), so this is linear in the number of positives. Ties
        on a day keep the order of entry (the first entered earliest, the last entered latest).
        """
        if len(self.positives) < 2:
            return None
        first = min(self.positives, key=lambda ir: ir[1].day)
        last = max(reversed(self.positives), key=lambda ir: ir[1].day)
        if (last[1].day - first[1].day).days >= days:
            return first[0], last[0]
        return None


@dataclass
class ApsAssessment:
    """The antiphospholipid laboratory criteria of a case."""

    lab: dict[str, LabCriterion]
    persistent: dict[str, tuple[int, int]]
    any_positive: list[int]
    clinical: list[dict[str, Any]]
    thrombotic: bool
    obstetric: bool
    sydney: bool
    provisional_reasons: list[str]
    recorded_condition: bool
    window_problem: str | None
    acr_eular: dict[str, Any]


def _is_positive(r: Result, kb: KnowledgeBase) -> tuple[bool, bool]:
    """(meets the laboratory criterion, titre unknown) for one aPL result."""
    if r.code == "lupus_anticoagulant":
        return r.qualitative == "positive", False
    if r.qualitative is not None:
        return r.qualitative == "positive", r.qualitative == "positive"
    if r.comparator is not None:
        return _bounded_positive(r, kb)
    if r.si is None:
        return False, False
    if r.code.startswith("anticardiolipin"):
        limit = kb.param("aps.acl_medium_titre")
        above_99th = r.ref_high_si is not None and r.si > r.ref_high_si
        return r.si > limit or above_99th, False
    # anti-b2GPI: above the 99th centile, taken as the lab's reference_high
    if r.ref_high_si is None:
        return False, True
    return r.si > r.ref_high_si, False


def _bounded_positive(r: Result, kb: KnowledgeBase) -> tuple[bool, bool]:
    """A bound ("<2", ">80") decides only when it lies on one side of every limit that
    applies; otherwise the titre is unknown."""
    b = r.bound_si
    if b is None:
        return False, True
    limits = [r.ref_high_si] if r.ref_high_si is not None else []
    if r.code.startswith("anticardiolipin"):
        limits.append(kb.param("aps.acl_medium_titre"))
    if not limits:
        return False, True
    if r.comparator in ("<", "<="):
        return (False, False) if all(b <= lim for lim in limits) else (False, True)
    if any(b >= lim for lim in limits):  # beyond a bound at or above a limit: above it
        return True, False
    return False, True


def _family(code: str) -> str:
    return "la" if code == "lupus_anticoagulant" else "acl" if "cardiolipin" in code else "b2gpi"


def _clinical_criteria(case: Case, kb: KnowledgeBase) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    conds = set(case.patient.conditions)
    for c in ("venous_thromboembolism", "arterial_thrombosis"):
        if c in conds:
            out.append(
                {
                    "criterion": "vascular_thrombosis",
                    "evidence": ["patient.conditions"],
                    "text": kb.say("aps.criterion.thrombosis", condition=c.replace("_", " ")),
                    "when": None,
                }
            )
    early = kb.param("aps.early_loss_limit_days")
    run: list[int] = []
    runs: list[list[int]] = []
    for i, p in enumerate(case.pregnancies):
        aneuploid = p.poc_karyotype is not None and _aneuploid(p.poc_karyotype, kb)
        if (
            p.outcome == "biochemical"
            or (p.outcome == "miscarriage" and p.ga is not None and p.ga < early)
        ) and not aneuploid:
            run.append(i)
        else:
            runs.append(run)
            run = []
        if (
            (
                (p.outcome == "miscarriage" and p.ga is not None and p.ga >= early)
                or (p.outcome == "stillbirth")
            )
            and p.fetal_anomaly is not True
            and not aneuploid
        ):
            key = "known" if p.fetal_anomaly is False else "morphology_unknown"
            out.append(
                {
                    "criterion": "fetal_death_10w",
                    "evidence": [f"pregnancies[{i}]"],
                    "text": kb.say(f"aps.criterion.fetal_death.{key}"),
                    "when": p.when,
                }
            )
        if (
            p.outcome == "live_birth"
            and p.ga is not None
            and p.ga < kb.param("aps.preterm_limit_days")
            and p.preterm_cause in kb.param("aps.placental_preterm_causes")
        ):
            out.append(
                {
                    "criterion": "preterm_birth_34w",
                    "evidence": [f"pregnancies[{i}]"],
                    "text": kb.say(
                        "aps.criterion.preterm_birth",
                        cause=(p.preterm_cause or "").replace("_", " "),
                    ),
                    "when": p.when,
                }
            )
    runs.append(run)
    best = max(runs, key=len)
    if len(best) >= kb.param("aps.consecutive_early_losses"):
        whens = [w for i in best if (w := case.pregnancies[i].when) is not None]
        out.append(
            {
                "criterion": "three_early_losses",
                "evidence": [f"pregnancies[{i}]" for i in best],
                "text": kb.say("aps.criterion.early_losses", n=len(best)),
                "when": max(whens) if whens else None,
            }
        )
    return out


def _aneuploid(karyotype: str, kb: KnowledgeBase) -> bool:
    """A numerical abnormality in an ISCN string ("47,XX,+16", "45,X", "69,XXY")."""
    parts = karyotype.replace(" ", "").split(",")
    try:
        n = int(parts[0])
    except ValueError:
        return False
    return n != int(kb.param("genetics.normal_chromosome_count")) or any(
        re.fullmatch(r"[+-](\d+|X|Y)", p) for p in parts[2:]
    )


def unbalanced_structural(karyotype: str, kb: KnowledgeBase) -> bool:
    """An unbalanced structural rearrangement (derivative, duplication, deletion, recombinant)."""
    k = karyotype.replace(" ", "").lower()
    return any(tag in k for tag in kb.param("genetics.poc_unbalanced_tags"))


aneuploid = _aneuploid
bounded_positive = _bounded_positive


def assess_aps(case: Case, kb: KnowledgeBase) -> ApsAssessment:
    lab: dict[str, LabCriterion] = {f: LabCriterion(f) for f in ("la", "acl", "b2gpi")}
    any_pos: list[int] = []
    for i, r in enumerate(case.results):
        if r.code not in APL_TESTS:
            continue
        pos, unknown = _is_positive(r, kb)
        fam = lab[_family(r.code)]
        if unknown:
            fam.titre_unknown.append(i)
        if pos and not unknown:
            fam.positives.append((i, r))
        if pos or (unknown and r.qualitative == "positive"):
            any_pos.append(i)
    days = kb.param("aps.persistence_days")
    persistent = {f: p for f, c in lab.items() if (p := c.persistent(days))}
    clinical = _clinical_criteria(case, kb)
    thrombotic = any(c["criterion"] == "vascular_thrombosis" for c in clinical)
    obstetric_criteria = [c for c in clinical if c["criterion"] != "vascular_thrombosis"]
    recorded = "antiphospholipid_syndrome" in case.patient.conditions

    provisional: list[str] = []
    if any(c["criterion"] == "three_early_losses" for c in clinical):
        codes = {r.code for r in case.results}
        if "uterine_imaging" not in codes:
            provisional.append(kb.say("aps.provisional.uterine"))
        if "tsh" not in codes:
            provisional.append(kb.say("aps.provisional.thyroid"))
        if not {"karyotype_female", "karyotype_male"} <= codes and not case.partner.karyotype:
            provisional.append(kb.say("aps.provisional.karyotype"))

    window_problem = None
    if persistent and clinical:
        lab_days = [case.results[i].day for pair in persistent.values() for i in pair]
        events = [c["when"] for c in clinical if c["when"] is not None]
        if events:
            years = kb.param("aps.max_years_lab_to_clinical")
            gap = min(abs((ld - ev).days) for ld in lab_days for ev in events)
            if gap > years * 365.25:
                window_problem = kb.say("aps.window_problem")
    sydney = bool(persistent and clinical and window_problem is None)
    return ApsAssessment(
        lab=lab,
        persistent=persistent,
        any_positive=any_pos,
        clinical=clinical,
        thrombotic=thrombotic and (sydney or recorded),
        obstetric=(bool(obstetric_criteria) and sydney) or (recorded and not thrombotic),
        sydney=sydney,
        provisional_reasons=provisional,
        recorded_condition=recorded,
        window_problem=window_problem,
        acr_eular=_acr_eular(case, kb, lab, persistent, clinical),
    )


def _acr_eular(
    case: Case,
    kb: KnowledgeBase,
    lab: dict[str, LabCriterion],
    persistent: dict[str, tuple[int, int]],
    clinical: list[dict[str, Any]],
) -> dict[str, Any]:
    """2023 ACR/EULAR points where the case holds the data; otherwise says what is missing."""
    notes: list[str] = []
    computable = True
    # clinical domains this case can express: D1/D2 (profile unknown), D4 obstetric
    d12 = [c for c in clinical if c["criterion"] == "vascular_thrombosis"]
    if d12:
        computable = False
        notes.append(kb.say("aps.acr.note.thrombosis_profile"))
    pts = kb.param("aps.acr_points")
    d4 = 0
    t1 = kb.param("aps.early_loss_limit_days")
    fetal_start = kb.param("aps.acr_fetal_death_start_days")
    preterm = kb.param("aps.preterm_limit_days")
    early_run = [c for c in clinical if c["criterion"] == "three_early_losses"]
    if early_run:
        d4 = max(d4, pts["d4_early_losses"])
    for p in case.pregnancies:
        if (
            p.outcome in ("miscarriage", "stillbirth")
            and p.ga is not None
            and fetal_start <= p.ga < preterm
        ):
            d4 = max(d4, pts["d4_fetal_death_16_34w"])
        if p.outcome in ("miscarriage",) and p.ga is not None and t1 <= p.ga < fetal_start:
            # early fetal deaths (10w0d-15w6d) count within the >= 3 consecutive item only
            pass
        if (
            p.outcome == "live_birth"
            and p.ga is not None
            and p.ga < preterm
            and p.preterm_cause in kb.param("aps.placental_preterm_causes")
        ):
            d4 = max(d4, pts["d4_severe_preeclampsia_or_placental_insufficiency"])
            notes.append(kb.say("aps.acr.note.severity_assumed"))
    clinical_points = d4
    # laboratory domains
    d7 = (
        pts["d7_la_persistent"]
        if "la" in persistent
        else pts["d7_la_once"]
        if lab["la"].positives
        else 0
    )
    d8 = 0
    moderate, high = kb.param("aps.acr_moderate_titre"), kb.param("aps.acr_high_titre")

    def level(code_prefix: str, iso: str) -> str | None:
        vals = [r.si for r in case.results if r.code == f"{code_prefix}_{iso}" and r.si is not None]
        if not vals:
            return None
        top = max(vals)
        return "high" if top >= high else "moderate" if top >= moderate else None

    fams_persistent = {f for f in persistent if f in ("acl", "b2gpi")}
    if fams_persistent:
        acl_g, b2_g = level("anticardiolipin", "igg"), level("anti_b2gpi", "igg")
        acl_m, b2_m = level("anticardiolipin", "igm"), level("anti_b2gpi", "igm")
        if acl_g == "high" and b2_g == "high":
            d8 = pts["d8_high_igg_both"]
        elif "high" in (acl_g, b2_g):
            d8 = pts["d8_high_igg_one"]
        elif "moderate" in (acl_g, b2_g):
            d8 = pts["d8_moderate_igg"]
        elif acl_m or b2_m:
            d8 = pts["d8_igm_only"]
        notes.append(kb.say("aps.acr.note.d8_persistence"))
    lab_points = d7 + d8
    entry_positive = bool(lab["la"].positives or lab["acl"].positives or lab["b2gpi"].positives)
    entry = bool(clinical) and entry_positive
    if entry and clinical:
        years = kb.param("aps.acr_entry_years")
        events = [c["when"] for c in clinical if c["when"] is not None]
        tests = [r.day for f in lab.values() for _, r in f.positives]
        if (
            events
            and tests
            and min(abs((t - e).days) for t in tests for e in events) > years * 365.25
        ):
            entry = False
            notes.append(kb.say("aps.acr.note.entry_window"))
    threshold = kb.param("aps.acr_threshold_points")
    classified = entry and clinical_points >= threshold and lab_points >= threshold
    return {
        "entry_criterion_met": entry,
        "clinical_points": clinical_points if computable else None,
        "laboratory_points": lab_points,
        "classified": classified if computable else None,
        "computable": computable,
        "notes": notes,
    }
