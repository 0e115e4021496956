"""Findings added with the clinical-safety work (issue 9): anticoagulation, VTE history,
hyperthyroidism, the NICE NG25 single-criterion cervix, pre-eclampsia risk (NICE NG133),
adenomyosis, the male partner, numerical parental karyotypes, chronic endometritis and
antiphospholipid persistence without a titre.

Thresholds come from the knowledge base (parameters_safety.yaml); ids are declared in
findings_safety.yaml. Called from `rules.compute_findings` before the workup roll-up, so the
causes found here count against "unexplained".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rplcare.case.model import Case
from rplcare.knowledge import KnowledgeBase
from rplcare.reasoning.aps import LabCriterion
from rplcare.reasoning.classification import Classification
from rplcare.reasoning.findings import FindingSet

if TYPE_CHECKING:
    from rplcare.reasoning.rules import Facts, PregnancyContext

_CELL_LINE = re.compile(r"^(\d{2}),([XY]+)")


def numerical_karyotype(iscn: str) -> bool:
    """Any cell line with a count other than 46, a gained/lost chromosome, or a sex-chromosome
    complement other than XX/XY (mosaics such as 45,X/46,XX or 46,XX/47,XXX included)."""
    text = iscn.replace(" ", "").lower().removeprefix("mos")
    for line in text.split("/"):
        line = re.sub(r"\[\d+\]", "", line)
        m = _CELL_LINE.match(line.upper())
        if not m:
            continue
        count, sex = int(m.group(1)), m.group(2)
        if count != 46 or sex not in ("XX", "XY"):
            return True
        if any(re.fullmatch(r"[+-](\d+|x|y)", p) for p in line.split(",")[2:]):
            return True
    return False


def _meds(case: Case) -> list[tuple[str, str]]:
    out = [(f"patient.medications[{j}]", m) for j, m in enumerate(case.patient.medications)]
    if case.current_pregnancy:
        out += [
            (f"current_pregnancy.treatments[{j}]", m)
            for j, m in enumerate(case.current_pregnancy.treatments)
        ]
    return out


def compute_safety_findings(
    case: Case,
    facts: Facts,
    cls: Classification,
    kb: KnowledgeBase,
    fs: FindingSet,
    preg: PregnancyContext | None,
) -> None:
    _anticoagulation(case, facts, kb, fs)
    _hyperthyroidism(case, facts, kb, fs)
    _cervix_single_criterion(kb, fs)
    _preeclampsia(case, cls, kb, fs)
    _partner(case, kb, fs)
    _parental_numerical(case, facts, kb, fs)
    _aps_titre(case, kb, fs, facts)
    _done(case, facts, kb, fs)
    if "chronic_endometritis" in case.patient.conditions:
        fs.add(
            "state.chronic_endometritis",
            kb.say("state.chronic_endometritis"),
            ["patient.conditions"],
        )


def _anticoagulation(case: Case, facts: Facts, kb: KnowledgeBase, fs: FindingSet) -> None:
    anticoagulants = set(kb.param("anticoagulation.drugs"))
    oral = set(kb.param("anticoagulation.oral_drugs"))
    meds = _meds(case)
    on = [(p, m) for p, m in meds if m in anticoagulants]
    oral_on = [(p, m) for p, m in meds if m in oral]
    if oral_on:
        fs.add(
            "current.on_oral_anticoagulant",
            kb.say(
                "current.on_oral_anticoagulant",
                drugs=", ".join(m.replace("_", " ") for _, m in oral_on),
            ),
            [p for p, _ in oral_on],
        )
    if "venous_thromboembolism" in case.patient.conditions:
        fs.add("history.vte", kb.say("history.vte"), ["patient.conditions"])
    if "state.aps_thrombotic" in fs or (
        "history.thrombosis" in fs and "state.antiphospholipid_persistent_noncriteria" in fs
    ):
        fs.add(
            "state.therapeutic_anticoagulation_indicated",
            kb.say("state.therapeutic_anticoagulation_indicated"),
        )
    for i, r in facts.all("lupus_anticoagulant"):
        if r.on_anticoagulation is False:
            continue
        if r.on_anticoagulation:
            fs.add(
                "state.lupus_anticoagulant_on_anticoagulation",
                kb.say("state.lupus_anticoagulant_on_anticoagulation:recorded", day=r.day),
                [f"results[{i}]"],
            )
        elif on:
            fs.add(
                "state.lupus_anticoagulant_on_anticoagulation",
                kb.say(
                    "state.lupus_anticoagulant_on_anticoagulation:on_record",
                    day=r.day,
                    drugs=", ".join(sorted({m.replace("_", " ") for _, m in on})),
                ),
                [f"results[{i}]", *(p for p, _ in on)],
            )


def _hyperthyroidism(case: Case, facts: Facts, kb: KnowledgeBase, fs: FindingSet) -> None:
    if "hyperthyroidism" in case.patient.conditions:
        fs.add(
            "cause.hyperthyroidism",
            kb.say("cause.hyperthyroidism:recorded"),
            ["patient.conditions"],
        )
    tsh, ft4 = facts.latest("tsh"), facts.latest("free_t4")
    if tsh is None or tsh[1].si is None:
        return
    lower = tsh[1].ref_low_si
    if lower is None:
        lower = kb.param("thyroid.tsh_lower_default")
    if tsh[1].si >= lower:
        return
    if ft4 is None:
        fs.add(
            "state.tsh_suppressed_no_ft4",
            kb.say("state.tsh_suppressed_no_ft4", tsh=f"{tsh[1].si:g}", lower=f"{lower:g}"),
            [f"results[{tsh[0]}]"],
        )
        return
    r = ft4[1]
    if r.si is not None and r.ref_high_si is not None and r.si > r.ref_high_si:
        fs.add(
            "cause.hyperthyroidism",
            kb.say(
                "cause.hyperthyroidism:result",
                tsh=f"{tsh[1].si:g}",
                lower=f"{lower:g}",
                ft4=f"{r.si:g}",
                upper=f"{r.ref_high_si:g}",
            ),
            [f"results[{tsh[0]}]", f"results[{ft4[0]}]"],
        )


def _cervix_single_criterion(kb: KnowledgeBase, fs: FindingSet) -> None:
    """NICE NG25 (2019): one of history / short cervix alone -> consider progesterone."""
    if "current.pregnant" not in fs:
        return
    history = fs.get("history.spontaneous_preterm_or_midtrimester_loss")
    short = fs.get("current.short_cervix")
    if short and not history:
        fs.add("current.short_cervix_only", kb.say("current.short_cervix_only"), short.evidence)
    elif history and not short:
        fs.add(
            "current.cervical_history_only",
            kb.say("current.cervical_history_only"),
            history.evidence,
        )


def _preeclampsia(case: Case, cls: Classification, kb: KnowledgeBase, fs: FindingSet) -> None:
    """NICE NG133: one high or more than one moderate risk factor -> aspirin from 12 weeks."""
    if "current.pregnant" not in fs:
        return
    say = kb.say
    conds = set(case.patient.conditions)
    high: list[tuple[str, str]] = [
        (c.replace("_", " "), "patient.conditions")
        for c in kb.param("preeclampsia.high_risk_conditions")
        if c in conds
    ]
    if "cause.antiphospholipid_syndrome" in fs and "antiphospholipid_syndrome" not in conds:
        high.append(("antiphospholipid syndrome", "patient.conditions"))
    for i, p in enumerate(case.pregnancies):
        if p.preterm_cause == "preeclampsia":
            high.append(
                (
                    say("state.preeclampsia_aspirin_indicated:previous_hypertensive"),
                    f"pregnancies[{i}]",
                )
            )
    moderate: list[tuple[str, str]] = []
    age = case.patient.age_on(case.day)
    if age is not None and age >= kb.param("preeclampsia.moderate_age"):
        moderate.append((f"age {age}", "patient.age_years"))
    if case.patient.bmi is not None and case.patient.bmi >= kb.param("preeclampsia.moderate_bmi"):
        moderate.append((f"BMI {case.patient.bmi:g}", "patient.bmi"))
    if "current.multiple" in fs:
        moderate.append(
            (say("state.preeclampsia_aspirin_indicated:multiple"), "current_pregnancy.fetuses")
        )
    if not case.pregnancies:
        moderate.append((say("state.preeclampsia_aspirin_indicated:first"), "pregnancies"))
    else:
        years = [p.when.year for p in case.pregnancies if p.when]
        gap = kb.param("preeclampsia.moderate_interval_years")
        if years and case.day.year - max(years) > gap:
            moderate.append((say("state.preeclampsia_aspirin_indicated:interval"), "pregnancies"))
    if high or len(moderate) > kb.param("preeclampsia.moderate_min_more_than"):
        factors = high + moderate
        fs.add(
            "state.preeclampsia_aspirin_indicated",
            say(
                "state.preeclampsia_aspirin_indicated",
                factors=", ".join(dict.fromkeys(t for t, _ in factors)),
            ),
            list(dict.fromkeys(e for _, e in factors)),
        )


def _partner(case: Case, kb: KnowledgeBase, fs: FindingSet) -> None:
    """Male partner's age, smoking, BMI and alcohol (Lancet 2021 risk factors; ESHRE 2022)."""
    p = case.partner
    bits: list[tuple[str, str]] = []
    if p.age_years is not None and p.age_years > kb.param("partner.age_risk_years"):
        bits.append((f"age {p.age_years}", "partner.age_years"))
    if p.smoking:
        bits.append((kb.say("state.partner_lifestyle_factor:smokes"), "partner.smoking"))
    if p.bmi is not None and (
        p.bmi > kb.param("lifestyle.bmi_high") or p.bmi < kb.param("lifestyle.bmi_low")
    ):
        bits.append((f"BMI {p.bmi:g}", "partner.bmi"))
    if p.alcohol_units_per_week is not None and p.alcohol_units_per_week > kb.param(
        "lifestyle.alcohol_units_week"
    ):
        bits.append(
            (f"alcohol {p.alcohol_units_per_week:g} units/week", "partner.alcohol_units_per_week")
        )
    if bits:
        fs.add(
            "state.partner_lifestyle_factor",
            kb.say("state.partner_lifestyle_factor", factors=", ".join(t for t, _ in bits)),
            [e for _, e in bits],
        )


def _parental_numerical(case: Case, facts: Facts, kb: KnowledgeBase, fs: FindingSet) -> None:
    """Numerical parental karyotypes (e.g. mosaic 45,X) are kept, never dropped as 'normal'."""
    items = [
        (f"results[{i}]", who, r.value)
        for code, who in (
            ("karyotype_female", "genetic mother"),
            ("karyotype_male", "genetic father"),
        )
        for i, r in facts.all(code)
        if isinstance(r.value, str)
    ]
    if case.partner.karyotype:
        items.append(("partner.karyotype", "genetic father", case.partner.karyotype))
    for path, who, iscn in items:
        if numerical_karyotype(str(iscn)):
            fs.add(
                "state.parental_numerical_karyotype",
                kb.say("state.parental_numerical_karyotype", who=who, iscn=iscn),
                [path],
            )


def _aps_titre(case: Case, kb: KnowledgeBase, fs: FindingSet, facts: Facts) -> None:
    """A positive without a titre twice >= 12 weeks apart: persistent, next step the titre."""
    a = facts.aps(kb)
    days = kb.param("aps.persistence_days")
    for family, crit in a.lab.items():
        qualitative = LabCriterion(
            family,
            positives=[
                (i, case.results[i])
                for i in crit.titre_unknown
                if case.results[i].qualitative == "positive"
            ]
            + crit.positives,
        )
        pair = qualitative.persistent(days)
        if pair and set(pair) & set(crit.titre_unknown):
            fs.add(
                "state.antiphospholipid_persistent_titre_unknown",
                kb.say("state.antiphospholipid_persistent_titre_unknown", antibody=family.upper()),
                [f"results[{i}]" for i in pair],
            )


def _done(case: Case, facts: Facts, kb: KnowledgeBase, fs: FindingSet) -> None:
    """done.* findings the workup mapping (workup.satisfied_by) points at."""
    for fid, codes in (
        ("done.prolactin", ("prolactin",)),
        ("done.antinuclear_antibodies", ("antinuclear_antibodies",)),
        ("done.inherited_thrombophilia", ("factor_v_leiden", "prothrombin_mutation", "protein_s")),
    ):
        ev = [f"results[{i}]" for c in codes for i, _ in facts.all(c)]
        if ev:
            fs.add(fid, kb.say(fid), ev)
    hba1c = facts.latest("hba1c")
    if "history.diabetes" in fs and hba1c is not None and "gap.hba1c_recent" not in fs:
        fs.add("done.hba1c_recent", kb.say("done.hba1c_recent"), [f"results[{hba1c[0]}]"])
