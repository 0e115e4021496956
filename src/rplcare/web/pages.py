"""Server-rendered clinician pages (Jinja2 + htmx, no front-end build).

Every page shows what `assess()` returned for the stored case; nothing here decides anything
clinical. Forms post with a CSRF token; htmx (when present) swaps single recommendations and
the case list, and every form still works without it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from rplcare.case.errors import CaseError
from rplcare.store import repository as repo
from rplcare.store.db import Store
from rplcare.store.models import REASONS, ROLES, AuditEntry, User
from rplcare.web import auth, i18n, kb_text
from rplcare.web.api import attachment, document_context, log_export, render_document
from rplcare.web.params import DocumentOptions, Documents

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
# `{{ _("...") }}` / `{% trans %}` in every template, in the user's language (web/i18n.py)
i18n.install(templates.env)
templates.env.globals["kb"] = kb_text  # knowledge-base texts in the reader's language
router = APIRouter(include_in_schema=False)
T = TypeVar("T")

N_ = i18n.N_  # marked for the clinician catalog; translated where shown
STATUS_LABEL = {
    "recommended": N_("do now"),
    "conditional": N_("consider"),
    "not_recommended": N_("not recommended"),
}
REASON_LABEL = {r: r.replace("_", " ") for r in REASONS}
GROUPS = [
    ("do_now", N_("Do now")),
    ("consider", N_("Consider")),
    ("not_recommended", N_("Not recommended")),
]
OUTCOMES = [
    "miscarriage",
    "biochemical",
    "ectopic",
    "molar",
    "termination",
    "stillbirth",
    "live_birth",
]
CONCEPTIONS = ["natural", "iui", "ivf", "icsi", "frozen_transfer", "donor_egg"]
PREGNANCY_ROWS = 6


def _store(request: Request) -> Store:
    return request.app.state.store


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    from rplcare import __version__
    from rplcare.knowledge import get_kb

    if "case_id" in context and "patient" not in context:
        context["patient"], context["case_archived"] = _patient_of(request, context["case_id"])
    lang = i18n.lang_of(request)
    i18n.use(lang)  # the gettext of this render (also in imported macros)
    if context.get("preg"):  # the pregnancy panel's computed sentences in the reader's language
        context = {**context, "preg": kb_text.tree(context["preg"])}
    base = {
        "lang": lang,
        "html_lang": i18n.LANGS[lang][1],
        "langs": i18n.LANGS,
        "user": user,
        "csrf": auth.csrf_token(request),
        "can_write": auth.can_write(user),
        "htmx": request.app.state.htmx,
        "version": __version__,
        "kb_version": get_kb().version,
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _patient_of(request: Request, case_id: Any) -> tuple[dict[str, Any] | None, bool | None]:
    """Who a case page is about and whether the case is archived, for the header every case
    page shows (issue 11 §2); (None, None) for no such case."""
    from rplcare.store.models import CaseRecord
    from rplcare.store.patients import get_identity, identity_json

    if not isinstance(case_id, str):
        return None, None
    with _store(request).read() as s:
        case = s.get(CaseRecord, case_id)
        if case is None:
            return None, None
        return identity_json(get_identity(s, case_id)), case.archived


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


async def _in_thread(fn: Callable[[], T]) -> T:
    return await run_in_threadpool(fn)


# --- login ----------------------------------------------------------------------------


def _safe_next(url: str | None) -> str:
    return url if url and url.startswith("/") and not url.startswith("//") else "/cases"


@router.get("/login")
def login_page(request: Request, next: str = "/cases") -> HTMLResponse:
    return render(request, "login.html", None, next=_safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    """Throttled per account and client (429 with Retry-After while waiting, the password is
    not checked then); argon2 in a bounded pool (503 when full); every outcome audited."""
    from rplcare.web.throttle import Busy

    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    name, password = str(form.get("name") or "")[:200], str(form.get("password") or "")[:1024]
    target = _safe_next(str(form.get("next") or ""))
    client = auth.client_of(request)
    throttle = request.app.state.throttle
    store = _store(request)

    def note(action: str, detail: dict[str, Any], user: User | None = None) -> None:
        with store.write() as s:
            repo.audit(s, user, action, None, detail)

    def refused(code: int, error: str, retry: float | None = None) -> HTMLResponse:
        page = render(request, "login.html", None, code, next=target, error=error)
        if retry:
            page.headers["Retry-After"] = str(max(1, round(retry)))
        return page

    wait = throttle.wait(name, client)
    if wait > 0:
        await _in_thread(lambda: note("login_throttled", {"via": "web", "wait_s": round(wait)}))
        return refused(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Too many failed logins: try again in {max(1, round(wait))} s.",
            wait,
        )

    def check() -> tuple[int | None, int | None]:
        with store.read() as s:
            known = s.scalar(select(User.id).where(User.name == name.strip()[:100]))
            user = repo.authenticate(s, name, password)
            return (user.id if user else None), known

    try:
        uid, known = await request.app.state.hasher.run(check)
    except Busy:
        return refused(
            status.HTTP_503_SERVICE_UNAVAILABLE, "The server is busy: try again in a moment.", 1
        )
    if uid is None:
        wait = throttle.failed(name, client)

        def failed() -> None:
            with store.write() as s:
                who = s.get(User, known) if known else None
                repo.audit(s, who, "login_failed", None, {"via": "web", "known_user": bool(known)})

        await _in_thread(failed)
        return refused(status.HTTP_401_UNAUTHORIZED, "Unknown user name or wrong password.")
    throttle.succeeded(name, client)

    def start() -> tuple[User, str]:
        with store.write() as s:
            user = s.get(User, uid)
            sid = repo.start_session(s, user)
            repo.audit(s, user, "login", None, {"via": "web"})
            return user, sid

    user, sid = await _in_thread(start)
    auth.log_in(request, user, sid)
    return _redirect(target)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    sid = auth.session_id(request)

    def work() -> None:
        with _store(request).write() as s:
            user = auth.session_user(s, request)
            if sid:
                repo.end_session(s, sid)
            if user is not None:
                repo.audit(s, user, "logout", None, {"via": "web"})

    await _in_thread(work)
    auth.log_out(request)
    return _redirect("/login")


@router.get("/account/password")
def password_page(request: Request) -> HTMLResponse:
    from rplcare.store.passwords import MIN_LENGTH

    with _store(request).read() as s:
        user = auth.page_user(s, request)
    return render(request, "password.html", user, problems=[], min_length=MIN_LENGTH)


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    """Own password change: the current one is checked; every session of the user ends and
    this browser gets a new one."""
    from rplcare.store.passwords import MIN_LENGTH

    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    current, new = str(form.get("current") or "")[:1024], str(form.get("new") or "")[:1024]

    def work() -> tuple[User, str | None, list[str]]:
        with _store(request).write() as s:
            user = auth.page_user(s, request)
            try:
                repo.change_password(s, user, current, new)
            except repo.PolicyError as exc:
                return user, None, exc.problems
            return user, repo.start_session(s, user), []

    user, sid, problems = await request.app.state.hasher.run(work)
    if problems:
        return render(
            request,
            "password.html",
            user,
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            problems=problems,
            min_length=MIN_LENGTH,
        )
    auth.log_in(request, user, sid or "")
    return _redirect("/cases")


# --- case list ------------------------------------------------------------------------


@router.get("/")
def home() -> Response:
    return _redirect("/cases")


# the worklist (/cases) and the case import: web/patient_pages.py


def _form_version(raw: Any) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


# --- plan -----------------------------------------------------------------------------


def _rec_title(rid: Any) -> str:
    """A recommendation's KB title for a reader (the id only when the KB no longer has it)."""
    from rplcare.knowledge import get_kb

    rec = get_kb().recommendations.get(str(rid))
    if rec is not None and rec.title:
        return f"“{kb_text.title(rec.id, rec.title)}”"
    return i18n.gettext("recommendation %(id)s") % {"id": rid}


def _words(value: Any) -> str:
    return str(i18n.word(value))


def audit_text(entry: AuditEntry) -> str:
    """One sentence per audit entry, in the reader's language; changes name the fields."""
    _ = i18n.gettext
    d = entry.detail or {}
    if entry.action == "changed":
        # field paths only (rows written before 0003 also held the values: not shown)
        changes = d.get("changes", [])
        parts = [
            kb_text.path_label(None, c["path"] if isinstance(c, dict) else str(c))
            for c in changes[:8]
        ]
        more = len(changes) - 8
        tail = _(" and %(n)s more") % {"n": more} if more > 0 else ""
        what = ", ".join(parts) + tail if parts else _("no field")
        return _("Version %(v)s saved (%(event)s): changed %(what)s.") % {
            "v": d.get("version"),
            "event": _words(d.get("event")),
            "what": what,
        }
    if entry.action == "recomputed":
        b, a = d.get("before") or {}, d.get("after") or {}
        return _(
            "Version %(v)s: assessment recomputed as the knowledge base changed "
            "from %(before)s to %(after)s."
        ) % {
            "v": d.get("version"),
            "before": b.get("kb_version") or _("an unrecorded version"),
            "after": a.get("kb_version"),
        }
    if entry.action == "overrode":
        reason = f" ({_words(d['reason'])})" if d.get("reason") else ""
        if d.get("decision") == "accepted":
            return _("Accepted %(what)s%(reason)s.") % {
                "what": _rec_title(d.get("recommendation_id")),
                "reason": reason,
            }
        return _("Overrode %(what)s%(reason)s.") % {
            "what": _rec_title(d.get("recommendation_id")),
            "reason": reason,
        }
    if entry.action == "patient_changed":  # field names only: the values are not logged
        from rplcare.store.patients import LABELS

        fields = ", ".join(LABELS.get(str(f), str(f)).lower() for f in d.get("fields", []))
        how = " (from an import)" if d.get("how") == "import" else ""
        return f"Patient details changed{how}: {fields or 'no field'}."
    if entry.action in ("archived", "unarchived"):
        return "Case archived." if entry.action == "archived" else "Case back on the worklist."
    if entry.action in ("viewed", "exported"):
        what = _words(d.get("what") or _("the case"))
        version = (
            _(" (version %(n)s)") % {"n": d["version"]} if d.get("version") is not None else ""
        )
        lang = _(", language %(lang)s") % {"lang": d["lang"]} if d.get("lang") else ""
        verb = _("Viewed") if entry.action == "viewed" else _("Exported")
        return _("%(verb)s the %(what)s%(version)s%(lang)s.") % {
            "verb": verb,
            "what": what,
            "version": version,
            "lang": lang,
        }
    parts = [f"{_words(k)} {_words(v)}" for k, v in d.items() if not isinstance(v, dict | list)]
    return (_words(entry.action).capitalize() + (": " + ", ".join(parts) if parts else "")) + "."


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _plan_context(s: Any, case_id: str, definition: str, luteal_policy: str) -> dict[str, Any]:
    versions = repo.case_versions(s, case_id)
    v = versions[-1]
    a = repo.assessment_for(s, v, definition, luteal_policy)
    recs: dict[str, list[dict[str, Any]]] = {"do_now": [], "consider": [], "not_recommended": []}
    key = {"recommended": "do_now", "conditional": "consider", "not_recommended": "not_recommended"}
    for r in a["recommendations"]:
        recs[key.get(r["status"], "consider")].append(r)
    preg = a.get("pregnancy")
    scans = sorted(
        (v.data.get("current_pregnancy") or {}).get("scans", []), key=lambda sc: str(sc.get("date"))
    )
    return {
        "case_id": case_id,
        "case_version": v,
        "a": a,
        "recs": recs,
        "groups": GROUPS,
        "overrides": repo.current_overrides(s, case_id),
        "status": repo.case_status(a),
        "lost": repo.is_lost(versions),
        "preg": preg,
        "scans": scans,
        # the banner is the assessment's one ordered action list (issue 9 §2: urgent first,
        # the same on every face), never a face's own re-ordering of the hCG alerts
        "alerts": [
            {"level": x.get("urgency"), "text": x.get("text"), "id": x.get("id")}
            for x in a.get("actions", [])
            if x.get("urgency") != "routine"
        ],
        "audit": repo.audit_log(s, case_id, limit=100),
        "audit_text": audit_text,
        "status_label": STATUS_LABEL,
        "reason_label": REASON_LABEL,
        "definitions": repo.DEFINITIONS,
        "luteal_policies": repo.LUTEAL_POLICIES,
        "finding_text": {f["id"]: f.get("text") or f["id"] for f in a.get("findings") or ()},
        "path_label": kb_text.path_label,
    }


@router.get("/cases/{case_id}")
def plan(request: Request, case_id: str, opts: Documents) -> HTMLResponse:
    from rplcare.web import documents

    with _store(request).write() as s:
        user = auth.page_user(s, request)
        ctx = _plan_context(s, case_id, opts.definition, opts.luteal_policy)
        repo.audit(
            s,
            user,
            "viewed",
            case_id,
            {
                "what": "plan",
                "version": ctx["case_version"].n,
                "definition": opts.definition,
                "luteal_policy": opts.luteal_policy,
            },
        )
    chart = documents.hcg_chart(ctx["a"]) if ctx["preg"] else None
    return render(request, "plan.html", user, chart=chart, rec_error=None, **ctx)


@router.post("/cases/{case_id}/overrides")
async def override(request: Request, case_id: str) -> Response:
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    rid = str(form.get("recommendation_id") or "")
    fields = {k: str(form.get(k) or "") for k in ("decision", "reason", "comment")}

    def work() -> tuple[User, dict[str, Any], str | None]:
        error = None
        with _store(request).read() as s:
            user = auth.page_user(s, request)
        auth.require_write(user)
        try:
            with _store(request).write() as s:
                v = repo.latest_version(s, case_id)
                known = {r["id"] for r in repo.assessment_for(s, v)["recommendations"]}
                repo.record_override(
                    s,
                    case_id,
                    rid,
                    fields["decision"],
                    fields["reason"],
                    fields["comment"],
                    user,
                    known_ids=known,
                )
        except CaseError as exc:
            error = "; ".join(exc.lines())
        with _store(request).write() as s:
            ctx = _plan_context(s, case_id, "eshre2022", "guideline")
        return user, ctx, error

    user, ctx, error = await _in_thread(work)
    rec_error = {"id": rid, "message": error} if error else None
    if _htmx(request):
        rec = next((r for group in ctx["recs"].values() for r in group if r["id"] == rid), None)
        if rec is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recommendation {rid!r}")
        return render(request, "_rec.html", user, r=rec, rec_error=rec_error, **ctx)
    if error is None:
        return _redirect(f"/cases/{case_id}#rec-{rid.replace('.', '-')}")
    return render(
        request,
        "plan.html",
        user,
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        chart=None,
        rec_error=rec_error,
        **ctx,
    )


@router.post("/cases/{case_id}/loss")
async def record_loss(request: Request, case_id: str) -> Response:
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))
    raw_date, ga = str(form.get("date") or ""), str(form.get("ga") or "").strip() or None
    base = _form_version(form.get("version"))

    def work() -> None:
        with _store(request).read() as s:
            user = auth.page_user(s, request)
        auth.require_write(user)
        try:
            on = date.fromisoformat(raw_date)
        except ValueError:
            raise CaseError([("date", f"{raw_date!r} is not a date (YYYY-MM-DD)")]) from None
        with _store(request).write() as s:
            repo.record_loss(s, case_id, on, user, ga, expected_version=base)

    await _in_thread(work)
    return _redirect(f"/cases/{case_id}")


@router.get("/cases/{case_id}/history")
def history(request: Request, case_id: str, opts: Documents) -> HTMLResponse:
    with _store(request).write() as s:
        user = auth.page_user(s, request)
        items = [
            {
                "version": i.version,
                "assessment": i.assessment,
                "changes": i.changes,
                "knowledge_change": i.knowledge_change,
                "yaml": repo.export_case(i.version),
            }
            for i in repo.history(s, case_id, opts.definition, opts.luteal_policy)
        ]
        repo.audit(s, user, "viewed", case_id, {"what": "history"})
    return render(
        request,
        "history.html",
        user,
        case_id=case_id,
        items=items,
        definition=opts.definition,
        luteal_policy=opts.luteal_policy,
    )


# --- documents ------------------------------------------------------------------------


@router.get("/cases/{case_id}/export.{fmt}")
def export(request: Request, case_id: str, fmt: str) -> Response:
    if fmt not in ("yaml", "json"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "export as .yaml or .json")
    with _store(request).write() as s:
        user = auth.page_user(s, request)
        v = repo.latest_version(s, case_id)
        text = repo.export_case(v, fmt)
        repo.audit(s, user, "exported", case_id, {"what": f"case.{fmt}", "version": v.n})
    media = "application/json" if fmt == "json" else "application/yaml"
    return Response(
        text,
        media_type=media,
        headers={"Content-Disposition": attachment(f"{case_id}.{fmt}")},
    )


def _document(
    request: Request,
    case_id: str,
    kind: str,
    lang: str = "en",
    opts: DocumentOptions = DocumentOptions(),
) -> Response:
    store = _store(request)
    with store.read() as s:
        user = auth.page_user(s, request)
    ctx = document_context(
        store, case_id, user=user, definition=opts.definition, luteal_policy=opts.luteal_policy
    )
    return render_document(store, ctx, kind, lang)


@router.get("/cases/{case_id}/report.pdf")
def report_pdf(request: Request, case_id: str, opts: Documents) -> Response:
    return _document(request, case_id, "report.pdf", i18n.lang_of(request), opts)


@router.get("/cases/{case_id}/report.pdf/prepare")
def report_pdf_prepare(request: Request, case_id: str, opts: Documents) -> HTMLResponse:
    """A page that shows progress while the PDF renders, then hands it over (htmx)."""
    with _store(request).read() as s:
        user = auth.page_user(s, request)
        repo.latest_version(s, case_id)  # 404 for an unknown case before any waiting
    return render(
        request,
        "pdf_prepare.html",
        user,
        case_id=case_id,
        query=opts.query(),
        definition=opts.definition,
    )


@router.get("/cases/{case_id}/report.html")
def report_html(
    request: Request,
    case_id: str,
    opts: Documents,
    lang: str | None = None,
) -> Response:
    """The report in `lang`, else in the user's language (the header's switch)."""
    return _document(request, case_id, "report.html", lang or i18n.lang_of(request), opts)


@router.get("/cases/{case_id}/handout")
def handout(
    request: Request,
    case_id: str,
    opts: Documents,
    lang: str = "en",
) -> Response:
    return _document(request, case_id, "handout", lang, opts)


@router.get("/cases/{case_id}/schedule.ics")
def schedule(request: Request, case_id: str, opts: Documents) -> Response:
    return _document(request, case_id, "ics", "en", opts)


@router.get("/cases/{case_id}/hcg-chart.{fmt}")
def hcg_chart(
    request: Request,
    case_id: str,
    fmt: str,
    opts: Documents,
) -> Response:
    """The hCG chart of the plan page as a file (SVG or PNG); 404 when there is no hCG."""
    from rplcare.web import documents

    if fmt not in ("svg", "png"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "download the chart as .svg or .png")
    store = _store(request)
    with store.read() as s:
        user = auth.page_user(s, request)
    ctx = document_context(
        store, case_id, user=user, definition=opts.definition, luteal_policy=opts.luteal_policy
    )
    body: Any = (
        documents.hcg_chart(ctx["assessment"])
        if fmt == "svg"
        else documents.hcg_chart_png(ctx["assessment"])
    )
    if body is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this case has no hCG series to chart")
    log_export(store, ctx, f"hcg-chart.{fmt}")
    return Response(
        body,
        media_type="image/svg+xml" if fmt == "svg" else "image/png",
        headers={"Content-Disposition": attachment(f"{case_id}-hcg.{fmt}")},
    )


# --- users ----------------------------------------------------------------------------


def _users_page(request: Request, user: User, s: Any, **extra: Any) -> HTMLResponse:
    from rplcare.store.passwords import MIN_LENGTH

    tokens: dict[int, list[Any]] = {}
    for t in repo.list_tokens(s):
        tokens.setdefault(t.user_id, []).append(t)
    return render(
        request,
        "users.html",
        user,
        users=repo.list_users(s),
        tokens=tokens,
        roles=ROLES,
        min_length=MIN_LENGTH,
        **extra,
    )


@router.get("/admin/users")
def users(request: Request) -> HTMLResponse:
    with _store(request).write() as s:
        user = auth.page_user(s, request)
        auth.require_admin(user)
        repo.audit(s, user, "listed", None, {"what": "users"})
        return _users_page(request, user, s)


async def _admin_action(request: Request, act: Callable[[Any, User, Any], str]) -> Response:
    """Run one admin change in a write transaction; the users page shows what happened."""
    form = await request.form()
    auth.check_csrf(request, str(form.get("csrf_token") or ""))

    def work() -> HTMLResponse:
        with _store(request).read() as s:
            admin = auth.page_user(s, request)
        auth.require_admin(admin)
        extra: dict[str, Any] = {}
        try:
            with _store(request).write() as s:
                message = act(s, s.get(User, admin.id), form)
                if message.startswith("token:"):
                    _, token_user, token = message.split(":", 2)
                    extra = {"new_token": token, "token_user": token_user}
                    message = f"New API token for {token_user} (shown once below)."
        except (ValueError, CaseError, repo.NotFound) as exc:
            message = "; ".join(exc.lines()) if isinstance(exc, CaseError) else str(exc)
        with _store(request).read() as s:
            return _users_page(request, admin, s, message=message, **extra)

    return await request.app.state.hasher.run(work)


def _target(s: Any, uid: int) -> User:
    return repo.get_user(s, uid)


@router.post("/admin/users")
async def add_user(request: Request) -> Response:
    def act(s: Any, admin: User, form: Any) -> str:
        name, role = str(form.get("name") or ""), str(form.get("role") or "")
        repo.create_user(s, name, role, str(form.get("password") or "") or None, actor=admin)
        return f"User {name!r} added ({role})."

    return await _admin_action(request, act)


@router.post("/admin/users/{uid}/token")
async def new_token(request: Request, uid: int) -> Response:
    def act(s: Any, admin: User, form: Any) -> str:
        target = _target(s, uid)
        raw_days = str(form.get("expires_days") or "").strip()
        days = int(raw_days) if raw_days.isdigit() and 0 < len(raw_days) <= 4 else None
        if raw_days and days is None:
            raise ValueError(f"expires_days: {raw_days[:20]!r} is not a number of days")
        name = str(form.get("token_name") or "")
        token = repo.issue_token(s, target, name=name, expires_days=days, actor=admin)
        return f"token:{target.name}:{token}"

    return await _admin_action(request, act)


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int) -> Response:
    def act(s: Any, admin: User, form: Any) -> str:
        repo.revoke_token(s, token_id, admin)
        return f"Token {token_id} revoked."

    return await _admin_action(request, act)


@router.post("/admin/users/{uid}/password")
async def reset_password(request: Request, uid: int) -> Response:
    def act(s: Any, admin: User, form: Any) -> str:
        target = _target(s, uid)
        repo.set_password(s, target, str(form.get("password") or ""), admin)
        return f"Password of {target.name} reset; their sessions were ended."

    return await _admin_action(request, act)


@router.post("/admin/users/{uid}/role")
async def change_role(request: Request, uid: int) -> Response:
    def act(s: Any, admin: User, form: Any) -> str:
        target = _target(s, uid)
        if target.id == admin.id:
            raise ValueError("an admin cannot change their own role")
        role = str(form.get("role") or "")
        repo.set_role(s, target, role, admin)
        return f"{target.name} is now {role}."

    return await _admin_action(request, act)


@router.post("/admin/users/{uid}/disable")
async def disable_user(request: Request, uid: int) -> Response:
    def act(s: Any, admin: User, form: Any) -> str:
        target = _target(s, uid)
        disabled = str(form.get("disabled") or "1") != "0"
        if target.id == admin.id and disabled:
            raise ValueError("an admin cannot disable themselves")
        repo.set_disabled(s, target, disabled, admin)
        return f"{target.name} {'disabled' if disabled else 'enabled'}."

    return await _admin_action(request, act)
