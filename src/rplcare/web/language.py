"""`GET /account/language/{lang}`: the language switch in the page header (web/i18n.py).

A display preference only (it reads and changes no clinical record), so a plain link: it needs
no login (the login page offers it too) and no CSRF token. It is kept in the session, in a
long-lived cookie (the browser keeps it, the login page included) and, for a logged-in user, on
the user (`users.lang`): logging in from another browser brings the user's language back."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from rplcare.web import auth, i18n

router = APIRouter(include_in_schema=False)


def _safe_back(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/cases"


@router.get("/account/language/{lang}")
def set_language(request: Request, lang: str, next: str = "/cases") -> Response:
    chosen = i18n.known(lang)
    if chosen is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no language {lang[:20]!r} (offered: {', '.join(i18n.LANGS)})",
        )
    request.session["lang"] = chosen
    if request.session.get("uid") is not None:
        with request.app.state.store.write() as s:
            user = auth.session_user(s, request)
            if user is not None:
                user.lang = chosen
    response = RedirectResponse(_safe_back(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        i18n.COOKIE,
        chosen,
        max_age=i18n.COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.secure_cookies),
    )
    return response
