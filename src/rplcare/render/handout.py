"""Plain-language patient handout (English or Simplified Chinese) from an assessment.

The handout repeats the assessment, never adds to it: what was found, what to do, what is not
advised and why, and a table of what the plan assumes (dates, medicines, next tests) so the
patient can catch a wrong date before it turns into a wrong stop date. Template strings are
translated with the Babel catalogs in `locale/`; knowledge-base texts with
`locale/zh_Hans/recommendations.yaml`. When the current pregnancy is recorded as lost the handout
drops every pregnancy reminder and schedule and switches to after-loss content (what next,
support, tests before trying again): reminders for a pregnancy that has ended do harm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, Literal

import yaml

from rplcare.render.report import (
    LANGS,
    LOCALE_DIR,
    N_,
    as_date,
    catalog,
    environment,
    luteal_support_moot,
    overridden_ids,
)

# Plain-language sentences for the causes the reasoning engine can report.
CAUSES: dict[str, str] = {
    "cause.antiphospholipid_syndrome": N_(
        "Your blood tests show antiphospholipid syndrome. This can cause miscarriage, and there "
        "is a treatment for the next pregnancy."
    ),
    "cause.cervical_insufficiency_history": N_(
        "A past late loss suggests the neck of the womb (cervix) opened too early."
    ),
    "cause.diabetes_suboptimal": N_("Your blood sugar is higher than the target for a pregnancy."),
    "cause.endometrial_polyp": N_("The scan showed a polyp (a small growth) inside the womb."),
    "cause.hyperprolactinaemia": N_("Your level of the hormone prolactin is high."),
    "cause.intrauterine_adhesions": N_("The scan showed scar tissue inside the womb."),
    "cause.lifestyle_alcohol": N_("You drink more alcohol than is advised."),
    "cause.lifestyle_bmi_high": N_("Your weight is above the healthy range."),
    "cause.lifestyle_bmi_low": N_("Your weight is below the healthy range."),
    "cause.lifestyle_caffeine": N_("You have more caffeine each day than is advised."),
    "cause.lifestyle_smoking": N_("You smoke."),
    "cause.other_uterine_anomaly": N_("The womb has a different shape from usual."),
    "cause.overt_hypothyroidism": N_("Your thyroid is underactive."),
    "cause.parental_structural_rearrangement": N_(
        "One genetic parent carries a change in how the chromosomes are arranged."
    ),
    "cause.septate_uterus": N_("The scan showed a wall (septum) inside the womb."),
    "cause.subclinical_hypothyroidism": N_("Your thyroid is slightly underactive."),
    "cause.submucosal_fibroid": N_("The scan showed a fibroid that changes the shape of the womb."),
    "cause.unexplained": N_(
        "The tests so far have not found a cause. This is common, and it does not mean a cause "
        "was missed."
    ),
}

MEDICINES: dict[str, str] = {
    "vaginal_progesterone": N_("Vaginal progesterone"),
    "intramuscular_progesterone": N_("Progesterone injections"),
    "oral_dydrogesterone": N_("Dydrogesterone tablets"),
    "low_dose_aspirin": N_("Low-dose aspirin"),
    "lmwh": N_("Heparin injections (low molecular weight heparin)"),
    "levothyroxine": N_("Levothyroxine (thyroid hormone)"),
    "metformin": N_("Metformin"),
    "bromocriptine": N_("Bromocriptine"),
    "cabergoline": N_("Cabergoline"),
    "prednisolone": N_("Prednisolone (a steroid)"),
    "folic_acid": N_("Folic acid"),
    "hydroxychloroquine": N_("Hydroxychloroquine"),
}
PROGESTOGENS = frozenset(
    {"vaginal_progesterone", "intramuscular_progesterone", "oral_dydrogesterone"}
)

EVENTS: dict[str, str] = {
    "next_scan": N_("Ultrasound scan"),
    "next_hcg": N_("Blood test for the pregnancy hormone (hCG)"),
    "urine_pregnancy_test": N_("Urine pregnancy test"),
    "cervical_length": N_("Scans to measure the neck of the womb (cervix)"),
    "cerclage": N_("Time for a stitch in the neck of the womb (cerclage)"),
    "luteal_stop": N_("Stop progesterone"),
}

DATING_BASIS: dict[str, str] = {
    "lmp": N_("from the first day of your last period"),
    "crl": N_("from the size of the baby on the scan"),
    "art": N_("from the date of the embryo transfer"),
}

VIABILITY: dict[str, str] = {
    "viable": N_("The scan on %(date)s showed the baby's heartbeat."),
    "too_early": N_(
        "On the scan on %(date)s it was too early to be sure how the pregnancy is "
        "growing. Another scan is planned."
    ),
    "failure_suspicious": N_(
        "The scan on %(date)s raised a concern about the pregnancy. Another "
        "scan is needed to be sure."
    ),
    "failure_diagnostic": N_(
        "The scan on %(date)s showed that the pregnancy has stopped growing. "
        "Your care team will talk with you about what happens next."
    ),
    "location_unknown": N_(
        "The scan has not yet shown where the pregnancy is. More tests are needed."
    ),
    "ectopic": N_(
        "The scan suggests the pregnancy is outside the womb (ectopic). This needs care today."
    ),
    "not_assessable": N_("There is no scan of this pregnancy yet."),
}

HCG: dict[str, str] = {
    "likely_intrauterine": N_("Your pregnancy hormone (hCG) rose as expected."),
    "review_within_24h": N_(
        "Your pregnancy hormone (hCG) did not rise as much as expected. Your "
        "clinic needs to see you again soon."
    ),
    "unlikely_to_continue": N_(
        "Your pregnancy hormone (hCG) went down. This usually means the "
        "pregnancy will not continue."
    ),
}

# Recommendations that tell the patient what not to do, although their status is "recommended".
AVOID_ADVICE = frozenset({"advice.no_bed_rest"})


@cache
def _zh_texts() -> dict[str, Any]:
    with (LOCALE_DIR / "zh_Hans" / "recommendations.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def localise_rec(rec: Mapping[str, Any], lang: str, pregnant: bool = False) -> dict[str, Any]:
    """A recommendation's title and patient text in `lang` (English ones are the KB's own, in
    pregnancy wording when she is pregnant; the zh catalog has `pregnant_patient_text`)."""
    out = {
        "id": rec.get("id"),
        "kind": rec.get("kind"),
        "status": rec.get("status"),
        "title": rec.get("title") or rec.get("id"),
        "patient_text": rec.get("patient_text"),
        "timing": rec.get("timing"),
    }
    if lang == "zh":
        zh = _zh_texts()["recommendations"].get(str(rec.get("id")))
        if zh:
            text = (zh.get("pregnant_patient_text") if pregnant else None) or zh["patient_text"]
            out.update(title=zh["title"], patient_text=text)
    return out


def localise_action(action: Mapping[str, Any], lang: str, pregnant: bool) -> dict[str, Any]:
    """One action of the ordered list in patient words (the handout's first section)."""
    text = action.get("patient_text") or action.get("text")
    title = None
    if lang == "zh":
        if action.get("kind") == "alert":
            text = _zh_texts().get("alerts", {}).get(str(action.get("id")), text)
        else:
            zh = _zh_texts()["recommendations"].get(str(action.get("id")))
            if zh:
                text = (zh.get("pregnant_patient_text") if pregnant else None) or zh["patient_text"]
                title = zh["title"]
    return {
        "id": action.get("id"),
        "urgency": action.get("urgency"),
        "due": action.get("due"),
        "patient_text": text,
        "title": title,
    }


def localise_regimen(regimen: str | None, lang: str) -> str | None:
    if regimen and lang == "zh":
        return _zh_texts().get("regimens", {}).get(regimen, regimen)
    return regimen


def pregnancy_bound(rec: Mapping[str, Any]) -> bool:
    """Whether a recommendation only makes sense while the current pregnancy goes on: it has a
    schedule, or one of its reasons is a fact about the current pregnancy (`current.*`, other
    than not being pregnant or a medicine she takes anyway)."""
    if rec.get("schedule"):
        return True
    return any(
        str(f).startswith("current.")
        and f != "current.not_pregnant"
        and not str(f).startswith("current.on_")
        for f in rec.get("because") or []
    )


def _ga_text(ga: str | None, t: Any) -> str | None:
    """'6+1' as '6 weeks and 1 day' (plain words instead of the clinical W+D notation)."""
    if not ga or "+" not in str(ga):
        return ga
    w, d = (int(x) for x in str(ga).split("+", 1))
    weeks = t.ngettext("%(num)d week", "%(num)d weeks", w) % {"num": w}
    if not d:
        return weeks
    days = t.ngettext("%(num)d day", "%(num)d days", d) % {"num": d}
    return t.gettext("%(weeks)s and %(days)s") % {"weeks": weeks, "days": days}


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _medicine_names(codes: Iterable[str], t: Any) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for code in codes:
        if code not in seen:
            seen[code] = t.gettext(MEDICINES[code]) if code in MEDICINES else code
    return list(seen.items())


def handout_context(
    assessment: Mapping[str, Any],
    case: Mapping[str, Any] | None,
    lang: str,
    lost: bool,
    overrides: Iterable[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The handout's content as plain data, localised; the template only lays it out.
    Recommendations a clinician overrode are not listed as things to do (the report shows the
    decision); a declined or contraindicated medicine loses its dates too."""
    t = catalog(lang)
    fmt = environment(lang).filters["date"]
    case = case or {}
    patient = case.get("patient") or {}
    cp = case.get("current_pregnancy") or {}
    preg = None if lost else assessment.get("pregnancy")
    cls = assessment.get("classification") or {}

    skip = overridden_ids(overrides)
    recs = [
        r
        for r in assessment.get("recommendations") or []
        if not (lost and pregnancy_bound(r)) and str(r.get("id")) not in skip
    ]
    pregnant = bool(cp) and not lost
    kept = {r.get("id") for r in recs}
    act_first = [
        localise_action(x, lang, pregnant)
        for x in assessment.get("actions") or []
        if x.get("urgency") != "routine"
        and (x.get("kind") != "alert" or not lost)
        and (x.get("kind") == "alert" or x.get("id") in kept)
    ]
    urgent_ids = {x["id"] for x in act_first}

    def later(r: Mapping[str, Any]) -> bool:
        return r.get("timing") == "after_this_pregnancy" and r.get("status") != "not_recommended"

    do_now = [
        localise_rec(r, lang, pregnant)
        for r in recs
        if r.get("status") == "recommended"
        and r.get("id") not in AVOID_ADVICE
        and r.get("id") not in urgent_ids
        and not later(r)
    ]
    consider = [
        localise_rec(r, lang, pregnant)
        for r in recs
        if r.get("status") == "conditional" and not later(r) and r.get("id") not in urgent_ids
    ]
    after_pregnancy = [localise_rec(r, lang, pregnant) for r in recs if later(r)]
    avoid = [
        localise_rec(r, lang, pregnant)
        for r in recs
        if r.get("status") == "not_recommended" or r.get("id") in AVOID_ADVICE
    ]
    avoid_tests = [r for r in avoid if r["kind"] == "test"]
    avoid_other = [r for r in avoid if r["kind"] != "test"]

    # what we found
    found: list[str] = []
    losses = int(cls.get("losses_counted") or 0)
    if losses:
        found.append(
            t.ngettext(
                "Your notes record %(num)d pregnancy loss before this one.",
                "Your notes record %(num)d pregnancy losses before this one.",
                losses,
            )
            % {"num": losses}
            if cp
            else t.ngettext(
                "You have had %(num)d pregnancy loss.",
                "You have had %(num)d pregnancy losses.",
                losses,
            )
            % {"num": losses}
        )
        if cls.get("rpl"):
            found.append(
                t.gettext(
                    "Doctors call this recurrent pregnancy loss. You are not to blame for it."
                )
            )
    for f in assessment.get("findings") or []:
        cause = CAUSES.get(str(f.get("id")))
        if cause:
            found.append(t.gettext(cause))
    if any(r["kind"] == "test" for r in do_now + consider):
        found.append(t.gettext("Some tests are still to be done. They are listed below."))

    pregnancy_lines: list[str] = []
    dates: list[tuple[str, str]] = []
    medicines: list[dict[str, str]] = []
    upcoming: list[tuple[str, str]] = []
    if preg:
        dating = preg.get("dating") or {}
        if dating.get("ga") and dating.get("edd"):
            pregnancy_lines.append(
                t.gettext("On %(date)s you were %(ga)s pregnant. Your due date is %(edd)s.")
                % {
                    "date": fmt(assessment.get("assessed_on")),
                    "ga": _ga_text(dating["ga"], t),
                    "edd": fmt(dating["edd"]),
                }
            )
        pairs = (preg.get("hcg") or {}).get("pairs") or []
        trend = HCG.get(str(pairs[-1].get("nice"))) if pairs else None
        if trend:
            pregnancy_lines.append(t.gettext(trend))
        via = preg.get("viability") or {}
        seen = VIABILITY.get(str(via.get("status")))
        if seen:
            pregnancy_lines.append(t.gettext(seen) % {"date": fmt(via.get("scan_date"))})
        if cp.get("lmp"):
            dates.append((t.gettext("First day of your last period"), fmt(cp["lmp"])))
        if cp.get("transfer_date"):
            value = fmt(cp["transfer_date"])
            if cp.get("embryo_age_days"):
                value += " · " + t.gettext("day-%(n)s embryo") % {"n": cp["embryo_age_days"]}
            dates.append((t.gettext("Embryo transfer"), value))
        if dating.get("edd"):
            basis = DATING_BASIS.get(str(dating.get("basis")))
            value = fmt(dating["edd"]) + (f" ({t.gettext(basis)})" if basis else "")
            dates.append((t.gettext("Due date"), value))
        if dating.get("ga"):
            dates.append(
                (
                    t.gettext("How far along on %(date)s")
                    % {"date": fmt(assessment.get("assessed_on"))},
                    _ga_text(dating["ga"], t) or "",
                )
            )
        lut = preg.get("luteal_support") or {}
        if (
            lut.get("indicated")
            and lut.get("regimen")
            and not luteal_support_moot(assessment, overrides)
        ):
            stop = fmt(lut["stop_date"]) if lut.get("stop_date") else t.gettext("ask your clinic")
            if lut.get("stop_ga"):
                stop += " (" + (_ga_text(lut["stop_ga"], t) or "") + ")"
            medicines.append(
                {
                    "name": _sentence_case(localise_regimen(lut["regimen"], lang) or ""),
                    "start": fmt(lut["start"])
                    if lut.get("start")
                    else t.gettext("as your clinic prescribed"),
                    "stop": stop,
                }
            )
        for e in preg.get("events") or []:
            if e.get("kind") == "luteal_stop" or str(e.get("kind")).startswith(
                ("alert.", "test.", "treat.", "advice.")
            ):
                continue  # luteal stop: in the medicines table; actions: in "Do this first"
            when = fmt(e.get("start"))
            if e.get("end"):
                when = t.gettext("between %(start)s and %(end)s") % {
                    "start": when,
                    "end": fmt(e["end"]),
                }
            label = EVENTS.get(str(e.get("kind")))
            upcoming.append((t.gettext(label) if label else str(e.get("title")), when))
    recorded = list(patient.get("medications") or [])
    if not lost:
        recorded += list(cp.get("treatments") or [])
    for code, name in _medicine_names(recorded, t):
        if medicines and code in PROGESTOGENS:
            continue  # the progesterone row above already has its dates
        medicines.append(
            {
                "name": name,
                "start": t.gettext("as prescribed"),
                "stop": t.gettext("ask your clinic"),
            }
        )
    when_test = (
        t.gettext("ask your clinic when") if preg else t.gettext("before your next pregnancy")
    )
    upcoming += [(r["title"], when_test) for r in do_now + consider if r["kind"] == "test"]
    history = [(t.gettext("Earlier pregnancy losses in your notes"), str(losses))]
    return {
        "lost": lost,
        "title_sep": "：" if lang == "zh" else ".",
        "found": found,
        "pregnancy_lines": pregnancy_lines,
        "act_first": act_first,
        "after_pregnancy": after_pregnancy,
        "do_now": do_now,
        "consider": consider,
        "avoid_other": avoid_other,
        "avoid_tests": avoid_tests,
        "dates": history + dates,
        "medicines": medicines,
        "upcoming": upcoming,
        "pregnant": bool(preg),
        "case_id": assessment.get("case_id"),
        "assessed_on": fmt(assessment.get("assessed_on")),
        "poc_testing": any(r.get("id") == "test.poc_genetics" for r in recs),
    }


def render_handout_html(
    assessment_dict: Mapping[str, Any],
    case_dict: Mapping[str, Any] | None,
    lang: Literal["en", "zh"] = "en",
    lost: bool = False,
    overrides: list[dict[str, Any]] | None = None,
    patient: Mapping[str, Any] | None = None,
) -> str:
    """The patient handout as one self-contained HTML page (`patient`: her name, date of
    birth, hospital number and contact, kept apart from the case, head it when given).

    `lost=True` when the current pregnancy is recorded as lost (the store knows; the case format
    has no field for it): no pregnancy dates, medicine schedule or reminders, but after-loss
    content instead.
    """
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (allowed: {', '.join(LANGS)})")
    return (
        environment(lang)
        .get_template("handout.html")
        .render(
            **handout_context(assessment_dict, case_dict, lang, lost, overrides), patient=patient
        )
    )


def render_handout_pdf(
    assessment_dict: Mapping[str, Any],
    case_dict: Mapping[str, Any] | None,
    lang: Literal["en", "zh"] = "en",
    lost: bool = False,
) -> bytes:
    """The handout as an A4 PDF (Chinese needs a CJK font such as Debian's fonts-noto-cjk)."""
    from rplcare.render.pdf import html_to_pdf

    return html_to_pdf(render_handout_html(assessment_dict, case_dict, lang, lost))


def localised_date(value: Any, lang: str) -> str:
    """A date as the handout prints it in `lang` (for callers and tests)."""
    day = as_date(value)
    return environment(lang).filters["date"](day) if day else ""
