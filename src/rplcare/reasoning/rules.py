"""Compute the findings of a case (spec recommendations.md §3 plus the facts rules refer to).

Each `_section` function reads the case and adds findings; thresholds come from the knowledge
base by name. The findings' ids are declared in knowledge/data/findings.yaml (the loader checks
that rules refer only to declared ids; a test checks that code adds only declared ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rplcare.case.model import Case, ProposedOrders, Result
from rplcare.case.vocabulary import vocabulary
from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.gestation import format_ga
from rplcare.reasoning.aps import (
    APL_TESTS,
    ApsAssessment,
    aneuploid,
    assess_aps,
    bounded_positive,
    unbalanced_structural,
)
from rplcare.reasoning.classification import Classification, is_second_trimester_loss
from rplcare.reasoning.findings import FindingSet
from rplcare.reasoning.rules_safety import compute_safety_findings

# tests guidelines advise against (or allow only for explanation), by recorded result code
NOT_ROUTINE_RECORDED = {
    "hla_typing": "recorded.hla_typing",
    "blocking_antibodies": "recorded.anti_hla_antibodies",
    "nk_cells": "recorded.nk_cells",
    "homocysteine": "recorded.homocysteine_mthfr",
    "mthfr": "recorded.homocysteine_mthfr",
    "protein_c": "recorded.protein_c_antithrombin",
    "antithrombin": "recorded.protein_c_antithrombin",
    "sperm_dna_fragmentation": "recorded.sperm_dna_fragmentation",
    "ovarian_reserve_amh": "recorded.ovarian_reserve",
    "endometrial_biopsy": "recorded.endometrial_biopsy",
    "antinuclear_antibodies": "recorded.antinuclear_antibodies",
}
RECORDED_TREATMENTS = {
    "lymphocyte_immunotherapy": "recorded.lymphocyte_immunotherapy",
    "ivig": "recorded.ivig",
    "prednisolone": "recorded.glucocorticoids",
    "intralipid": "recorded.intralipid",
    "g_csf": "recorded.g_csf",
    "hcg_injections": "recorded.hcg_supplementation",
    "bed_rest": "recorded.bed_rest",
    "oral_dydrogesterone": "recorded.dydrogesterone",
    "metformin": "recorded.metformin",
}


@dataclass
class PregnancyContext:
    """What the early-pregnancy calculators concluded, as reasoning needs it."""

    ga_days: int | None = None
    viability: str = "not_assessable"
    intrauterine: bool = False
    art: bool = False
    art_progesterone_required: bool = False
    art_preparation_unknown: bool = False
    cervical_length_short: list[int] = field(default_factory=list)  # scan indices
    extra: dict[str, Any] = field(default_factory=dict)


def _latest(results: list[tuple[int, Result]]) -> tuple[int, Result] | None:
    return max(results, key=lambda ir: ir[1].at) if results else None


class Facts:
    """Indexed access to the case for the rule sections."""

    def __init__(self, case: Case):
        self.case = case
        self._aps: ApsAssessment | None = None
        self.by_code: dict[str, list[tuple[int, Result]]] = {}
        #: results with a comparator ("<0.1"): a bound is not a value, so the rule sections
        #: that read numbers do not see them (`bound_notes` says so); the antiphospholipid
        #: criteria read them as bounds, and a recorded test is recorded whatever its value
        self.bounds: dict[str, list[tuple[int, Result]]] = {}
        voc = vocabulary()
        for i, r in enumerate(case.results):
            if r.comparator is not None and voc.tests[r.code].kind != "recorded":
                self.bounds.setdefault(r.code, []).append((i, r))
                continue
            self.by_code.setdefault(r.code, []).append((i, r))

    def tested(self, code: str) -> list[tuple[int, Result]]:
        """Results of a test whose rule reads bounds too (the antiphospholipid criteria)."""
        return sorted(self.all(code) + self.bounds.get(code, []), key=lambda ir: ir[0])

    def all(self, code: str) -> list[tuple[int, Result]]:
        return self.by_code.get(code, [])

    def latest(self, code: str) -> tuple[int, Result] | None:
        return _latest(self.all(code))

    def aps(self, kb: KnowledgeBase) -> ApsAssessment:
        """The antiphospholipid assessment of the case, made once per assessment (the APS
        and the titre rules both read it; neither changes it)."""
        if self._aps is None:
            self._aps = assess_aps(self.case, kb)
        return self._aps


#: tests whose value a rule section reads as a number -> (the section, read by the work-up)
_NUMBER_READERS: dict[str, tuple[str | None, bool]] = {
    "tsh": ("thyroid", True),
    "free_t4": ("thyroid", True),
    "tpo_antibodies": ("thyroid", True),
    "hba1c": ("diabetes", True),
    "prolactin": ("prolactin", True),
    "full_blood_count": (None, True),
}
#: read only during a current pregnancy (the early-pregnancy calculators)
_PREGNANCY_READERS = {"hcg": "hCG", "progesterone": "progesterone"}


def bound_notes(case: Case, kb: KnowledgeBase) -> list[tuple[int, str]]:
    """(result index, what the engine did with it) for each result given as a bound that a
    rule cannot compare: it is treated as not measured there, and the user is told so."""
    out: list[tuple[int, str]] = []
    for i, r in enumerate(case.results):
        if r.comparator is None:
            continue
        unit = f" {r.unit}" if r.unit else ""
        value = f"{r.value:g}" if isinstance(r.value, int | float) else str(r.value)
        shown = f"{r.comparator} {value}{unit}"
        head = f"{shown!r} is a bound, not a value; "
        if r.code in APL_TESTS:
            pos, unknown = bounded_positive(r, kb)
            if unknown:
                out.append((i, head + "its titre is unknown for the APS laboratory criterion"))
            elif pos:
                out.append(
                    (
                        i,
                        head + "read as above the APS limits; treated as not measured for "
                        "the ACR/EULAR 2023 titre level",
                    )
                )
            continue
        parts: list[str] = []
        if r.code in _NUMBER_READERS:
            section, workup = _NUMBER_READERS[r.code]
            if section:
                parts.append(f"the {section} rules")
            if workup:
                parts.append("the work-up (counted as not tested)")
        elif r.code in _PREGNANCY_READERS and case.current_pregnancy is not None:
            parts.append(f"the {_PREGNANCY_READERS[r.code]} calculators")
        if parts:
            out.append((i, head + "treated as not measured for " + " and ".join(parts)))
    return out


def compute_findings(
    case: Case, cls: Classification, kb: KnowledgeBase, preg: PregnancyContext | None, today: date
) -> FindingSet:
    fs = FindingSet()
    facts = Facts(case)
    _history(case, cls, kb, fs)
    _aps(case, cls, kb, fs, facts)
    _thyroid(case, facts, cls, kb, fs)
    _metabolic(case, facts, cls, kb, fs, today)
    _anatomy(case, facts, cls, kb, fs)
    _genetics(case, facts, cls, kb, fs)
    _lifestyle(case, kb, fs)
    _recorded(case, facts, kb, fs)
    _current(case, cls, kb, fs, preg)
    compute_safety_findings(case, facts, cls, kb, fs, preg)
    _workup(case, facts, cls, kb, fs)
    return fs


def _history(case: Case, cls: Classification, kb: KnowledgeBase, fs: FindingSet) -> None:
    ev = [f"pregnancies[{i}]" for i in cls.counted]
    if cls.rpl:
        fs.add(
            "state.rpl",
            kb.say(
                "state.rpl",
                definition=cls.definition,
                n=cls.losses_counted,
                type=cls.type,
                tier=cls.care_tier,
            ),
            ev,
        )
    if cls.rcog_second_trimester_scope:
        fs.add(
            "state.rcog_second_trimester_scope",
            kb.say("state.rcog_second_trimester_scope"),
            [
                f"pregnancies[{i}]"
                for i, p in enumerate(case.pregnancies)
                if is_second_trimester_loss(p, kb)
            ],
        )
    if cls.care_tier is not None:
        losses = [
            f"pregnancies[{i}]"
            for i, p in enumerate(case.pregnancies)
            if p.outcome in ("miscarriage", "biochemical", "stillbirth")
        ]
        fs.add("history.loss", kb.say("history.loss"), losses)
        if cls.care_tier >= kb.param("class.care_tier_clinic"):
            fs.add(
                "state.care_tier_2_plus",
                kb.say("state.care_tier_2_plus", tier=cls.care_tier),
                losses,
            )
    misc = [
        i for i, p in enumerate(case.pregnancies) if p.outcome in ("miscarriage", "biochemical")
    ]
    if misc:
        fs.add(
            "history.miscarriage",
            kb.say("history.miscarriage", n=len(misc)),
            [f"pregnancies[{i}]" for i in misc],
        )
    clinical_misc = [i for i, p in enumerate(case.pregnancies) if p.outcome == "miscarriage"]
    second = [i for i, p in enumerate(case.pregnancies) if is_second_trimester_loss(p, kb)]
    if second:
        fs.add(
            "history.second_trimester_loss",
            kb.say("history.second_trimester_loss", n=len(second)),
            [f"pregnancies[{i}]" for i in second],
        )
    if len(clinical_misc) >= kb.param("genetics.poc_testing_min_miscarriages") or second:
        fs.add(
            "history.poc_testing_indicated",
            kb.say("history.poc_testing_indicated"),
            [f"pregnancies[{i}]" for i in sorted(set(clinical_misc) | set(second))],
        )
    # spontaneous preterm birth or mid-trimester loss 16+0-34+0 (NICE NG25 1.2.1)
    lo, hi = kb.param("cervix.history_start_days"), kb.param("cervix.history_end_days")
    preterm = kb.param("cervix.preterm_birth_limit_days")
    spont: list[int] = []
    cerclage_events: list[int] = []
    for i, p in enumerate(case.pregnancies):
        if p.ga is None:
            continue
        spontaneous_birth = (
            p.outcome == "live_birth"
            and p.ga < preterm
            and p.preterm_cause in ("spontaneous", None)
        )
        if (
            (is_second_trimester_loss(p, kb) and p.missed is not True) or spontaneous_birth
        ) and lo <= p.ga < hi:
            spont.append(i)
        # RCOG GTG 75 / NICE NG25: a spontaneous second-trimester loss or preterm birth - a
        # missed miscarriage (fetal death found on a scan, no labour, no cervical history) is
        # not a cervical event and does not start cervical surveillance
        cervical_loss = is_second_trimester_loss(p, kb) and (
            p.missed is not True or p.painless_cervical_dilation is True
        )
        if cervical_loss or spontaneous_birth:
            cerclage_events.append(i)
    # a preterm birth without a recorded cause is counted (missing surveillance is the worse
    # error) but never silently: the finding says the cause was assumed
    unknown = [
        i
        for i in cerclage_events
        if case.pregnancies[i].outcome == "live_birth" and case.pregnancies[i].preterm_cause is None
    ]
    caveat = (
        kb.say(
            "text.preterm_cause_assumed",
            paths=", ".join(f"pregnancies[{i}]" for i in unknown),
        )
        if unknown
        else ""
    )
    if cerclage_events:
        fs.add(
            "history.second_trimester_loss_or_spontaneous_preterm",
            kb.say("history.second_trimester_loss_or_spontaneous_preterm", caveat=caveat),
            [f"pregnancies[{i}]" for i in cerclage_events],
        )
    if spont:
        fs.add(
            "history.spontaneous_preterm_or_midtrimester_loss",
            kb.say("history.spontaneous_preterm_or_midtrimester_loss", caveat=caveat),
            [f"pregnancies[{i}]" for i in spont],
        )
    if len(cerclage_events) >= kb.param("cerclage.history_min_events"):
        fs.add(
            "history.three_preterm_or_second_trimester",
            kb.say(
                "history.three_preterm_or_second_trimester", n=len(cerclage_events), caveat=caveat
            ),
            [f"pregnancies[{i}]" for i in cerclage_events],
        )
    painless = [
        i
        for i, p in enumerate(case.pregnancies)
        if is_second_trimester_loss(p, kb) and p.painless_cervical_dilation
    ]
    if painless or "cervical_insufficiency" in case.patient.conditions:
        ev = [f"pregnancies[{i}]" for i in painless] or ["patient.conditions"]
        fs.add(
            "cause.cervical_insufficiency_history",
            kb.say("cause.cervical_insufficiency_history"),
            ev,
        )
    aneu = [
        i
        for i, p in enumerate(case.pregnancies)
        if p.poc_karyotype and aneuploid(p.poc_karyotype, kb)
    ]
    if aneu:
        fs.add(
            "state.fetal_aneuploidy_explained_loss",
            kb.say("state.fetal_aneuploidy_explained_loss"),
            [f"pregnancies[{i}]" for i in aneu],
            {"karyotypes": [case.pregnancies[i].poc_karyotype for i in aneu]},
        )
    unbal = [
        i
        for i, p in enumerate(case.pregnancies)
        if p.poc_karyotype and unbalanced_structural(p.poc_karyotype, kb)
    ]
    if unbal:
        fs.add(
            "state.poc_unbalanced_structural",
            kb.say("state.poc_unbalanced_structural"),
            [f"pregnancies[{i}]" for i in unbal],
        )


def _aps(case: Case, cls: Classification, kb: KnowledgeBase, fs: FindingSet, facts: Facts) -> None:
    a = facts.aps(kb)
    ev = [f"results[{i}]" for i in a.any_positive]
    if a.any_positive:
        fs.add(
            "state.antiphospholipid_any_positive",
            kb.say("state.antiphospholipid_any_positive"),
            ev,
        )
    if a.sydney or a.recorded_condition:
        crit = [c["text"] for c in a.clinical]
        persistent = {f: [f"results[{i}]" for i in pair] for f, pair in a.persistent.items()}
        bits = []
        aps_id = "cause.antiphospholipid_syndrome"
        if a.sydney:
            bits.append(
                kb.say(
                    f"{aps_id}:sydney",
                    criteria="; ".join(crit),
                    persistent=", ".join(
                        kb.say(f"{aps_id}:persistent_antibody", antibody=f.upper())
                        for f in persistent
                    ),
                )
            )
        if a.recorded_condition:
            bits.append(kb.say(f"{aps_id}:recorded"))
        if (
            a.provisional_reasons
            and a.sydney
            and all(c["criterion"] == "three_early_losses" for c in a.clinical)
        ):
            bits.append(kb.say(f"{aps_id}:provisional", reasons=", ".join(a.provisional_reasons)))
        subtype = "thrombotic" if a.thrombotic else "obstetric"
        evidence = [e for pair in persistent.values() for e in pair] + [
            e for c in a.clinical for e in c["evidence"]
        ]
        if a.recorded_condition:
            evidence.append("patient.conditions")
        fs.add(
            aps_id,
            kb.say(aps_id, subtype=kb.say(f"{aps_id}:subtype_{subtype}"), bits="; ".join(bits)),
            evidence,
            {
                "subtype": subtype,
                "sydney2006": a.sydney,
                "provisional": bool(a.provisional_reasons),
                "acr_eular_2023": a.acr_eular,
            },
        )
        if a.thrombotic:
            fs.add("state.aps_thrombotic", kb.say("state.aps_thrombotic"), evidence)
        else:
            fs.add("state.aps_obstetric", kb.say("state.aps_obstetric"), evidence)
    elif a.persistent:
        fs.add(
            "state.antiphospholipid_persistent_noncriteria",
            kb.say(
                "state.antiphospholipid_persistent_noncriteria",
                window=f" ({a.window_problem})" if a.window_problem else "",
            ),
            [f"results[{i}]" for pair in a.persistent.values() for i in pair],
            {"acr_eular_2023": a.acr_eular},
        )
    if a.any_positive and not a.persistent:
        fs.add(
            "state.antiphospholipid_positive_unconfirmed",
            kb.say("state.antiphospholipid_positive_unconfirmed"),
            ev,
        )
    unknown = [i for f in a.lab.values() for i in f.titre_unknown]
    if unknown:
        fs.add(
            "state.antiphospholipid_titre_unknown",
            kb.say("state.antiphospholipid_titre_unknown"),
            [f"results[{i}]" for i in unknown],
        )
    thromb = [
        c for c in ("venous_thromboembolism", "arterial_thrombosis") if c in case.patient.conditions
    ]
    if thromb:
        fs.add(
            "history.thrombosis",
            kb.say("history.thrombosis"),
            ["patient.conditions"],
        )


def _thyroid(
    case: Case, facts: Facts, cls: Classification, kb: KnowledgeBase, fs: FindingSet
) -> None:
    tsh = facts.latest("tsh")
    ft4 = facts.latest("free_t4")
    tpo = facts.latest("tpo_antibodies")
    tpo_pos = None
    if tpo:
        r = tpo[1]
        tpo_pos = (
            r.qualitative == "positive"
            if r.qualitative
            else (r.si is not None and r.ref_high_si is not None and r.si > r.ref_high_si)
        )
        if tpo_pos:
            fs.add("state.tpo_positive", kb.say("state.tpo_positive"), [f"results[{tpo[0]}]"])
        elif r.qualitative != "equivocal":
            fs.add("state.tpo_negative", kb.say("state.tpo_negative"), [f"results[{tpo[0]}]"])
    if "levothyroxine" in case.patient.medications or (
        case.current_pregnancy and "levothyroxine" in case.current_pregnancy.treatments
    ):
        fs.add(
            "current.on_levothyroxine", kb.say("current.on_levothyroxine"), ["patient.medications"]
        )
    if "hypothyroidism" in case.patient.conditions:
        fs.add("history.hypothyroidism", kb.say("history.hypothyroidism"), ["patient.conditions"])
    if not tsh:
        return
    i, r = tsh
    value = r.si
    assert value is not None
    upper = r.ref_high_si if r.ref_high_si is not None else kb.param("thyroid.tsh_upper_default")
    lower = r.ref_low_si if r.ref_low_si is not None else kb.param("thyroid.tsh_lower_default")
    rng = "lab_range" if r.ref_high_si is not None else "default_range"
    ev = [f"results[{i}]"]
    if value > upper or value < lower:
        fs.add(
            "state.tsh_out_of_range",
            kb.say(
                f"state.tsh_out_of_range:{rng}",
                value=f"{value:g}",
                lower=f"{lower:g}",
                upper=f"{upper:g}",
            ),
            ev,
        )
    ft4_low = ft4_normal = False
    if ft4:
        fi, fr = ft4
        if fr.ref_low_si is not None and fr.si is not None and fr.si < fr.ref_low_si:
            ft4_low = True
        elif fr.ref_low_si is not None or fr.ref_high_si is not None:
            ft4_normal = (
                fr.si is not None
                and (fr.ref_low_si is None or fr.si >= fr.ref_low_si)
                and (fr.ref_high_si is None or fr.si <= fr.ref_high_si)
            )
        ev_ft4 = [*ev, f"results[{fi}]"]
    overt_limit = kb.param("thyroid.tsh_overt")
    if value > overt_limit:
        # levothyroxine is recommended above this TSH whatever free T4 shows (ATA 2017 rec. 29)
        fs.add(
            "state.tsh_above_overt_limit",
            kb.say("state.tsh_above_overt_limit", value=f"{value:g}"),
            ev,
        )
    # overt hypothyroidism needs a low free T4 (issue 9 §5); TSH alone is not enough
    if value > upper and ft4_low:
        fs.add(
            "cause.overt_hypothyroidism",
            kb.say("cause.overt_hypothyroidism:ft4_low", value=f"{value:g}"),
            ev_ft4 if ft4 else ev,
        )
    elif value > upper:
        t4 = "ft4_normal" if ft4_normal else "ft4_no_range" if ft4 else "ft4_missing"
        fs.add(
            "cause.subclinical_hypothyroidism",
            kb.say(
                f"cause.subclinical_hypothyroidism:{t4}", value=f"{value:g}", upper=f"{upper:g}"
            ),
            ev_ft4 if ft4 else ev,
        )
    elif value >= lower and tpo_pos:
        fs.add(
            "state.thyroid_autoimmunity",
            kb.say("state.thyroid_autoimmunity", value=f"{value:g}"),
            [*ev, f"results[{tpo[0]}]"] if tpo else ev,
        )
    target = kb.param("thyroid.tsh_preconception_target")
    if value >= target:
        fs.add(
            "state.tsh_at_or_above_preconception_target",
            kb.say("state.tsh_at_or_above_preconception_target", value=f"{value:g}"),
            ev,
        )


def _metabolic(
    case: Case, facts: Facts, cls: Classification, kb: KnowledgeBase, fs: FindingSet, today: date
) -> None:
    conds = set(case.patient.conditions)
    diabetes = conds & {"diabetes_type1", "diabetes_type2"}
    if diabetes:
        fs.add("history.diabetes", kb.say("history.diabetes"), ["patient.conditions"])
        latest = facts.latest("hba1c")
        recent_days = kb.param("diabetes.hba1c_recent_days")
        if latest is None or (case.day - latest[1].day).days > recent_days:
            fs.add(
                "gap.hba1c_recent",
                kb.say("gap.hba1c_recent"),
                [f"results[{latest[0]}]"] if latest else ["patient.conditions"],
            )
        if latest:
            i, r = latest
            v = r.si
            assert v is not None
            if v >= kb.param("diabetes.hba1c_target"):
                fs.add(
                    "cause.diabetes_suboptimal",
                    kb.say("cause.diabetes_suboptimal", value=f"{v:.0f}"),
                    [f"results[{i}]", "patient.conditions"],
                )
            if v > kb.param("diabetes.hba1c_avoid_pregnancy"):
                fs.add(
                    "state.diabetes_avoid_pregnancy",
                    kb.say("state.diabetes_avoid_pregnancy", value=f"{v:.0f}"),
                    [f"results[{i}]"],
                )
    if case.patient.menstrual_cycle in ("oligomenorrhoea", "amenorrhoea"):
        fs.add(
            "state.cycle_oligo_amenorrhoea",
            kb.say("state.cycle_oligo_amenorrhoea", cycle=case.patient.menstrual_cycle),
            ["patient.menstrual_cycle"],
        )
    prl = facts.latest("prolactin")
    # compared with the lab's range in the unit the lab reported (ug/L or mIU/L, issue 9 §4)
    if prl and prl[1].above_reference_high:
        fs.add(
            "cause.hyperprolactinaemia",
            kb.say(
                "cause.hyperprolactinaemia:result",
                value=f"{prl[1].value:g}",
                unit=str(prl[1].unit),
                high=f"{prl[1].reference_high:g}",
            ),
            [f"results[{prl[0]}]"],
        )
    elif prl and prl[1].reference_high is None:
        fs.add(
            "state.prolactin_no_range",
            kb.say("state.prolactin_no_range"),
            [f"results[{prl[0]}]"],
        )
    if "hyperprolactinaemia" in conds:
        fs.add(
            "cause.hyperprolactinaemia",
            kb.say("cause.hyperprolactinaemia:recorded"),
            ["patient.conditions"],
        )
    if "pcos" in conds:
        fs.add("history.pcos", kb.say("history.pcos"), ["patient.conditions"])
    if case.patient.bmi is not None and case.patient.bmi >= kb.param("lifestyle.bmi_obese"):
        fs.add(
            "state.obesity",
            kb.say("state.obesity:bmi", bmi=f"{case.patient.bmi:g}"),
            ["patient.bmi"],
        )
    elif "obesity" in conds:
        fs.add("state.obesity", kb.say("state.obesity:recorded"), ["patient.conditions"])


def _anatomy(
    case: Case, facts: Facts, cls: Classification, kb: KnowledgeBase, fs: FindingSet
) -> None:
    mapping = kb.param("anatomy.imaging_findings")
    for i, r in facts.all("uterine_imaging"):
        fid = mapping.get(r.finding or "")
        if fid:
            label = (r.finding or "").replace("_", " ")
            fs.add(
                fid,
                kb.say(
                    "text.uterine_imaging_finding",
                    method=(r.method or "").replace("_", " "),
                    day=r.day,
                    label=label,
                ),
                [f"results[{i}]"],
            )
    if "uterine_anomaly" in case.patient.conditions:
        fs.add(
            "cause.other_uterine_anomaly",
            kb.say("cause.other_uterine_anomaly:recorded"),
            ["patient.conditions"],
        )


def classify_karyotype(k: str, kb: KnowledgeBase) -> str:
    """normal | normal_variant | structural | numerical, for a parental ISCN string."""
    rest = k.replace(" ", "").lower()
    variant = False
    for b in kb.param("genetics.benign_heteromorphisms"):
        if b.lower() in rest:
            variant = True
            rest = rest.replace(b.lower(), "")
    if any(tag in rest for tag in kb.param("genetics.structural_rearrangement_tags")):
        return "structural"
    if aneuploid(k, kb):
        return "numerical"
    return "normal_variant" if variant else "normal"


def _genetics(
    case: Case, facts: Facts, cls: Classification, kb: KnowledgeBase, fs: FindingSet
) -> None:
    karyos: list[tuple[str, str, str]] = []  # (path, who, iscn)
    for code in ("karyotype_female", "karyotype_male"):
        who = kb.say(f"text.parent.{code}")
        latest = facts.latest(code)
        if latest and isinstance(latest[1].value, str):
            karyos.append((f"results[{latest[0]}]", who, latest[1].value))
    if case.partner.karyotype and not facts.latest("karyotype_male"):
        karyos.append(
            ("partner.karyotype", kb.say("text.parent.karyotype_male"), case.partner.karyotype)
        )
    if case.gestational_carrier:
        # her own karyotype (karyotype_female) is not the genetic mother's unless stated; the
        # case format says karyotype_female is the egg source's, so it counts as given
        fs.add(
            "state.gestational_carrier",
            kb.say("state.gestational_carrier"),
            ["gestational_carrier"],
        )
    if karyos:
        fs.add(
            "done.parental_karyotype",
            kb.say("done.parental_karyotype"),
            [p for p, _, _ in karyos],
        )
    for path, who, iscn in karyos:
        kind = classify_karyotype(iscn, kb)
        if kind == "structural":
            fs.add(
                "cause.parental_structural_rearrangement",
                kb.say("cause.parental_structural_rearrangement", who=who, iscn=iscn),
                [path],
            )
        elif kind == "normal_variant":
            fs.add(
                "state.karyotype_normal_variant",
                kb.say("state.karyotype_normal_variant", who=who, iscn=iscn),
                [path],
            )


def _lifestyle(case: Case, kb: KnowledgeBase, fs: FindingSet) -> None:
    p = case.patient
    if p.smoking:
        fs.add("cause.lifestyle_smoking", kb.say("cause.lifestyle_smoking"), ["patient.smoking"])
    if p.bmi is not None:
        if p.bmi > kb.param("lifestyle.bmi_high"):
            obese = p.bmi >= kb.param("lifestyle.bmi_obese")
            fs.add(
                "cause.lifestyle_bmi_high",
                kb.say(
                    "cause.lifestyle_bmi_high:obese" if obese else "cause.lifestyle_bmi_high",
                    bmi=f"{p.bmi:g}",
                ),
                ["patient.bmi"],
            )
        elif p.bmi < kb.param("lifestyle.bmi_low"):
            fs.add(
                "cause.lifestyle_bmi_low",
                kb.say("cause.lifestyle_bmi_low", bmi=f"{p.bmi:g}"),
                ["patient.bmi"],
            )
    if p.alcohol_units_per_week is not None and p.alcohol_units_per_week > kb.param(
        "lifestyle.alcohol_units_week"
    ):
        fs.add(
            "cause.lifestyle_alcohol",
            kb.say("cause.lifestyle_alcohol", units=f"{p.alcohol_units_per_week:g}"),
            ["patient.alcohol_units_per_week"],
        )
    if p.caffeine_mg_per_day is not None and p.caffeine_mg_per_day > kb.param(
        "lifestyle.caffeine_mg_day"
    ):
        fs.add(
            "cause.lifestyle_caffeine",
            kb.say("cause.lifestyle_caffeine", mg=f"{p.caffeine_mg_per_day:g}"),
            ["patient.caffeine_mg_per_day"],
        )
    if any(f.id.startswith("cause.lifestyle_") for f in fs):
        fs.add(
            "state.lifestyle_factor",
            kb.say("state.lifestyle_factor"),
            [e for f in fs if f.id.startswith("cause.lifestyle_") for e in f.evidence],
        )


def _proposed(proposed: ProposedOrders, kb: KnowledgeBase, fs: FindingSet) -> None:
    """Draft orders: the same `recorded.*` finding as a record of the item, evidence the order."""
    for path, items, table in (
        ("proposed.medications", proposed.medications, RECORDED_TREATMENTS),
        ("proposed.tests", proposed.tests, NOT_ROUTINE_RECORDED),
    ):
        for j, item in enumerate(items):
            fid = table.get(item)
            if fid:
                fs.add(
                    fid,
                    kb.say("text.proposed_order", item=item.replace("_", " ")),
                    [f"{path}[{j}]"],
                )


def _recorded(case: Case, facts: Facts, kb: KnowledgeBase, fs: FindingSet) -> None:
    voc = vocabulary()
    for code, fid in NOT_ROUTINE_RECORDED.items():
        rows = facts.all(code)
        if rows:
            fs.add(
                fid,
                kb.say("text.recorded_test_result", meaning=voc.tests[code].meaning),
                [f"results[{i}]" for i, _ in rows],
            )
    for path, meds in (
        ("patient.medications", case.patient.medications),
        (
            "current_pregnancy.treatments",
            case.current_pregnancy.treatments if case.current_pregnancy else [],
        ),
    ):
        for j, m in enumerate(meds):
            tid = RECORDED_TREATMENTS.get(m)
            if tid:
                fs.add(
                    tid,
                    kb.say("text.recorded_treatment", treatment=m.replace("_", " ")),
                    [f"{path}[{j}]"],
                )
            if m in ("low_dose_aspirin", "lmwh"):
                fs.add(
                    "recorded.aspirin_or_heparin",
                    kb.say("recorded.aspirin_or_heparin"),
                    [f"{path}[{j}]"],
                )
    if case.proposed is not None:
        _proposed(case.proposed, kb, fs)
    for code in ("factor_v_leiden", "prothrombin_mutation", "protein_s"):
        for i, r in facts.all(code):
            if r.qualitative == "positive" or (
                isinstance(r.value, str) and "positive" in r.value.lower()
            ):
                fs.add(
                    "state.inherited_thrombophilia",
                    kb.say("state.inherited_thrombophilia:result"),
                    [f"results[{i}]"],
                )
    if "thrombophilia_inherited" in case.patient.conditions:
        fs.add(
            "state.inherited_thrombophilia",
            kb.say("state.inherited_thrombophilia:recorded"),
            ["patient.conditions"],
        )


def _current(
    case: Case,
    cls: Classification,
    kb: KnowledgeBase,
    fs: FindingSet,
    preg: PregnancyContext | None,
) -> None:
    cp = case.current_pregnancy
    if cp is None or preg is None:
        fs.add("current.not_pregnant", kb.say("current.not_pregnant"))
        fs.add("state.folic_acid_window", kb.say("state.folic_acid_window:planning"))
        return
    fs.add("current.pregnant", kb.say("current.pregnant"), ["current_pregnancy"])
    ga = preg.ga_days
    if ga is not None and ga >= kb.param("folic.stop_ga_days"):
        fs.add(
            "current.ga_12w_plus",
            kb.say("current.ga_12w_plus", ga=format_ga(ga)),
            ["current_pregnancy"],
        )
    else:
        fs.add(
            "state.folic_acid_window",
            kb.say(
                "state.folic_acid_window:pregnant"
                if ga is not None
                else "state.folic_acid_window:ga_unknown"
            ),
            ["current_pregnancy"],
        )
    if ga is not None and ga >= kb.param("luteal.nice_stop_ga_days"):
        fs.add(
            "current.ga_16w_plus",
            kb.say("current.ga_16w_plus", ga=format_ga(ga)),
            ["current_pregnancy"],
        )
    if "bleeding" in cp.symptoms:
        fs.add(
            "current.bleeding",
            kb.say("current.bleeding"),
            ["current_pregnancy.symptoms"],
        )
    else:
        fs.add(
            "current.no_bleeding",
            kb.say("current.no_bleeding"),
            ["current_pregnancy.symptoms"],
        )
    if "pain" in cp.symptoms:
        fs.add("current.pain", kb.say("current.pain"), ["current_pregnancy.symptoms"])
    scans = [f"current_pregnancy.scans[{i}]" for i in range(len(cp.scans))]
    if preg.intrauterine:
        fs.add("current.intrauterine_confirmed", kb.say("current.intrauterine_confirmed"), scans)
    status = preg.viability
    if status == "failure_diagnostic":
        fs.add("current.failure_diagnosed", kb.say("current.failure_diagnosed"), scans)
    elif status == "ectopic":
        fs.add("current.ectopic", kb.say("current.ectopic"), scans)
    elif status in ("location_unknown", "not_assessable") and not preg.intrauterine:
        fs.add(
            "current.location_unknown",
            kb.say("current.location_unknown"),
            scans or ["current_pregnancy"],
        )
    if status == "failure_suspicious":
        fs.add(
            "current.failure_suspected",
            kb.say("current.failure_suspected"),
            scans,
        )
    if preg.art:
        fs.add("current.art", kb.say("current.art"), ["current_pregnancy.conception"])
        if preg.art_progesterone_required:
            fs.add(
                "current.art_progesterone_integral",
                kb.say("current.art_progesterone_integral"),
                ["current_pregnancy.conception", "current_pregnancy.endometrial_preparation"],
            )
        elif preg.art_preparation_unknown:
            fs.add(
                "current.art_preparation_unknown",
                kb.say("current.art_preparation_unknown"),
                ["current_pregnancy.endometrial_preparation"],
            )
        else:
            fs.add(
                "current.art_progesterone_optional",
                kb.say("current.art_progesterone_optional"),
                ["current_pregnancy.endometrial_preparation"],
            )
    if cp.fetuses == 1:
        fs.add("current.singleton", kb.say("current.singleton"), ["current_pregnancy.fetuses"])
    elif cp.fetuses and cp.fetuses > 1:
        fs.add(
            "current.multiple",
            kb.say("current.multiple", n=cp.fetuses),
            ["current_pregnancy.fetuses"],
        )
    if preg.cervical_length_short:
        fs.add(
            "current.short_cervix",
            kb.say("current.short_cervix"),
            [f"current_pregnancy.scans[{i}]" for i in preg.cervical_length_short],
        )
    progs = [m for m in cp.treatments if m in vocabulary().progestogens]
    if progs:
        fs.add(
            "current.on_progestogen",
            kb.say("current.on_progestogen", names=", ".join(progs)),
            ["current_pregnancy.treatments"],
        )


def _workup(
    case: Case, facts: Facts, cls: Classification, kb: KnowledgeBase, fs: FindingSet
) -> None:
    has = facts.by_code.__contains__
    # an aPL result given as a bound ("<2 GPL") was tested: the APS criteria read it as a bound
    la = bool(facts.tested("lupus_anticoagulant"))
    acl = bool(facts.tested("anticardiolipin_igg") or facts.tested("anticardiolipin_igm"))
    if la and acl:
        fs.add(
            "done.antiphospholipid",
            kb.say("done.antiphospholipid"),
            [
                f"results[{i}]"
                for c in ("lupus_anticoagulant", "anticardiolipin_igg", "anticardiolipin_igm")
                for i, _ in facts.tested(c)
            ],
        )
    else:
        missing = [
            kb.say(f"gap.antiphospholipid:{n}")
            for n, ok in (("lupus_anticoagulant", la), ("anticardiolipin", acl))
            if not ok
        ]
        fs.add("gap.antiphospholipid", kb.say("gap.antiphospholipid", missing=", ".join(missing)))
    b2 = [f"results[{i}]" for c in ("anti_b2gpi_igg", "anti_b2gpi_igm") for i, _ in facts.tested(c)]
    if b2:
        fs.add("done.anti_b2gpi", kb.say("done.anti_b2gpi"), b2)
    else:
        fs.add("gap.anti_b2gpi", kb.say("gap.anti_b2gpi"))
    if has("tsh") and has("tpo_antibodies"):
        fs.add(
            "done.thyroid_function",
            kb.say("done.thyroid_function"),
            [f"results[{i}]" for c in ("tsh", "tpo_antibodies") for i, _ in facts.all(c)],
        )
    else:
        missing = [
            kb.say(f"gap.thyroid_function:{n}") for n in ("tsh", "tpo_antibodies") if not has(n)
        ]
        fs.add("gap.thyroid_function", kb.say("gap.thyroid_function", missing=", ".join(missing)))
    if has("free_t4"):
        fs.add(
            "done.free_t4",
            kb.say("done.free_t4"),
            [f"results[{i}]" for i, _ in facts.all("free_t4")],
        )
    elif "state.tsh_out_of_range" in fs:
        fs.add("gap.free_t4", kb.say("gap.free_t4"))
    if has("uterine_imaging"):
        fs.add(
            "done.uterine_imaging",
            kb.say("done.uterine_imaging"),
            [f"results[{i}]" for i, _ in facts.all("uterine_imaging")],
        )
    else:
        fs.add("gap.uterine_imaging", kb.say("gap.uterine_imaging"))
    if has("full_blood_count"):
        fs.add(
            "done.full_blood_count",
            kb.say("done.full_blood_count"),
            [f"results[{i}]" for i, _ in facts.all("full_blood_count")],
        )
    else:
        fs.add("gap.full_blood_count", kb.say("gap.full_blood_count"))
    if "done.parental_karyotype" not in fs:
        fs.add("gap.parental_karyotype", kb.say("gap.parental_karyotype"))
    if not any(p.poc_karyotype for p in case.pregnancies):
        fs.add("gap.poc_karyotype", kb.say("gap.poc_karyotype"))
    if cls.care_tier == kb.param("class.care_tier_max"):
        fs.add("state.care_tier_3", kb.say("state.care_tier_3"))
    workup_gaps = [
        g
        for g in ("gap.antiphospholipid", "gap.thyroid_function", "gap.uterine_imaging")
        if g in fs
    ]
    if "state.rpl" in fs and workup_gaps:
        fs.add(
            "state.workup_incomplete",
            kb.say(
                "state.workup_incomplete",
                gaps="; ".join(f.text.rstrip(".") for g in workup_gaps if (f := fs.get(g))),
            ),
        )
    causes = [f.id for f in fs if f.id.startswith("cause.")]
    if "state.rpl" in fs and not workup_gaps and not causes:
        fs.add(
            "cause.unexplained",
            kb.say("cause.unexplained"),
        )
