"""Entry points the CLI wires up (`rplcare serve`, `rplcare user add`), plus example loading.

Heavy imports (uvicorn, FastAPI, SQLAlchemy) happen inside the functions so that
`rplcare --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rplcare.errors import ExitCode

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


class RedactedAccessLog:
    """A filter for uvicorn's access log: the case id in `/cases/{id}...` and every query
    string (search terms) become `…`, so the log holds no patient identifiers."""

    def filter(self, record: object) -> bool:
        import re

        args = getattr(record, "args", None)
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2].split("?", 1)[0] + ("?…" if "?" in args[2] else "")
            path = re.sub(r"(/cases/)[^/]+", r"\1…", path)
            record.args = (*args[:2], path, *args[3:])  # type: ignore[attr-defined]
        return True


def access_log_mode() -> str:
    """`RPLCARE_ACCESS_LOG`: `redacted` (default), `full` or `off`."""
    mode = os.environ.get("RPLCARE_ACCESS_LOG", "redacted").strip().lower()
    return mode if mode in ("redacted", "full", "off") else "redacted"


def serve(host: str, port: int) -> None:
    """Run the web app with uvicorn (migrating the database first)."""
    import logging

    import uvicorn

    from rplcare.web.app import create_app

    app = create_app()
    mode = access_log_mode()
    if mode == "redacted":
        logging.getLogger("uvicorn.access").addFilter(RedactedAccessLog())
    print(
        f"rplcare is running at http://{host}:{port}/ (decision support, not diagnosis)",
        file=sys.stderr,
    )

    # a keep-alive longer than uvicorn's 5 s default avoids the race where a client reuses a
    # connection the server is closing (seen as read errors under load)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        timeout_keep_alive=30,
        access_log=mode != "off",
    )


def user_add(name: str, role: str, print_token: bool, password: str | None) -> int:
    """Create a user; with `print_token`, print a new API token (shown once). Exit status.

    Without a password the user can use the API with a token but cannot log in to the pages;
    an interactive terminal is asked for one.
    """
    from rplcare.store import repository as repo
    from rplcare.store.db import Store

    if password is None and sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"Password for {name} (empty: API token only): ") or None
    store = Store()
    try:
        with store.write() as s:
            user = repo.create_user(s, name, role, password)
            token = repo.issue_token(s, user) if print_token else None
            uid = user.id
    except ValueError as exc:  # includes Conflict
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.REFUSED
    finally:
        store.dispose()
    print(f"user {name!r} added (id {uid}, role {role})", file=sys.stderr)
    if token:
        print(token)
    return 0


def demo_patients() -> int:
    """How many synthetic patients an empty store gets (RPLCARE_DEMO_PATIENTS, default 200)."""
    import os

    from rplcare.outcomes.cohort import DEMO_PATIENTS

    raw = os.environ.get("RPLCARE_DEMO_PATIENTS", "").strip()
    return max(0, int(raw)) if raw.isdigit() else DEMO_PATIENTS


def load_examples(folder: Path | None = None) -> None:
    """Load the example case files into the store when it holds no case yet."""
    from rplcare.store import repository as repo
    from rplcare.store.db import Store

    folder = folder or EXAMPLES
    store = Store()
    try:
        with store.write() as s:
            if repo.count_cases(s):
                print("the store already has cases; examples not loaded", file=sys.stderr)
                return
            if not folder.is_dir():
                print(f"no examples folder at {folder}", file=sys.stderr)
                return
            ids = repo.load_directory(s, folder)
        print(f"loaded {len(ids)} example case(s): {', '.join(ids)}", file=sys.stderr)
        n = demo_patients()
        if n:
            from rplcare.outcomes.cohort import load_demo  # a demo clinic for Outcomes

            load_demo(store, n)
            print(
                f"loaded {n} synthetic demo patients (demo-…) for the Outcomes page",
                file=sys.stderr,
            )
    finally:
        store.dispose()


FIRST_LOGIN = Path("var") / "first-login.txt"


def first_login(path: Path = FIRST_LOGIN) -> str:
    """Make sure someone can log in to a new store, and say how.

    An empty store gets a user `clinician` with a random password, written to
    `var/first-login.txt` (mode 600, next to the SQLite file) so a second `make run` can show it
    again; a store with users only gets a reminder. Returns the line printed.
    """
    import secrets

    from rplcare.store import repository as repo
    from rplcare.store.db import Store

    store = Store()
    try:
        with store.write() as s:
            if repo.list_users(s):
                known = path.read_text(encoding="utf-8").strip() if path.exists() else ""
                line = (
                    f"first login: {known}"
                    if known
                    else "log in with an existing user (add one: rplcare user add NAME --role "
                    "clinician)"
                )
            else:
                password = secrets.token_urlsafe(12)
                repo.create_user(s, "clinician", "clinician", password)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"clinician / {password}\n", encoding="utf-8")
                path.chmod(0o600)
                line = f"first login: clinician / {password} (also in {path})"
    finally:
        store.dispose()
    print(line, file=sys.stderr)
    return line
