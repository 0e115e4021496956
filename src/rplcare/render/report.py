"""Clinician report of an assessment as self-contained, printable HTML.

Rendering is a pure function of the assessment JSON, the case and the recorded overrides, so the
web page, the PDF and an archived copy show the same thing. Everything is escaped (autoescape);
the only markup inserted unescaped is the SVG chart this package draws itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from rplcare.knowledge import get_kb
from rplcare.reasoning.actions import fold_not_recommended
from rplcare.render.chart import hcg_chart_svg, inline_svg

TEMPLATES = Path(__file__).parent / "templates"
LOCALE_DIR = Path(__file__).parent / "locale"
# public language code -> (gettext catalog, Babel locale for dates)
LANGS: dict[str, tuple[str, str]] = {"en": ("en", "en_GB"), "zh": ("zh_Hans", "zh_Hans_CN")}
STATUS_ORDER = ("recommended", "conditional", "not_recommended")


def N_(message: str) -> str:
    """Mark a string for extraction (`pybabel extract -k N_`); it is translated where shown."""
    return message


# The words of rplcare.reasoning.assess.DISCLAIMER, written out here so the catalog has them.
DISCLAIMER = N_(
    "Decision support, not diagnosis: every recommendation is for a clinician to "
    "review against the full clinical picture."
)


URGENCY_LABELS = {
    "immediate": N_("Immediate"),
    "same_day": N_("Same day"),
    "within_24h": N_("Within 24 h"),
    "routine": N_("Routine"),
}


def urgency_labels(lang: str = "en") -> dict[str, str]:
    t = catalog(lang)
    return {k: t.gettext(v) for k, v in URGENCY_LABELS.items()}


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (allowed: {', '.join(LANGS)})")
    return lang


def as_date(value: Any) -> date | None:
    """A date from an ISO string, date or datetime; None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        return None


@cache
def catalog(lang: str = "en") -> Any:
    """The compiled gettext catalog of a language (babel Translations), for Python-side strings."""
    from babel.support import Translations

    return Translations.load(str(LOCALE_DIR), [LANGS[_lang(lang)][0]], domain="messages")


@cache
def environment(lang: str = "en") -> Environment:
    """One Jinja environment per language, with its gettext catalog and date filter installed."""
    from babel.dates import format_date

    date_locale = LANGS[_lang(lang)][1]
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html", "xml"), default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(catalog(lang), newstyle=True)  # type: ignore[attr-defined]

    def fmt_date(value: Any, fmt: str = "long") -> str:
        day = as_date(value)
        return format_date(day, fmt, locale=date_locale) if day else str(value or "—")

    env.filters["date"] = fmt_date
    env.globals["lang"] = lang
    env.globals["html_lang"] = "zh-Hans" if lang == "zh" else "en"
    return env


_PATH_TOKEN = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")
_SUMMARY_KEYS = (
    "test",
    "outcome",
    "value",
    "unit",
    "finding",
    "method",
    "ga",
    "date",
    "year",
    "location",
    "crl_mm",
    "heartbeat",
)


def evidence_label(case: Mapping[str, Any] | None, path: str) -> str:
    """What an evidence path points at in the case (`results[0]` -> `tsh 6.3 mIU/L 2026-10-14`),
    so a reader can check the finding without opening the case file; '' if it does not resolve."""
    node: Any = case or {}
    for name, index in _PATH_TOKEN.findall(path):
        try:
            node = node[name] if name else node[int(index)]
        except (KeyError, IndexError, TypeError):
            return ""
    if isinstance(node, Mapping):
        parts = [
            f"{k}={node[k]}" if k in ("ga", "crl_mm", "heartbeat") else str(node[k])
            for k in _SUMMARY_KEYS
            if node.get(k) not in (None, "")
        ]
        return " ".join(parts)
    return "" if node is None else str(node)


# what the top-level lists of a case are called for a reader (record words, not clinical facts)
_PATH_WORDS = {
    "pregnancies": "past pregnancy",
    "results": "result",
    "scans": "scan",
    "medications": "medication",
    "current_pregnancy": "current pregnancy",
    "partner": "partner",
    "patient": "patient",
}
# the same words in Simplified Chinese (the report and pages in zh)
_PATH_WORDS_ZH = {
    "pregnancies": "既往妊娠",
    "results": "检查结果",
    "scans": "超声",
    "medications": "药物",
    "current_pregnancy": "本次妊娠",
    "partner": "配偶",
    "patient": "患者",
    "symptoms": "症状",
    "hcg": "hCG",
    "progesterone": "孕酮",
    "treatments": "治疗",
    "conditions": "疾病史",
}


def path_label(case: Mapping[str, Any] | None, path: str, lang: str = "en") -> str:
    """A case path in reader's words: `results[5]` -> `result 6 (tsh 6.3 mIU/L 2026-10-14)`."""
    words = []
    table = _PATH_WORDS_ZH if lang == "zh" else _PATH_WORDS
    for name, index in _PATH_TOKEN.findall(path):
        if name:
            words.append(table.get(name, _PATH_WORDS.get(name, name.replace("_", " "))))
        else:
            words.append(str(int(index) + 1))
    what = evidence_label(case, path)
    head = " ".join(words) or path
    return f"{head} ({what})" if what and what != head else head


def _first(d: Mapping[str, Any], *keys: str) -> Any:
    return next((d[k] for k in keys if d.get(k) not in (None, "")), None)


def normalise_overrides(overrides: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Overrides in one shape: {recommendation_id, decision, reason, comment, who, when}.

    Accepts the spellings a store is likely to use (`recommendation`/`rec_id`, `reason_code`,
    `by`/`user`, `at`/`created_at`), so the report does not depend on one storage schema.
    """
    out = []
    for o in overrides or ():
        out.append(
            {
                "recommendation_id": _first(o, "recommendation_id", "recommendation", "rec_id"),
                "decision": _first(o, "decision", "action") or "overridden",
                "reason": _first(o, "reason", "reason_code", "code"),
                "comment": _first(o, "comment", "note", "text"),
                "who": _first(o, "who", "by", "user", "clinician"),
                "when": _first(o, "when", "at", "created_at", "created", "timestamp"),
            }
        )
    return out


def overridden_ids(overrides: Iterable[Mapping[str, Any]] | None) -> set[str]:
    """Recommendations a clinician overrode (whatever the reason): not a to-do for the patient."""
    return {
        str(o["recommendation_id"])
        for o in normalise_overrides(overrides)
        if o["decision"] == "overridden"
    }


def luteal_support_moot(
    assessment: Mapping[str, Any], overrides: Iterable[Mapping[str, Any]] | None
) -> bool:
    """True when every recommendation carrying a medicine schedule was overridden for a reason
    other than "done elsewhere" (declined, contraindicated, judgement): then no medicine is taken
    on this plan and neither the handout nor the calendar keeps its start/stop dates. Done
    elsewhere keeps them: she takes it, prescribed by someone else, and still needs the stop."""
    scheduled = {
        str(r.get("id")) for r in assessment.get("recommendations") or [] if r.get("schedule")
    }
    stopped = {
        str(o["recommendation_id"])
        for o in normalise_overrides(overrides)
        if o["decision"] == "overridden" and o["reason"] != "done_elsewhere"
    }
    return bool(scheduled) and scheduled <= stopped


def group_recommendations(
    recs: Iterable[Mapping[str, Any]], folded: Iterable[str] = ()
) -> dict[str, list[Mapping[str, Any]]]:
    """Recommendations by status, prominent (critical) ones first, otherwise in KB order.
    Deferred ones (pregnant now, planned for after this pregnancy) form their own group;
    folded routine not-recommended ids are left out (shown as one line with a count)."""
    groups: dict[str, list[Mapping[str, Any]]] = {s: [] for s in STATUS_ORDER}
    skip = set(folded)
    for r in recs:
        if r.get("id") in skip:
            continue
        status = str(r.get("status"))
        if r.get("timing") == "after_this_pregnancy" and status != "not_recommended":
            status = "deferred"
        groups.setdefault(status, []).append(r)
    for items in groups.values():
        items.sort(key=lambda r: not r.get("prominent"))
    return groups


def translated_assessment(assessment: Mapping[str, Any], lang: str) -> Mapping[str, Any]:
    """The assessment with its knowledge-base texts in `lang` (knowledge/data/zh_Hans): titles
    and clinician texts of recommendations and actions; a finding shows its translated
    definition with the computed English sentence (it carries the case's values) beside it.
    English, or a text without a translation, is left as it is."""
    from rplcare.knowledge.translations import translator

    t = translator(lang)
    if t is None:
        return assessment
    recs = [
        {**r, "title": t.title(str(r.get("id")), r.get("title")), "text": t.text(r.get("text"))}
        for r in assessment.get("recommendations") or ()
    ]
    actions = [{**x, "text": t.any(x.get("text"))} for x in assessment.get("actions") or ()]
    findings = []
    for f in assessment.get("findings") or ():
        said = t.sentence(f.get("text"))
        words = t.finding(str(f.get("id")))
        if said:
            findings.append({**f, "text": said})
        else:
            findings.append({**f, "text": f"{words}（{f.get('text')}）"} if words else dict(f))
    return {
        **assessment,
        "recommendations": recs,
        "actions": actions,
        "findings": findings,
        "pregnancy": t.tree(assessment.get("pregnancy")),
        "warnings": t.tree(assessment.get("warnings") or []),
    }


def report_context(
    assessment: Mapping[str, Any],
    case: Mapping[str, Any] | None,
    overrides: Iterable[Mapping[str, Any]] | None = None,
    chart: bool = True,
    lang: str = "en",
) -> dict[str, Any]:
    """Everything the report template needs, computed once here rather than in Jinja."""
    assessment = translated_assessment(assessment, lang)
    recs = list(assessment.get("recommendations") or [])
    actions = list(assessment.get("actions") or [])
    # recomputed from the recommendations shown (a stored assessment may predate folding)
    folded = fold_not_recommended(
        recs,
        keep={str(r.get("id")) for r in recs if r.get("asked_about")},
        minimum=int(get_kb().param("actions.fold_not_recommended_min")),
    )
    ovs = normalise_overrides(overrides)
    known = {r.get("id") for r in recs}
    by_rec: dict[str, list[dict[str, Any]]] = {}
    for o in ovs:
        by_rec.setdefault(str(o["recommendation_id"]), []).append(o)
    svg = hcg_chart_svg(dict(assessment)) if chart else None
    findings = []
    for f in assessment.get("findings") or ():
        if f.get("reported", True) is False:  # context facts stay in the JSON, not the report
            continue
        paths = [str(p) for p in f.get("evidence") or ()]
        findings.append({**f, "evidence_items": [(p, path_label(case, p, lang)) for p in paths]})
    return {
        "a": assessment,
        "case": case or {},
        "kb": assessment.get("knowledge_base") or {},
        "findings": findings,
        "finding_ids": {f.get("id") for f in findings},
        "finding_text": {
            f.get("id"): f.get("text") or f.get("id") for f in assessment.get("findings") or ()
        },
        "rec_title": {r.get("id"): r.get("title") or r.get("id") for r in recs},
        "path_label": lambda c, p: path_label(c, p, lang),
        "groups": group_recommendations(recs, folded["ids"]),
        "folded_recs": [r for r in recs if r.get("id") in set(folded["ids"])],
        "folded": folded,
        "actions": actions,
        "urgent_actions": [x for x in actions if x.get("urgency") != "routine"],
        "urgency_labels": urgency_labels(lang),
        "overrides": by_rec,
        "orphan_overrides": [o for o in ovs if o["recommendation_id"] not in known],
        "pregnancy": assessment.get("pregnancy"),
        # the only unescaped markup: an SVG this package drew, with escaped text
        "chart": Markup(inline_svg(svg)) if svg else None,
        "hcg_interval_h": get_kb().param("hcg.nice_interval_h"),
        # the KB's disclaimer, in the report's language when the catalog has it
        "disclaimer": catalog(lang).gettext(str(assessment.get("disclaimer") or DISCLAIMER)),
        "unverified_count": sum(
            1 for r in recs for s in r.get("sources") or [] if s.get("verified") is False
        ),
    }


def render_report_html(
    assessment_dict: Mapping[str, Any],
    case_dict: Mapping[str, Any] | None,
    overrides: list[dict[str, Any]] | None = None,
    lang: str = "en",
    patient: Mapping[str, Any] | None = None,
) -> str:
    """The clinician report as one self-contained HTML page (inline CSS and chart).

    Template strings follow `lang` ("en" or "zh"); clinical texts from the knowledge base and the
    calculators stay as written (English), since they are what the sources say. `patient`
    (name, birth_date, mrn, contact; kept apart from the case) heads the page when given.
    """
    env = environment(lang)
    context = report_context(assessment_dict, case_dict, overrides, lang=lang)
    return env.get_template("report.html").render(**context, patient=patient)
