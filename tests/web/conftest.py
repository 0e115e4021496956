"""Fixtures for the web tests: an app on SQLite and on a real PostgreSQL started here.

The PostgreSQL cluster (Debian's binaries, run as the `postgres` user under root) starts once
per session on a free localhost port; every test gets a fresh database in it. Tests on it are
marked `postgres` and skip, saying why, when the binaries are missing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from fastapi.testclient import TestClient

from rplcare.store import pgtemp
from rplcare.store import repository as repo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# passphrases that pass the password policy (15+ characters, not common, not the name)
PASSWORDS = {
    "clin": "amber-kettle-river-01",
    "view": "amber-kettle-river-02",
    "adm": "amber-kettle-river-03",
}
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pgtemp.TempPostgres]:
    reason = pgtemp.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with pgtemp.TempPostgres() as pg:
        yield pg


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rplcare.db'}"
    pg: pgtemp.TempPostgres = request.getfixturevalue("postgres_server")
    return pg.create_database(f"t{next(_counter)}")


@dataclass
class Web:
    client: TestClient
    app: object
    tokens: dict[str, str]

    def h(self, role: str = "clinician", version: int | None = None) -> dict[str, str]:
        """Bearer headers; with `version`, the If-Match an update of that version sends."""
        out = {"Authorization": f"Bearer {self.tokens[role]}"}
        if version is not None:
            out["If-Match"] = f'"{version}"'
        return out

    def login(self, name: str = "clin", password: str = "amber-kettle-river-01") -> None:
        page = self.client.get("/login")
        self.client.post(
            "/login",
            data={
                "csrf_token": csrf_of(page.text),
                "name": name,
                "password": password,
                "next": "/cases",
            },
        )

    def csrf(self) -> str:
        return csrf_of(self.client.get("/cases").text)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


@pytest.fixture
def web(database_url: str) -> Iterator[Web]:
    from rplcare.web.app import create_app

    app = create_app(database_url, secret_key="test-secret", secure_cookies=False)
    store = app.state.store
    tokens = {}
    with store.write() as s:
        for name, role in (("clin", "clinician"), ("view", "viewer"), ("adm", "admin")):
            user = repo.create_user(s, name, role, PASSWORDS[name])
            tokens[role] = repo.issue_token(s, user)
    with TestClient(app) as client:
        yield Web(client, app, tokens)


@pytest.fixture
def example_text() -> str:
    return (EXAMPLES / "bleeding-early-pregnancy.yaml").read_text(encoding="utf-8")
