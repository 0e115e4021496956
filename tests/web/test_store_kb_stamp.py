"""Stored assessments name what made them; a stale one is recomputed on read (issue 8 §3).

Rules checked: every assessment carries `knowledge_base.content_hash` and `.engine`; the store
keys cached assessments by both; reading one made by other knowledge recomputes it, records
`recomputed` in the audit log and links the new row to the old; the history page says the plan
changed because the knowledge changed; migration 0003_kb carries rows stored before it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from sqlalchemy import select, text

from rplcare import __version__
from rplcare.knowledge import get_kb, load_kb
from rplcare.knowledge.loader import DATA_DIR
from rplcare.store import repository as repo
from rplcare.store.db import Store, upgrade
from rplcare.store.models import AssessmentRecord, AuditEntry
from rplcare.util import yamlio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _kb_with_rise(tmp_path: Path, pct: int):
    d = tmp_path / "kb"
    shutil.copytree(DATA_DIR, d)
    f = d / "parameters_pregnancy.yaml"
    f.write_text(
        re.sub(
            r"(hcg\.nice_rise_pct:\n    value: )63", rf"\g<1>{pct}", f.read_text(encoding="utf-8")
        ),
        encoding="utf-8",
    )
    return load_kb(d)


def test_assessment_is_stamped_with_content_hash_and_engine(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with store.write() as s:
            v = repo.create_case(s, (EXAMPLES / "bleeding-early-pregnancy.yaml").read_text(), None)
            row = repo.assessment_record(s, v)
            kb = row.data["knowledge_base"]
            assert kb["content_hash"] == get_kb().content_hash == row.kb_hash
            assert kb["engine"] == __version__ == row.engine
            assert len(row.kb_hash) == 64 and row.replaces_id is None
    finally:
        store.dispose()


def test_a_stale_assessment_is_recomputed_on_read_and_recorded(tmp_path, monkeypatch):
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        with store.write() as s:
            v = repo.create_case(s, (EXAMPLES / "bleeding-early-pregnancy.yaml").read_text(), None)
            case_id = v.case_id
            first = repo.assessment_record(s, v)
            assert first.data["pregnancy"]["hcg"]["pairs"][0]["nice"] == "likely_intrauterine"
        patched = _kb_with_rise(tmp_path, 90)  # +87 % no longer counts as a NICE rise
        assert patched.content_hash != get_kb().content_hash
        monkeypatch.setattr("rplcare.knowledge.get_kb", lambda: patched)
        with store.write() as s:
            v = repo.latest_version(s, case_id)
            second = repo.assessment_record(s, v)
            assert second.id != first.id and second.replaces_id == first.id
            assert second.kb_hash == patched.content_hash
            assert second.data["pregnancy"]["hcg"]["pairs"][0]["nice"] == "review_within_24h"
            again = repo.assessment_record(s, v)
            assert again.id == second.id  # recomputed once, then read from the store
            [entry] = s.scalars(
                select(AuditEntry).where(
                    AuditEntry.case_id == case_id, AuditEntry.action == "recomputed"
                )
            ).all()
            assert entry.detail["before"]["kb_hash"] == first.kb_hash
            assert entry.detail["after"]["kb_hash"] == patched.content_hash
            [item] = repo.history(s, case_id)
            assert item.knowledge_change is not None
            assert item.knowledge_change["before"]["kb_hash"] == first.kb_hash
    finally:
        store.dispose()


def test_history_page_says_the_plan_changed_because_the_knowledge_changed(
    web, example_text, tmp_path, monkeypatch
):
    data = yamlio.load(example_text)
    r = web.client.post("/api/cases", content=json.dumps(data, default=str), headers=web.h())
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    web.login()
    assert "because the knowledge changed" not in web.client.get(f"/cases/{case_id}/history").text
    monkeypatch.setattr("rplcare.knowledge.get_kb", lambda p=_kb_with_rise(tmp_path, 90): p)
    page = web.client.get(f"/cases/{case_id}/history").text
    assert "Plan recomputed because the knowledge changed" in page


def test_migration_0003_carries_rows_stored_before_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = Store(url, migrate=False)
    try:
        upgrade(store.engine, "0002")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO cases (id, created) VALUES ('old', '2026-11-01')"))
            conn.execute(
                text(
                    "INSERT INTO case_versions (id, case_id, n, data, event, created) VALUES "
                    "(1, 'old', 1, :data, 'created', '2026-11-01')"
                ),
                {"data": json.dumps(yamlio.load(_example_text()), default=str)},
            )
            conn.execute(
                text(
                    "INSERT INTO assessments (id, case_version_id, kb_version, input_hash, "
                    "definition, luteal_policy, assessed_on, data, created) VALUES "
                    "(7, 1, '2026.11.1', 'x', 'eshre2022', 'guideline', '2026-11-20', "
                    "'{\"recommendations\": [], \"findings\": []}', '2026-11-01')"
                )
            )
        upgrade(store.engine, "head")
        with store.write() as s:
            old = s.get(AssessmentRecord, 7)
            assert old is not None and (old.kb_hash, old.engine) == ("", "")
            v = repo.latest_version(s, "old")
            new = repo.assessment_record(s, v)
            assert new.replaces_id == 7 and new.kb_hash == get_kb().content_hash
            assert s.scalar(select(AuditEntry.action).where(AuditEntry.case_id == "old")) == (
                "recomputed"
            )
    finally:
        store.dispose()


def _example_text() -> str:
    return (EXAMPLES / "bleeding-early-pregnancy.yaml").read_text(encoding="utf-8")
