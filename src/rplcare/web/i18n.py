"""The clinician pages in the user's language (issue 11 §6): English or Simplified Chinese.

Template strings (`{{ _("...") }}`, `{% trans %}`) and the Python-side words marked `N_` are
in the `clinician` gettext domain: `render/locale/clinician.pot`, with the Chinese in
`render/locale/zh_Hans/LC_MESSAGES/clinician.po` and its compiled `.mo` committed beside it, as
the handout catalogs are (tests/web/test_i18n_catalog.py checks both). English is the source
language: no catalog, the msgids show as written.

The language is a per-user preference: `GET /account/language/{lang}` (web/language.py) keeps
it on the user (`users.lang`, migration 0005), in the session, and in a long-lived cookie
`rplcare_lang` (so the login page of that browser speaks it too); at login the user's own
choice is copied into the session, on any browser. The report (HTML and PDF) follows it
unless a link asks for a language (`?lang=`); the handout keeps its own `?lang=` (the
patient's language).

One Jinja environment serves every language: its gettext callables read the language of the
page being rendered from a context variable, so imported macros translate too.

Extraction (from the repository root), then update and compile:
    pybabel extract -F src/rplcare/web/babel.cfg -k N_ --no-location --sort-output \
        -o src/rplcare/render/locale/clinician.pot src/rplcare/web
    pybabel update -D clinician -i src/rplcare/render/locale/clinician.pot \
        -d src/rplcare/render/locale -l zh_Hans --no-fuzzy-matching
    pybabel compile -D clinician -d src/rplcare/render/locale -l zh_Hans
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from typing import Any

from markupsafe import Markup

from rplcare.render.report import LOCALE_DIR

DOMAIN = "clinician"
#: public code -> (gettext catalog directory, html lang, name in its own language)
LANGS: dict[str, tuple[str, str, str]] = {
    "en": ("en", "en", "English"),
    "zh": ("zh_Hans", "zh-Hans", "中文"),
}
DEFAULT = "en"
COOKIE = "rplcare_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

_current: ContextVar[str] = ContextVar("rplcare_lang", default=DEFAULT)


def N_(message: str) -> str:
    """Mark a string for extraction (`pybabel extract -k N_`); it is translated where shown."""
    return message


def known(lang: Any) -> str | None:
    """The language code if it is one the pages offer, else None."""
    return lang if isinstance(lang, str) and lang in LANGS else None


def lang_of(request: Any) -> str:
    """The user's language: the session's, else the browser's cookie, else English."""
    session = request.scope.get("session") if hasattr(request, "scope") else None
    if session:
        chosen = known(session.get("lang"))
        if chosen:
            return chosen
    return known(request.cookies.get(COOKIE)) or DEFAULT


def use(lang: str) -> None:
    """The language of the page about to be rendered (this thread / task)."""
    _current.set(known(lang) or DEFAULT)


def current() -> str:
    return _current.get()


@cache
def catalog(lang: str) -> Any:
    """The clinician catalog of a language (babel Translations; null for English)."""
    from babel.support import NullTranslations, Translations

    if lang == DEFAULT:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [LANGS[lang][0]], domain=DOMAIN)


def gettext(message: str) -> str:
    return str(catalog(current()).gettext(message))


def ngettext(singular: str, plural: str, n: int) -> str:
    return str(catalog(current()).ngettext(singular, plural, n))


def pgettext(context: str, message: str) -> str:
    return str(catalog(current()).pgettext(context, message))


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return str(catalog(current()).npgettext(context, singular, plural, n))


def install(env: Any) -> None:
    """Gettext callables that follow `current()`, installed once on the pages' environment."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # newstyle: `_("%(n)s x", n=3)` formats and escapes
        gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext
    )
    env.globals["word"] = word
    env.filters["msg"] = message


#: messages the pages pass to templates from Python (translated there with `_(message)`)
MESSAGES = (
    N_("Unknown user name or wrong password."),
    N_("The server is busy: try again in a moment."),
    # outcomes page: rplcare.outcomes.registry.ROWS and web.outcomes.BY_LABEL
    N_("Live birth per patient"),
    N_("Live birth, next pregnancy"),
    N_("Live birth, all subsequent pregnancies"),
    N_("Next pregnancy ongoing past 12+0"),
    N_("Next pregnancy ongoing past 24+0"),
    N_("Next pregnancy pending"),
    N_("Next pregnancy lost to follow-up"),
    N_("cause found"),
    N_("age band at first assessment"),
    N_("prior losses"),
    N_("treatment received"),
    N_("year of first assessment"),
)


# --- words for values of the case model and the store ----------------------------------------

#: record values shown to a reader (select options, badges, audit); the value itself when absent
WORDS: dict[str, str] = {
    # outcomes of past pregnancies
    "miscarriage": N_("miscarriage"),
    "biochemical": N_("biochemical loss"),
    "ectopic": N_("ectopic pregnancy"),
    "molar": N_("molar pregnancy"),
    "termination": N_("termination"),
    "stillbirth": N_("stillbirth"),
    "live_birth": N_("live birth"),
    # conceptions
    "natural": N_("natural"),
    "iui": N_("IUI"),
    "ivf": N_("IVF"),
    "icsi": N_("ICSI"),
    "frozen_transfer": N_("frozen embryo transfer"),
    "donor_egg": N_("donor egg"),
    # trimesters, cycles, symptoms
    "first": N_("first"),
    "second": N_("second"),
    "third": N_("third"),
    "regular": N_("regular"),
    "irregular": N_("irregular"),
    "oligomenorrhoea": N_("oligomenorrhoea"),
    "amenorrhoea": N_("amenorrhoea"),
    "bleeding": N_("bleeding"),
    "pain": N_("pain"),
    # scan locations
    "intrauterine": N_("intrauterine"),
    "unknown": N_("unknown"),
    # endometrial preparation (frozen transfer)
    "artificial": N_("artificial (hormone-replacement) cycle"),
    "stimulated": N_("stimulated cycle"),
    # preterm birth causes
    "preeclampsia": N_("pre-eclampsia"),
    "placental_insufficiency": N_("placental insufficiency"),
    "spontaneous": N_("spontaneous"),
    # uterine imaging: methods and findings
    "3d_ultrasound": N_("3D ultrasound"),
    "2d_ultrasound": N_("2D ultrasound"),
    "sonohysterography": N_("sonohysterography"),
    "hysteroscopy": N_("hysteroscopy"),
    "mri": N_("MRI"),
    "hsg": N_("hysterosalpingography (HSG)"),
    "normal": N_("normal"),
    "septate_uterus": N_("septate uterus"),
    "arcuate_uterus": N_("arcuate uterus"),
    "bicornuate_uterus": N_("bicornuate uterus"),
    "unicornuate_uterus": N_("unicornuate uterus"),
    "didelphys_uterus": N_("uterus didelphys"),
    "submucosal_fibroid": N_("submucosal fibroid"),
    "intramural_fibroid_distorting_cavity": N_("intramural fibroid distorting the cavity"),
    "endometrial_polyp": N_("endometrial polyp"),
    "intrauterine_adhesions": N_("intrauterine adhesions"),
    "adenomyosis": N_("adenomyosis"),
    # conditions (case vocabulary)
    "antiphospholipid_syndrome": N_("antiphospholipid syndrome"),
    "arterial_thrombosis": N_("arterial thrombosis"),
    "cervical_insufficiency": N_("cervical insufficiency"),
    "chronic_endometritis": N_("chronic endometritis"),
    "chronic_hypertension": N_("chronic hypertension"),
    "chronic_kidney_disease": N_("chronic kidney disease"),
    "diabetes_type1": N_("type 1 diabetes"),
    "diabetes_type2": N_("type 2 diabetes"),
    "hyperprolactinaemia": N_("hyperprolactinaemia"),
    "hyperthyroidism": N_("hyperthyroidism"),
    "hypothyroidism": N_("hypothyroidism"),
    "obesity": N_("obesity"),
    "pcos": N_("polycystic ovary syndrome (PCOS)"),
    "sle": N_("systemic lupus erythematosus (SLE)"),
    "thrombophilia_inherited": N_("inherited thrombophilia"),
    "uterine_anomaly": N_("uterine anomaly"),
    "venous_thromboembolism": N_("venous thromboembolism"),
    # tests of the result picker
    "hcg": N_("hCG"),
    "progesterone": N_("progesterone"),
    "tsh": N_("TSH"),
    "free_t4": N_("free T4"),
    "tpo_antibodies": N_("TPO antibodies"),
    "hba1c": N_("HbA1c"),
    "fasting_glucose": N_("fasting glucose"),
    "prolactin": N_("prolactin"),
    "lupus_anticoagulant": N_("lupus anticoagulant"),
    "anticardiolipin_igg": N_("anticardiolipin IgG"),
    "anticardiolipin_igm": N_("anticardiolipin IgM"),
    "anti_b2gpi_igg": N_("anti-beta2-glycoprotein I IgG"),
    "anti_b2gpi_igm": N_("anti-beta2-glycoprotein I IgM"),
    "karyotype_female": N_("karyotype (woman)"),
    "karyotype_male": N_("karyotype (partner)"),
    "full_blood_count": N_("full blood count"),
    "uterine_imaging": N_("uterine imaging"),
    "hla_typing": N_("HLA typing"),
    "blocking_antibodies": N_("blocking antibodies"),
    "nk_cells": N_("NK cells"),
    "antinuclear_antibodies": N_("antinuclear antibodies"),
    "vitamin_d": N_("vitamin D"),
    "homocysteine": N_("homocysteine"),
    "mthfr": N_("MTHFR"),
    "factor_v_leiden": N_("factor V Leiden"),
    "prothrombin_mutation": N_("prothrombin gene mutation"),
    "protein_c": N_("protein C"),
    "protein_s": N_("protein S"),
    "antithrombin": N_("antithrombin"),
    "sperm_dna_fragmentation": N_("sperm DNA fragmentation"),
    "ovarian_reserve_amh": N_("ovarian reserve (AMH)"),
    "endometrial_biopsy": N_("endometrial biopsy"),
    # qualitative answers
    "positive": N_("positive"),
    "negative": N_("negative"),
    "borderline": N_("borderline"),
    "equivocal": N_("equivocal"),
    "indeterminate": N_("indeterminate"),
    "detected": N_("detected"),
    "not detected": N_("not detected"),
    "reactive": N_("reactive"),
    "non-reactive": N_("non-reactive"),
    "nonreactive": N_("non-reactive"),
    "heterozygous": N_("heterozygous"),
    "homozygous": N_("homozygous"),
    # yes / no
    "yes": N_("yes"),
    "no": N_("no"),
    # version events
    "created": N_("created"),
    "edited": N_("edited"),
    "imported": N_("imported"),
    "loss_recorded": N_("loss recorded"),
    "outcome_recorded": N_("outcome recorded"),
    # decisions and reasons
    "accepted": N_("accepted"),
    "overridden": N_("overridden"),
    "patient_declined": N_("patient declined"),
    "done_elsewhere": N_("done elsewhere"),
    "contraindicated": N_("contraindicated"),
    "clinical_judgement": N_("clinical judgement"),
    "other": N_("other"),
    # roles
    "clinician": N_("clinician"),
    "viewer": N_("viewer"),
    "admin": N_("admin"),
    # classification, dating, viability, hCG pairs
    "primary": N_("primary"),
    "secondary": N_("secondary"),
    "lmp": N_("LMP"),
    "art": N_("ART transfer date"),
    "crl": N_("CRL"),
    "viable": N_("viable"),
    "too_early": N_("too early to tell"),
    "not_assessable": N_("not assessable"),
    "location_unknown": N_("location unknown"),
    "failure_diagnostic": N_("failure diagnosed"),
    "failure_suspicious": N_("suspicious for failure"),
    "likely_intrauterine": N_("likely intrauterine"),
    "unlikely_to_continue": N_("unlikely to continue"),
    "review_within_24h": N_("review within 24 h"),
    "urgent": N_("urgent"),
    "info": N_("information"),
    # urgencies
    "immediate": N_("immediate"),
    "same_day": N_("same day"),
    "within_24h": N_("within 24 h"),
    "routine": N_("routine"),
    # audit actions
    "changed": N_("changed"),
    "viewed": N_("viewed"),
    "overrode": N_("overrode"),
    "exported": N_("exported"),
    "login": N_("login"),
    "login_failed": N_("login failed"),
    "login_throttled": N_("login throttled"),
    "logout": N_("logout"),
    "password_changed": N_("password changed"),
    "user_created": N_("user created"),
    "user_changed": N_("user changed"),
    "token_issued": N_("token issued"),
    "token_revoked": N_("token revoked"),
    "listed": N_("listed"),
    "audit_read": N_("audit read"),
    "erased": N_("erased"),
    "recomputed": N_("recomputed"),
    # outcomes of the next pregnancy (outcomes registry)
    "ongoing_12": N_("ongoing past 12 weeks"),
    "ongoing_24": N_("ongoing past 24 weeks"),
    "pending": N_("pending"),
    "lost_to_follow_up": N_("lost to follow-up"),
    # what an audit row read or exported
    "plan": N_("plan"),
    # screening run states
    "running": N_("running"),
    "done": N_("done"),
    "failed": N_("failed"),
    "history": N_("history"),
}


def message(text: Any) -> str:
    """A problem message in the reader's language when the catalog has it (`path: message`
    keeps the path and translates the message); the case model's own wording otherwise."""
    raw = str(text)
    said = gettext(raw)
    if said != raw or ": " not in raw:
        return said
    head, tail = raw.split(": ", 1)
    return f"{head}: {message(tail)}"


def word(value: Any) -> str | Markup:
    """A record value in the reader's language (`live_birth` -> "live birth" / "活产")."""
    if value is None or value == "":
        return "—"
    text = str(value)
    if text in WORDS:
        return gettext(WORDS[text])
    return text.replace("_", " ")
