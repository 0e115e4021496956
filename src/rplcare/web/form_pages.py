"""The structured case form and the outcome form (issue 11 §1 and §4).

Every part of the record is entered in fields (`rplcare.web.forms` maps them to the case and
the case model's errors back to them); the YAML tab stays as the advanced option. Rows are
added and removed in place with htmx, each field is checked when it changes, and saving runs
every check of the case model, the whole-record checks included: on any problem nothing is
saved and the page comes back with what was typed. Every control also works without htmx
(add/remove are submit buttons the server answers by re-rendering the form).

Included before `pages.router`, so these routes answer `/cases/new` and `/cases/{id}/edit`.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from rplcare.case import model as cm
from rplcare.case.errors import CaseError
from rplcare.case.vocabulary import vocabulary
from rplcare.store import repository as repo
from rplcare.store.models import User
from rplcare.web import auth, forms, i18n
from rplcare.web.i18n import N_
from rplcare.web.pages import _form_version, _in_thread, _redirect, _store, render

router = APIRouter(include_in_schema=False)
SECTION_NAMES = ("p", "r", "h", "g", "s", "pm", "tm")
#: the outcomes the outcome form records, in the order offered (repository.record_outcome)
OUTCOME_CHOICES = [
    ("live_birth", N_("Live birth")),
    ("ongoing_12", N_("Ongoing past 12 weeks")),
    ("ongoing_24", N_("Ongoing past 24 weeks")),
    ("miscarriage", N_("Miscarriage")),
    ("ectopic", N_("Ectopic pregnancy")),
    ("molar", N_("Molar pregnancy")),
    ("termination", N_("Termination")),
    ("stillbirth", N_("Stillbirth")),
]


def _literal(model: type[Any], name: str) -> list[str]:
    """The allowed values of a Literal field of the case model (the form offers only these)."""
    ann = model.model_fields[name].annotation
    out: list[str] = []
    stack = [ann]
    while stack:
        a = stack.pop(0)
        if typing.get_origin(a) is typing.Literal:
            out.extend(str(x) for x in typing.get_args(a))
        else:
            stack.extend(typing.get_args(a))
    return out


def choices() -> dict[str, Any]:
    from rplcare.knowledge import get_kb

    voc = vocabulary()
    picker = forms.picker()
    return {
        "outcomes": _literal(cm.PastPregnancy, "outcome"),
        "conceptions": _literal(cm.PastPregnancy, "conception"),
        "trimesters": _literal(cm.PastPregnancy, "trimester"),
        "preterm_causes": _literal(cm.PastPregnancy, "preterm_cause"),
        "cycles": _literal(cm.Patient, "menstrual_cycle"),
        "locations": _literal(cm.Scan, "location"),
        "methods": _literal(cm.Result, "method"),
        "findings": _literal(cm.Result, "finding"),
        "preparations": _literal(cm.CurrentPregnancy, "endometrial_preparation"),
        "symptoms": ["bleeding", "pain"],
        "embryo_ages": [str(a) for a in get_kb().param("dating.embryo_ages_days")],
        "conditions": sorted(voc.conditions),
        "medications": sorted(voc.medications),
        "picker": picker,
        "tests": {c.code: c for c in picker},
        "series_units": {k: forms.picker_test(code).units for k, code in forms.SERIES.items()},  # type: ignore[union-attr]
    }


def _form_page(
    request: Request,
    user: User,
    *,
    heading: str,
    heading_id: str = "",
    action: str,
    cancel: str,
    state: forms.FormState,
    tab: str = "form",
    yaml_text: str = "",
    version: int | None = None,
    problems: list[tuple[str, str]] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    paths: Mapping[str, str] | None = None,
    stale: repo.StaleVersion | None = None,
    status_code: int = 200,
    case_id: str | None = None,
) -> HTMLResponse:
    # an edited case gets the patient header of every case page (issue 11 §2)
    extra = {"case_id": case_id} if case_id is not None else {}
    return render(
        request,
        "form/case.html",
        user,
        status_code,
        **extra,
        heading=heading,
        heading_id=heading_id,
        action=action,
        cancel=cancel,
        st=state.with_blank_rows(),
        tab=tab,
        yaml_text=yaml_text,
        version=version,
        problems=forms.lines(problems or []),
        errors=dict(errors or {}),
        paths=dict(paths or {}),
        # focus moves to the first field with a problem (WCAG 3.3.1 with aria-describedby)
        first_error=next(
            (k for k in (paths or {}) if k != "_form" and not k.endswith(("_section", "_row"))),
            None,
        ),
        stale=stale,
        **choices(),
    )


async def _read_form(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    flat = {k: v for k, v in form.items() if isinstance(v, str)}
    lists = {k: [str(x) for x in form.getlist(k)] for k in forms.LIST_FIELDS}
    return flat, lists


def _writer(request: Request) -> User:
    with _store(request).read() as s:
        user = auth.page_user(s, request)
    auth.require_write(user)
    return user


def _edit_row(flat: Mapping[str, str], state: forms.FormState) -> bool:
    """The no-JS add / remove buttons: change the rows, save nothing."""
    add, remove = flat.get("add", ""), flat.get("remove", "")
    if add in SECTION_NAMES:
        state.rows.setdefault(add, []).append(state.next_row(add))
        return True
    if remove:
        for k, nums in state.rows.items():
            state.rows[k] = [i for i in nums if f"{k}{i}" != remove]
        return True
    return False


# --- new case ------------------------------------------------------------------------------


@router.get("/cases/new")
def new_case_page(request: Request, tab: str = "form") -> HTMLResponse:
    user = _writer(request)
    return _form_page(
        request,
        user,
        heading=N_("New case"),
        action="/cases/new",
        cancel="/cases",
        state=forms.FormState(rows={"p": [0, 1, 2]}),  # three rows for the losses
        tab="yaml" if tab == "yaml" else "form",
    )


@router.post("/cases/new")
async def new_case(request: Request) -> Response:
    flat, lists = await _read_form(request)
    text = flat.get("yaml", "").strip()
    parsed = forms.parse(flat, lists)
    page = {"heading": N_("New case"), "action": "/cases/new", "cancel": "/cases"}

    def work() -> tuple[User, str | list[tuple[str, str]]]:
        user = _writer(request)
        problems = [] if text else forms.required_problems(parsed.data)
        try:
            with _store(request).write() as s:
                if problems:  # the model's problems too, all at once; nothing saved
                    repo.canonical_case(parsed.data)
                    return user, problems
                return user, repo.create_case(s, text or parsed.data, user).case_id
        except CaseError as exc:
            return user, problems + exc.problems
        except repo.Conflict as exc:
            return user, [("id", f"{exc}; choose another id")]

    if not text and _edit_row(flat, parsed.state):
        user = await _in_thread(lambda: _writer(request))
        return _form_page(request, user, state=parsed.state, **page)
    user, outcome = await _in_thread(work)
    if isinstance(outcome, str):
        return _redirect(f"/cases/{quote(outcome, safe='')}")
    return _form_page(
        request,
        user,
        state=parsed.state,
        tab="yaml" if text else "form",
        yaml_text=text,
        problems=outcome,
        errors={} if text else forms.errors_by_field(outcome, parsed.rows),
        paths={} if text else forms.paths_by_field(outcome, parsed.rows),
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        **page,
    )


# --- edit ----------------------------------------------------------------------------------


def _edit_page_args(case_id: str) -> dict[str, Any]:
    q = quote(case_id, safe="")
    return {
        "heading": N_("Edit %(id)s"),
        "heading_id": case_id,
        "action": f"/cases/{q}/edit",
        "cancel": f"/cases/{q}",
        "case_id": case_id,
    }


@router.get("/cases/{case_id}/edit")
def edit_page(request: Request, case_id: str, tab: str = "form") -> HTMLResponse:
    with _store(request).read() as s:
        user = auth.page_user(s, request)
        auth.require_write(user)
        v = repo.latest_version(s, case_id)
        text = repo.export_case(v)
    return _form_page(
        request,
        user,
        state=forms.from_case(v.data),
        tab="yaml" if tab == "yaml" else "form",
        yaml_text=text,
        version=v.n,
        **_edit_page_args(case_id),
    )


@router.post("/cases/{case_id}/edit")
async def edit_case(request: Request, case_id: str) -> Response:
    """A new version, unless another was saved since the form was opened (nothing saved then,
    the edit kept and what the other writer changed shown) or anything is wrong."""
    flat, lists = await _read_form(request)
    text = flat.get("yaml", "").strip()
    base = _form_version(flat.get("version"))
    parsed = forms.parse(flat, lists)
    if not text:
        parsed.data["id"] = case_id

    def work() -> tuple[User, int, list[tuple[str, str]] | repo.StaleVersion | None]:
        with _store(request).read() as s:
            user = auth.page_user(s, request)
            n = repo.latest_version(s, case_id).n
        auth.require_write(user)
        if base is None:
            return user, n, [("version", "missing: reload the page and edit again")]
        problems = [] if text else forms.required_problems(parsed.data)
        try:
            with _store(request).write() as s:
                if problems:
                    repo.canonical_case(parsed.data)
                    return user, n, problems
                repo.update_case(s, case_id, text or parsed.data, user, expected_version=base)
                return user, n, None
        except CaseError as exc:
            return user, n, problems + exc.problems
        except repo.StaleVersion as exc:
            return user, n, exc

    if not text and _edit_row(flat, parsed.state):
        with _store(request).read() as s:
            user = auth.page_user(s, request)
        return _form_page(
            request, user, state=parsed.state, version=base, **_edit_page_args(case_id)
        )
    user, n, error = await _in_thread(work)
    if error is None:
        return _redirect(f"/cases/{quote(case_id, safe='')}")
    stale = error if isinstance(error, repo.StaleVersion) else None
    problems = [] if stale else error
    assert not isinstance(problems, repo.StaleVersion)
    return _form_page(
        request,
        user,
        state=parsed.state,
        tab="yaml" if text else "form",
        yaml_text=text,
        version=base if base is not None else n,
        problems=problems,
        errors={} if text else forms.errors_by_field(problems or [], parsed.rows),
        paths={} if text else forms.paths_by_field(problems or [], parsed.rows),
        stale=stale,
        status_code=status.HTTP_409_CONFLICT if stale else status.HTTP_422_UNPROCESSABLE_CONTENT,
        **_edit_page_args(case_id),
    )


# --- htmx fragments ------------------------------------------------------------------------


@router.get("/forms/row/{section}")
def new_row(request: Request, section: str) -> HTMLResponse:
    """One empty row of a section, and the section's next row number (out of band)."""
    if section not in SECTION_NAMES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no form section {section!r}")
    with _store(request).read() as s:
        user = auth.page_user(s, request)
    raw = request.query_params.get(f"{section}_next", "0")
    i = int(raw) if raw.isdigit() and len(raw) <= 4 else 0
    return render(
        request,
        "form/row.html",
        user,
        section=section,
        i=i,
        st=forms.FormState(),
        errors={},
        oob=True,
        **choices(),
    )


@router.get("/forms/empty")
def empty() -> HTMLResponse:
    """A removed row (htmx swaps the row with nothing)."""
    return HTMLResponse("")


@router.get("/forms/result/{prefix}")
def result_detail(request: Request, prefix: str) -> HTMLResponse:
    """The value / unit part of a result row for the test picked (its units and answers);
    htmx sends the picker's own value (`{prefix}_test`)."""
    test = request.query_params.get(f"{prefix}_test", "")
    section = prefix.rstrip("0123456789")
    num = prefix[len(section) :]
    if section not in ("r",) or not num.isdigit() or len(num) > 4:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no result row {prefix!r}")
    with _store(request).read() as s:
        user = auth.page_user(s, request)
    return render(
        request,
        "form/result_detail.html",
        user,
        prefix=prefix,
        test=forms.picker_test(test),
        st=forms.FormState({f"{prefix}_test": test}),
        errors={},
        **choices(),
    )


@router.post("/forms/check")
async def check_field(request: Request) -> HTMLResponse:
    """The live check of one field: the whole form read as a case, the messages that concern
    the field that changed (`HX-Trigger-Name`) returned in its error element."""
    flat, lists = await _read_form(request)
    name = request.headers.get("hx-trigger-name") or flat.get("_field", "")
    with _store(request).read() as s:
        auth.page_user(s, request)
    parsed = forms.parse(flat, lists)
    problems = await _in_thread(lambda: forms.check(parsed, today=date.today()))
    messages = forms.errors_by_field(problems, parsed.rows).get(name, [])
    i18n.use(i18n.lang_of(request))
    return HTMLResponse(error_span(name, [i18n.message(m) for m in messages]))


def error_span(name: str, messages: list[str]) -> Markup:
    text = Markup("; ").join(escape(m) for m in messages)
    return Markup(
        f'<span class="field-error" id="err-{escape(name)}" data-field="{escape(name)}" '
        f'aria-live="polite">{text}</span>'
    )


# --- outcome -------------------------------------------------------------------------------


def _outcome_page(
    request: Request,
    user: User,
    case_id: str,
    version: int,
    values: Mapping[str, str],
    *,
    confirm: bool = False,
    problems: list[tuple[str, str]] | None = None,
    status_code: int = 200,
    has_current: bool = True,
    dating_ga: str | None = None,
) -> HTMLResponse:
    errors: dict[str, list[str]] = {}
    for path, msg in problems or []:
        errors.setdefault(path.rsplit(".", 1)[-1] if path else "_form", []).append(msg)
    return render(
        request,
        "form/outcome.html",
        user,
        status_code,
        case_id=case_id,
        version=version,
        values=dict(values),
        confirm=confirm,
        problems=forms.lines(problems or []),
        errors=errors,
        choices=OUTCOME_CHOICES,
        label=dict(OUTCOME_CHOICES),
        has_current=has_current,
        dating_ga=dating_ga,
        typed_ga=_ga_text(values.get("ga", "")),
    )


def _ga_text(raw: str) -> str:
    """The GA typed, written as the dating writes it (8 -> 8+0), to compare the two."""
    from rplcare.pregnancy.gestation import format_ga, parse_ga

    try:
        return format_ga(parse_ga(raw)) if raw else ""
    except (ValueError, TypeError):
        return raw


@router.get("/cases/{case_id}/outcome")
def outcome_page(request: Request, case_id: str) -> HTMLResponse:
    with _store(request).read() as s:
        user = auth.page_user(s, request)
        auth.require_write(user)
        v = repo.latest_version(s, case_id)
    return _outcome_page(
        request,
        user,
        case_id,
        v.n,
        {"date": (v.data.get("assessed_on") or date.today().isoformat())},
        has_current=bool(v.data.get("current_pregnancy")),
    )


OUTCOME_FIELDS = ("outcome", "date", "ga", "birth_weight_g")


@router.post("/cases/{case_id}/outcome")
async def record_outcome(request: Request, case_id: str) -> Response:
    """Two steps: the outcome as entered is checked and shown for confirmation (nothing saved);
    the confirmed one is recorded (the current pregnancy moves into the history)."""
    flat, _ = await _read_form(request)
    values = {k: flat.get(k, "").strip() for k in OUTCOME_FIELDS}
    base = _form_version(flat.get("version"))
    confirmed = flat.get("confirm") == "yes"

    dating_ga: list[str | None] = [None]

    def work() -> tuple[User, int, list[tuple[str, str]] | None]:
        with _store(request).read() as s:
            user = auth.page_user(s, request)
            n = repo.latest_version(s, case_id).n
        auth.require_write(user)
        try:
            with _store(request).write() as s:
                if not confirmed:  # shown beside the GA typed on the confirmation step
                    try:
                        day = date.fromisoformat(values["date"])
                    except ValueError:
                        day = None
                    if day is not None:
                        dating_ga[0] = repo.ga_by_dating(s, case_id, day)
                repo.record_outcome(
                    s,
                    case_id,
                    values["outcome"],
                    values["date"],
                    user,
                    ga=values["ga"] or None,
                    birth_weight_g=values["birth_weight_g"] or None,
                    expected_version=base,
                    dry_run=not confirmed,
                )
        except CaseError as exc:
            return user, n, exc.problems
        except repo.StaleVersion as exc:
            return user, n, [("version", f"{exc}; reload the case and record the outcome again")]
        return user, n, None

    user, n, problems = await _in_thread(work)
    if problems is None and confirmed:
        return _redirect(f"/cases/{quote(case_id, safe='')}")
    return _outcome_page(
        request,
        user,
        case_id,
        base if base is not None else n,
        values,
        confirm=problems is None,
        problems=problems,
        status_code=200 if problems is None else status.HTTP_422_UNPROCESSABLE_CONTENT,
        dating_ga=dating_ga[0],
    )
