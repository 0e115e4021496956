"""Who may do what: roles, the secret key, session users with CSRF tokens, API bearer tokens.

Roles (docs/deployment.md "Roles", the route-by-role table in tests/web/test_role_matrix.py):
`viewer` reads; `clinician` also writes the record and decides on recommendations; `admin`
reads, manages users, tokens and the clinic-wide operations (screening runs, erasing a record
on request) but makes no clinical change: no case entry or edit, no override, no outcome. A
person who is both keeps two accounts, so every clinical decision is a clinician's.

Pages use a signed session cookie (itsdangerous, via Starlette's SessionMiddleware) holding a
random session id that must match a live row of `web_sessions` (ended by logout, a password or
role change, disabling the user, 30 min idle or 12 h after login), and a CSRF token in every
form POST; the API uses per-user bearer tokens (named, expiring, revocable) and no cookie, so it
needs no CSRF token.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request, status

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from rplcare.store.models import User

SECRET_FILE = Path("var") / "secret.key"
SESSION_COOKIE = "rplcare_session"
SESSION_MAX_AGE = int(os.environ.get("RPLCARE_SESSION_MAX_HOURS", "12")) * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
WRITERS = ("clinician",)  # who writes the record and decides (not the admin)


def secret_key() -> str:
    """`RPLCARE_SECRET_KEY`, else `var/secret.key`, generated (mode 0600) on first use so
    sessions survive a restart without anyone choosing a weak key."""
    env = os.environ.get("RPLCARE_SECRET_KEY")
    if env:
        return env
    try:
        return SECRET_FILE.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
        return key


def can_write(user: User | None) -> bool:
    return user is not None and user.role in WRITERS


def can_admin(user: User | None) -> bool:
    return user is not None and user.role == "admin"


def require_write(user: User) -> None:
    if not can_write(user):
        if user.role == "admin":
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "an admin manages users and settings; clinical changes need a clinician account",
            )
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role!r} may only read")


def require_admin(user: User) -> None:
    if not can_admin(user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin manages users")


# --- API ------------------------------------------------------------------------------


def api_user(s: Session, authorization: str | None) -> User:
    """The user of a bearer token, else 401 (no patient data without credentials)."""
    from rplcare.store import repository as repo

    scheme, _, token = (authorization or "").partition(" ")
    user = repo.user_for_token(s, token.strip()) if scheme.lower() == "bearer" and token else None
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


# --- pages ----------------------------------------------------------------------------


class LoginRequired(Exception):
    """Raised by pages without a logged-in user; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str):
        self.next_url = next_url


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """Every form POST carries the session's token (form field, or header for htmx)."""
    expected = request.session.get("csrf")
    given = submitted or request.headers.get(CSRF_HEADER)
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token; reload")


def cookie_secure(value: bool | None = None) -> bool:
    """Whether the session cookie is `Secure` (HTTPS only): `RPLCARE_COOKIE_SECURE`, default on;
    `make run` on plain-http 127.0.0.1 turns it off."""
    if value is not None:
        return value
    raw = os.environ.get("RPLCARE_COOKIE_SECURE", "1").strip().lower()
    return raw not in ("0", "false", "no", "off")


def client_of(request: Request) -> str:
    return (request.client.host if request.client else "") or "unknown"


def session_user(s: Session, request: Request) -> User | None:
    """The user of a live server-side session, else None (ended, timed out, user disabled,
    or the password / role changed since the login)."""
    from rplcare.store import repository as repo
    from rplcare.store.models import User

    uid, sid = request.session.get("uid"), request.session.get("sid")
    if not isinstance(uid, int) or not isinstance(sid, str):
        return None
    row, due = repo.session_state(s, sid)
    if row is None or row.user_id != uid:
        return None
    user = s.get(User, uid)
    if user is None or user.disabled or request.session.get("gen") != _generation(user):
        return None
    if due:  # refreshed after the response, outside this transaction (app middleware)
        request.state.touch_session = sid
    return user


def page_user(s: Session, request: Request) -> User:
    user = session_user(s, request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return user


def log_in(request: Request, user: User, sid: str) -> None:
    """A fresh session (new id and CSRF token) on login, so a planted session cannot be
    reused; `sid` is the id of the server-side session row (`repository.start_session`)."""
    request.session.clear()
    request.session.update(
        {"uid": user.id, "sid": sid, "gen": _generation(user), "csrf": secrets.token_urlsafe(32)}
    )
    if user.lang:  # the user's own choice, on whichever browser they log in from
        request.session["lang"] = user.lang


def session_id(request: Request) -> str | None:
    sid = request.session.get("sid")
    return sid if isinstance(sid, str) else None


def log_out(request: Request) -> None:
    request.session.clear()


def _generation(user: User) -> str:
    """Changes when the password or role changes, which ends the user's other sessions."""
    material = f"{user.id}:{user.role}:{user.password_hash or ''}"
    return hmac.new(b"rplcare-session", material.encode(), "sha256").hexdigest()[:16]
