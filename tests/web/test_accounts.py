"""Accounts and sessions (issue 10 §4): server-side sessions ended by logout, password change
and disabling; idle timeout; cookie flags, CSP and HSTS; login throttling that stops a
guesser but cannot lock a clinician out for long; NIST SP 800-63B password policy; admin
reset / disable / role change; named, expiring, revocable API tokens; every auth event in
the audit with role and client address."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.web.conftest import PASSWORDS, csrf_of

from rplcare.store import repository as repo
from rplcare.store.models import WebSession, utcnow
from rplcare.web.throttle import RULES, BoundedHasher, Busy, LoginThrottle

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _login(client: TestClient, name: str = "clin", password: str | None = None):
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "name": name,
            "password": PASSWORDS.get(name, "") if password is None else password,
            "next": "/cases",
        },
        follow_redirects=False,
    )


def _actions(web, action: str) -> list:
    with web.app.state.store.read() as s:
        return repo.audit_log(s, action=action)


def test_logout_ends_the_session_on_the_server(web):
    assert _login(web.client).status_code == 303
    cookie = web.client.cookies.get("rplcare_session")
    assert web.client.get("/cases").status_code == 200
    web.client.post("/logout", data={"csrf_token": web.csrf()})
    # the old cookie, replayed, no longer opens anything
    replay = TestClient(web.app)
    replay.cookies.set("rplcare_session", cookie)
    r = replay.get("/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    (entry,) = _actions(web, "logout")
    assert entry.user.name == "clin" and entry.role == "clinician" and entry.client


def test_password_change_ends_every_other_session(web):
    other = TestClient(web.app)
    assert _login(other).status_code == 303
    assert _login(web.client).status_code == 303
    page = web.client.get("/account/password")
    new = "quiet harbour lamp post"
    r = web.client.post(
        "/account/password",
        data={"csrf_token": csrf_of(page.text), "current": PASSWORDS["clin"], "new": new},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert web.client.get("/cases").status_code == 200  # this browser got a new session
    assert other.get("/cases", follow_redirects=False).status_code == 303
    assert _login(TestClient(web.app), "clin", new).status_code == 303
    # a weak new password is refused with every reason
    page = web.client.get("/account/password")
    r = web.client.post(
        "/account/password",
        data={"csrf_token": csrf_of(page.text), "current": new, "new": "password"},
    )
    assert r.status_code == 422 and "at least 15" in r.text and "breached or common" in r.text


def test_idle_session_times_out(web):
    _login(web.client)
    assert web.client.get("/cases").status_code == 200
    with web.app.state.store.write() as s:
        s.execute(update(WebSession).values(last_seen=utcnow() - repo.SESSION_IDLE - timedelta(1)))
    assert web.client.get("/cases", follow_redirects=False).status_code == 303


def test_absolute_session_timeout_ends_an_active_session(web):
    # issue 10 §4: an absolute timeout (RPLCARE_SESSION_MAX_HOURS, 12 h) ends a session that
    # has been in use all along, not only an idle one
    _login(web.client)
    assert web.client.get("/cases").status_code == 200
    with web.app.state.store.write() as s:
        s.execute(
            update(WebSession).values(
                created=utcnow() - repo.SESSION_MAX - timedelta(minutes=1), last_seen=utcnow()
            )
        )
    assert web.client.get("/cases", follow_redirects=False).status_code == 303


def test_cookie_flags_csp_hsts_and_no_redoc(database_url):
    from rplcare.web.app import create_app

    app = create_app(database_url, secret_key="k", secure_cookies=True)
    with app.state.store.write() as s:
        repo.create_user(s, "clin", "clinician", PASSWORDS["clin"])
    with TestClient(app, base_url="https://testserver") as client:
        r = _login(client)
        cookie = r.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert "max-age=43200" in cookie
        page = client.get("/login")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["strict-transport-security"].startswith("max-age=31536000")
        assert client.get("/redoc").status_code == 404


def test_throttle_stops_a_guesser_then_lets_the_clinician_in(web):
    now = [1000.0]
    web.app.state.throttle = LoginThrottle(clock=lambda: now[0])
    checked = 0
    codes = []
    for _ in range(300):
        r = _login(web.client, "clin", "wrong password guess")
        codes.append(r.status_code)
    checked = codes.count(401)
    assert codes[:5] == [401] * 5 and codes.count(429) >= 280
    assert checked < 20  # the password was checked only when no wait was running
    # the right password during the wait is refused too (a guess then tells nothing)
    r = _login(web.client)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    now[0] += RULES["pair"].cap_s + 1
    assert _login(web.client).status_code == 303
    failed = _actions(web, "login_failed")
    assert failed and all(e.user and e.user.name == "clin" and e.client for e in failed)
    assert _actions(web, "login_throttled")


def test_an_attacker_elsewhere_delays_a_clinician_at_most_the_account_cap():
    now = [0.0]
    t = LoginThrottle(clock=lambda: now[0])
    for i in range(500):  # many addresses, one account
        t.failed("clin", f"10.0.{i // 250}.{i % 250}")
    wait = t.wait("clin", "192.168.1.20")  # the clinician's own workstation
    assert 0 < wait <= RULES["account"].cap_s
    now[0] += RULES["account"].cap_s
    assert t.wait("clin", "192.168.1.20") == 0


def test_unknown_user_costs_a_password_check(web, monkeypatch):
    from argon2 import PasswordHasher

    calls = []
    real = PasswordHasher.verify
    monkeypatch.setattr(
        PasswordHasher, "verify", lambda self, h, p: calls.append(1) or real(self, h, p)
    )
    with web.app.state.store.read() as s:
        assert repo.authenticate(s, "nobody", "some long password here") is None
        assert repo.authenticate(s, "clin", "some long password here") is None
    assert len(calls) == 2  # same work for an unknown name as for a wrong password


def test_argon2_queue_is_bounded():
    hasher = BoundedHasher(workers=1, queue=1)
    release = threading.Event()

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(hasher.run(release.wait))
        second = asyncio.ensure_future(hasher.run(lambda: "queued"))
        await asyncio.sleep(0)
        with pytest.raises(Busy):
            await hasher.run(lambda: "refused")
        release.set()
        return [str(await first), await second]

    out: list[list[str]] = []
    # a thread of its own: another test may have left an event loop running in this one
    runner = threading.Thread(target=lambda: out.append(asyncio.run(scenario())))
    try:
        runner.start()
        runner.join(timeout=60)
        assert out == [["True", "queued"]]
    finally:
        hasher.shutdown()


def test_admin_reset_disable_role_and_tokens(web):
    _login(web.client, "adm")
    page = web.client.get("/admin/users")
    csrf = csrf_of(page.text)
    with web.app.state.store.read() as s:
        clin = next(u for u in repo.list_users(s) if u.name == "clin")
    other = TestClient(web.app)
    _login(other)
    # reset: the clinician's sessions end, the new password works
    r = web.client.post(
        f"/admin/users/{clin.id}/password", data={"csrf_token": csrf, "password": "short"}
    )
    assert "at least 15" in r.text
    web.client.post(
        f"/admin/users/{clin.id}/password",
        data={"csrf_token": csrf, "password": "granite meadow violin"},
    )
    assert other.get("/cases", follow_redirects=False).status_code == 303
    # a named token that expires; listed; revoked
    r = web.client.post(
        f"/admin/users/{clin.id}/token",
        data={"csrf_token": csrf, "token_name": "lab import", "expires_days": "30"},
    )
    token = r.text.split("<code>")[1].split("</code>")[0]
    assert "lab import" in r.text and "expires" in r.text
    bearer = {"Authorization": f"Bearer {token}"}
    assert web.client.get("/api/cases", headers=bearer).status_code == 200
    with web.app.state.store.read() as s:
        row = next(t for t in repo.list_tokens(s, clin.id) if t.name == "lab import")
    web.client.post(f"/admin/tokens/{row.id}/revoke", data={"csrf_token": csrf})
    assert web.client.get("/api/cases", headers=bearer).status_code == 401
    # disable: the old token stops, the login fails; role change
    assert web.client.get("/api/cases", headers=web.h()).status_code == 200
    web.client.post(f"/admin/users/{clin.id}/disable", data={"csrf_token": csrf, "disabled": "1"})
    assert web.client.get("/api/cases", headers=web.h()).status_code == 401
    assert _login(TestClient(web.app), "clin", "granite meadow violin").status_code == 401
    web.client.post(f"/admin/users/{clin.id}/disable", data={"csrf_token": csrf, "disabled": "0"})
    web.client.post(f"/admin/users/{clin.id}/role", data={"csrf_token": csrf, "role": "viewer"})
    assert web.client.post("/api/cases", content="x: 1", headers=web.h()).status_code == 403
    for action in ("password_changed", "token_issued", "token_revoked", "user_changed"):
        by_admin = [e for e in _actions(web, action) if e.user is not None]  # not the fixture's
        assert by_admin and all(e.user.name == "adm" and e.role == "admin" for e in by_admin)
        assert all(e.client for e in by_admin)


def test_user_creation_is_audited_with_admin_role_and_client(web):
    # issue 10 §7: every user change is audited with time, user, role and client address, and
    # no secret in the row (ids only: the new user's id and role, never the password)
    _login(web.client, "adm")
    csrf = csrf_of(web.client.get("/admin/users").text)
    web.client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "name": "newclin",
            "role": "clinician",
            "password": "copper lantern orchard",
        },
    )
    with web.app.state.store.read() as s:
        new = next(u for u in repo.list_users(s) if u.name == "newclin")
    rows = [e for e in _actions(web, "user_created") if e.user is not None]
    assert rows, "no user_created audit row by the admin"
    row = rows[-1]
    assert row.user.name == "adm" and row.role == "admin" and row.client and row.created is not None
    assert row.detail == {"user_id": new.id, "role": "clinician"}
    assert "copper" not in str(row.detail)


def test_expired_token_is_refused(web):
    with web.app.state.store.write() as s:
        user = next(u for u in repo.list_users(s) if u.name == "view")
        token = repo.issue_token(s, user, name="old", expires_days=1)
    assert (
        web.client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    from rplcare.store.models import ApiToken

    with web.app.state.store.write() as s:
        s.execute(update(ApiToken).where(ApiToken.name == "old").values(expires=utcnow()))
    assert (
        web.client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short one", "at least 15"),
        ("passwordpassword", "breached or common"),
        ("qwertyuiopasdfgh", "breached or common"),
        ("abcabcabcabcabcabc", "repeats"),
        ("9876543210987654", "walks"),
        ("my name is clin, hello", "user name"),
    ],
)
def test_password_policy_refuses_with_the_reason(password, reason):
    with pytest.raises(repo.PolicyError) as err:
        repo.check_password(password, "clin")
    assert any(reason in p for p in err.value.problems)


def test_password_policy_has_no_composition_rules():
    repo.check_password("every lowercase word here", "clin")  # no digit, symbol or capital
