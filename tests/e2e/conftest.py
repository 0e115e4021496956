"""Browser tests: the app under uvicorn in a subprocess (temp SQLite), Debian's Chromium
driven by Playwright for Python. Never downloads a browser: skips when /usr/bin/chromium or
the playwright package is missing."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: axe-core from the npm packages the test set-up installs (scripts/fhir-npm-deps.sh)
AXE = ROOT / "tests" / "interop" / "node" / "node_modules" / "axe-core" / "axe.min.js"


@dataclass
class Server:
    url: str
    user: str
    password: str
    db: Path  # the server's SQLite file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("e2e")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "RPLCARE_DATABASE_URL": f"sqlite:///{work / 'e2e.db'}",
        "RPLCARE_SECRET_KEY": "e2e-secret",
        "RPLCARE_COOKIE_SECURE": "0",  # plain http on 127.0.0.1
    }
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from rplcare.web.commands import user_add;"
            "raise SystemExit(user_add('clin', 'clinician', False, 'amber-kettle-river-e2e'))",
        ],
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    log = (work / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "rplcare.web.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the app did not start: " + (work / "server.log").read_text())
            time.sleep(0.2)
    yield Server(url, "clin", "amber-kettle-river-e2e", work / "e2e.db")
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(autouse=True)
def _each_test_starts_in_english(request: pytest.FixtureRequest) -> Iterator[None]:
    """The page language is kept on the user (users.lang), and the browser tests share one
    server and user: a test that switches to Chinese must not leave the next one in it."""
    yield
    if "server" in request.fixturenames:
        server: Server = request.getfixturevalue("server")
        with sqlite3.connect(server.db) as con:
            con.execute("UPDATE users SET lang = NULL")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: object, server: Server) -> Iterator[object]:
    context = browser.new_context(
        base_url=server.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def pdf_text() -> object:
    return _pdf_text


def _pdf_text(path: Path) -> str | None:
    """Text of a PDF with poppler's pdftotext, None when it is not installed."""
    if shutil.which("pdftotext") is None:
        return None
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return " ".join(out.split())


@pytest.fixture
def axe_page(browser: object, server: Server) -> Iterator[object]:
    """A page whose context lets the test inject axe-core past the app's script-src CSP."""
    if not AXE.exists():
        pytest.skip("axe-core not installed (scripts/fhir-npm-deps.sh runs npm ci)")
    context = browser.new_context(base_url=server.url, bypass_csp=True)  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


def serious_violations(page: object) -> list[str]:
    """axe-core's serious and critical WCAG violations of the page, one line each."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    result = page.evaluate(  # type: ignore[attr-defined]
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


#: htmx's own marks of work in flight (htmx.config.addedClass, settlingClass, swappingClass,
#: requestClass). A swapped-in element is in the DOM before htmx binds its triggers: htmx
#: removes ``htmx-added`` in the same settle task that processes the node, so no mark left
#: means every new element listens.
_HTMX_BUSY = ".htmx-added, .htmx-settling, .htmx-swapping, .htmx-request"


def htmx_settled(page: object) -> None:
    """Wait until htmx has no request, swap or settle in flight (every new node processed).

    Waiting only for a swapped-in element to be attached races htmx's settle step: an event
    fired before it (a ``change`` on a just-added select) reaches no handler and the request
    it should start never happens (CI failure of 2026-12-03, under load)."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "sel => document.querySelector(sel) === null", arg=_HTMX_BUSY
    )
