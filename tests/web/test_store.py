"""The store itself: the migration builds exactly the ORM schema, diffs, commands, and the
light import path the CLI relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rplcare.store import repository as repo
from rplcare.store.db import Store, database_url

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_match_the_models(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from rplcare.store.models import Base

    store = Store(database_url)
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        with store.read() as s:
            from alembic.script import ScriptDirectory
            from sqlalchemy import text

            from rplcare.store.db import alembic_config

            head = ScriptDirectory.from_config(alembic_config(store.engine)).get_current_head()
            assert head == "0005_user_lang"  # one head: the 0003 branches chained, then 0004, 0005
            assert s.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    finally:
        store.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    from sqlalchemy import text

    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.read() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.dispose()


def test_database_url_defaults_and_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RPLCARE_DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///var/rplcare.db"
    monkeypatch.setenv("RPLCARE_DATABASE_URL", "postgresql://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"


def test_json_diff_paths():
    before = {"a": 1, "results": [{"value": 1}], "gone": True}
    after = {"a": 1, "results": [{"value": 2}, {"value": 3}], "new": "x"}
    assert repo.json_diff(before, after) == [
        {"path": "results[0].value", "before": 1, "after": 2},
        {"path": "results[1]", "before": None, "after": {"value": 3}},
        {"path": "gone", "before": True, "after": None},
        {"path": "new", "before": None, "after": "x"},
    ]


def test_diff_assessments_and_status():
    old = {
        "recommendations": [
            {"id": "a", "status": "recommended"},
            {"id": "b", "status": "conditional"},
        ],
        "findings": [{"id": "f1"}],
    }
    new = {
        "recommendations": [
            {"id": "a", "status": "conditional"},
            {"id": "c", "status": "recommended"},
        ],
        "findings": [{"id": "f2"}, {"id": "state.workup_incomplete"}],
        "pregnancy": {"hcg": {"pairs": [{"nice": "review_within_24h"}], "alerts": []}},
    }
    d = repo.diff_assessments(old, new)
    assert d["status_changed"] == [{"id": "a", "before": "recommended", "after": "conditional"}]
    assert d["recommendations_added"] == [{"id": "c", "status": "recommended"}]
    assert d["recommendations_removed"] == [{"id": "b", "status": "conditional"}]
    assert d["findings_added"] == ["f2", "state.workup_incomplete"]
    assert d["findings_removed"] == ["f1"]
    assert repo.case_status(new) == {
        "workup_incomplete": True,
        "pregnant": False,
        "needs_review_24h": True,
    }
    urgent = {"pregnancy": {"hcg": {"pairs": [], "alerts": [{"level": "urgent"}]}}}
    assert repo.case_status(urgent)["needs_review_24h"]


def test_passwords_are_argon2_and_tokens_hashed(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.write() as s:
        user = repo.create_user(s, "ann", "clinician", "plum orchard lantern")
        token = repo.issue_token(s, user)
    with store.read() as s:
        from sqlalchemy import select

        from rplcare.store.models import ApiToken, User

        row = s.scalar(select(User))
        assert row.password_hash.startswith("$argon2")
        assert token not in {t.token_hash for t in s.scalars(select(ApiToken))}
        assert repo.authenticate(s, "ann", "plum orchard lantern") is not None
        assert repo.authenticate(s, "ann", "nope") is None
        assert repo.authenticate(s, "bob", "plum orchard lantern") is None
    with store.write() as s, pytest.raises(ValueError, match="role"):
        repo.create_user(s, "x", "superuser")
    store.dispose()


def _run(code: str, env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **env_extra}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_commands_user_add_and_load_examples(tmp_path):
    url = f"sqlite:///{tmp_path / 'cmd.db'}"
    r = _run(
        "import sys; from rplcare.web.commands import user_add, load_examples;"
        "rc = user_add('ann', 'clinician', True, 'plum orchard lantern');"
        "load_examples(); load_examples();"
        "sys.exit(rc)",
        {"RPLCARE_DATABASE_URL": url, "RPLCARE_DEMO_PATIENTS": "5"},
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("rpl_")
    assert "loaded 4 example case(s)" in r.stderr and "already has cases" in r.stderr
    assert "loaded 5 synthetic demo patients" in r.stderr
    assert not (tmp_path / "var").exists()  # RPLCARE_DATABASE_URL honoured
    r = _run(
        "import sys; from rplcare.web.commands import user_add;"
        "sys.exit(user_add('ann', 'clinician', False, 'plum orchard lantern'))",
        {"RPLCARE_DATABASE_URL": url},
        tmp_path,
    )
    assert r.returncode == 3 and "exists" in r.stderr


def test_default_database_and_secret_under_var(tmp_path):
    r = _run(
        "from rplcare.web.app import create_app; create_app()",
        {"RPLCARE_DATABASE_URL": "", "RPLCARE_SECRET_KEY": ""},
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "var" / "rplcare.db").exists()
    key = tmp_path / "var" / "secret.key"
    assert key.exists() and oct(key.stat().st_mode)[-3:] == "600"


def test_cli_facing_modules_import_without_heavy_dependencies(tmp_path):
    r = _run(
        "import sys, json; import rplcare.web.commands, rplcare.store, rplcare.web;"
        "print(json.dumps([m for m in ('sqlalchemy', 'fastapi', 'uvicorn', 'alembic',"
        " 'weasyprint') if m in sys.modules]))",
        {},
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


def test_cds_feedback_is_kept_once_and_an_override_is_audited(database_url):
    store = Store(database_url)
    fb = repo.SqlFeedbackStore(store)
    row = {
        "card": "c-1",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-23T10:00:00Z",
        "overrideReason": {
            "reason": {"code": "patient_declined", "system": "https://rplcare.org/override-reason"},
            "userComment": "prefers to wait",
        },
        "recommendation": "treat.lymphocyte_immunotherapy",
        "patient": "p1",
    }
    try:
        fb.add("rplcare-order-sign", row)
        fb.add("rplcare-order-sign", dict(row))  # the client may report it twice
        fb.add("rplcare-order-sign", {"card": "c-2", "outcome": "accepted"})
        kept = fb.list("rplcare-order-sign")
        assert [r["card"] for r in kept] == ["c-1", "c-2"]
        assert kept[0]["overrideReason"]["userComment"] == "prefers to wait"
        with store.read() as s:
            entries = [e for e in repo.audit_log(s) if e.detail.get("source") == "cds-hooks"]
        pairs = [(e.action, e.detail["reason"]) for e in entries]
        assert pairs == [("overrode", "patient_declined")]
    finally:
        store.dispose()
