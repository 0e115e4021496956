"""Schemathesis against the web app's own OpenAPI (JSON API + CDS Hooks): no input gives a 5xx.

The app runs in-process on a throwaway SQLite file with the example cases loaded, and every
call carries a clinician's bearer token, so the fuzzer reaches the handlers, not just the 401.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from rplcare.store import repository as repo
from rplcare.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
_DB = Path(tempfile.mkdtemp(prefix="rplcare-fuzz-")) / "fuzz.db"
_APP = create_app(f"sqlite:///{_DB}", secret_key="fuzz-secret")
with _APP.state.store.write() as _s:
    _TOKEN = repo.issue_token(
        _s, repo.create_user(_s, "fuzzer", "clinician", "amber-kettle-river-fz")
    )
    repo.load_directory(_s, ROOT / "examples")

schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_web_api_fuzz_finds_no_server_error(case: Any) -> None:
    response = case.call(headers={"Authorization": f"Bearer {_TOKEN}"})
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])
