"""No traceback, ever (issue 10 §2): a fuzz run per face, each input either accepted or
refused with `PATH: message` problems.

Faces and what counts as a failure:
- cli: `rplcare assess` (text, json and fhir output) on generated case files, written as YAML
  or JSON and then mutated at the text level; failure = an exit other than 0/2 or an
  exception escaping the command.
- api: `POST /api/cases` and `PUT` (with If-Match) of generated and mutated bodies; failure =
  a 5xx.
- fhir: `rplcare import-fhir` on structurally mutated FHIR Bundles (values replaced by other
  JSON types, keys dropped, non-string `resourceType`, text-level mutations); failure = an
  exit other than 0/2 or an exception.
- cds: CDS Hooks `patient-view` / `order-sign` with mutated prefetch; failure = a 5xx or the
  service's last-resort handler (an unexpected exception turned into "no cards").

`RPLCARE_FUZZ_EXAMPLES` sets the inputs per face (default 40 in `make test`; `make fuzz` runs
10,000). Each test prints `fuzz <face>: N inputs, 0 failures` (shown with `-s`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.test_fuzz import cases

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TODAY = date(2026, 11, 23)
N = int(os.environ.get("RPLCARE_FUZZ_EXAMPLES", "40"))
# the bounded run of `make test` is derandomised (a red CI can be repeated); `make fuzz` explores
FUZZ = settings(
    derandomize="RPLCARE_FUZZ_EXAMPLES" not in os.environ,
    max_examples=N,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
COUNTS: dict[str, int] = {}

TOKENS = [
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    ",",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "!!python/object/apply:os.system ['true'] ",
    "!!int ",
    "!!timestamp ",
    "!!str ",
    "? ",
    "\x00",
    "\t",
    "'",
    '"',
    "\\",
    "#",
    "|\n",
    ">-\n",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\ufeff",
    "\u202e",
    "é",
    "\ud83d\ude00",
    "2026-13-45",
    "2026-02-30",
    "2026-01-01 25:00:00",
    "2026-11-20T10:61:00Z",
    "9" * 60,
    "9" * 5000,
    "-1",
    "1e999",
    "-1e-999",
    ".nan",
    ".inf",
    "nan",
    "null",
    "~",
    "true",
    "no",
    "0x1F",
    "0o17",
    "1_000",
    "12:30:00",
    "190:20:30",
    "\n",
    "  ",
    "    ",
    "8+9",
    "99+99",
    "+",
    "46,XX",
    "hcg",
    "IU/L",
    "results",
    "value",
    "date",
    "test",
    "unit",
    "scans",
    "current_pregnancy",
    "pregnancies",
    "patient",
]

# results as labs write them in a valueString (issue 15 §2): bounds, words, look-alikes
LAB_STRINGS = [
    "<0.1",
    "> 1000 mIU/mL",
    "≤5",
    "≥ 80 [GPL'U]",
    "<5 m[IU]/mL",
    "=<0.3",
    "negative",
    "Non-reactive",
    "< 0,1",
    "5.2 (H)",
    "1e999",
    "-1e-999 mIU/L",
    ">",
    "<<5",
    "0" * 40,
]
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["2026-13-45", "2026-02-30", "Patient/x", "urn:uuid:1", "", "\x00", "8+0"]),
    st.sampled_from(LAB_STRINGS),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _mutate_text(data: st.DataObject, text: str, max_ops: int = 4) -> str:
    for _ in range(data.draw(st.integers(0, max_ops), label="ops")):
        if not text:
            text = data.draw(st.sampled_from(TOKENS))
            continue
        i = data.draw(st.integers(0, len(text)), label="at")
        op = data.draw(st.sampled_from(["insert", "delete", "dup", "replace", "swapcase"]))
        if op == "insert":
            text = text[:i] + data.draw(st.sampled_from(TOKENS)) + text[i:]
        elif op == "delete":
            j = data.draw(st.integers(i, min(len(text), i + 40)))
            text = text[:i] + text[j:]
        elif op == "dup":
            j = data.draw(st.integers(i, min(len(text), i + 80)))
            text = text[:j] + text[i:j] + text[j:]
        elif op == "replace" and i < len(text):
            text = text[:i] + data.draw(st.characters()) + text[i + 1 :]
        else:
            j = data.draw(st.integers(i, min(len(text), i + 20)))
            text = text[:i] + text[i:j].swapcase() + text[j:]
    return text


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _mutate_tree(data: st.DataObject, value: Any, max_ops: int = 4) -> Any:
    value = json.loads(json.dumps(value, default=str))
    for _ in range(data.draw(st.integers(1, max_ops), label="tree ops")):
        paths = _paths(value)
        path = paths[data.draw(st.integers(0, len(paths) - 1), label="path")]
        if not path:
            continue
        parent = value
        for p in path[:-1]:
            parent = parent[p]
        op = data.draw(
            st.sampled_from(["replace", "delete", "resourceType", "duplicate", "valueString"])
        )
        if op == "valueString" and isinstance(parent, dict) and "valueQuantity" in parent:
            del parent["valueQuantity"]  # the result as text, as many labs send it
            parent["valueString"] = data.draw(st.sampled_from(LAB_STRINGS) | st.text(max_size=12))
        elif op == "delete":
            del parent[path[-1]]
        elif op == "resourceType" and isinstance(parent, dict):
            parent["resourceType"] = data.draw(json_value)
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(json.loads(json.dumps(parent[path[-1]])))
        else:
            parent[path[-1]] = data.draw(json_value)
    return value


def _seed_case(data: st.DataObject) -> dict[str, Any]:
    if data.draw(st.booleans(), label="seed from an example"):
        path = data.draw(st.sampled_from(EXAMPLES))
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        return _mutate_tree(data, case, 3) if data.draw(st.booleans()) else case
    return data.draw(cases)


def _case_text(data: st.DataObject) -> str:
    case = _seed_case(data)
    if data.draw(st.booleans(), label="as JSON"):
        text = json.dumps(case, default=str, ensure_ascii=data.draw(st.booleans()))
    else:
        text = yaml.safe_dump(case, sort_keys=False, allow_unicode=True)
    return _mutate_text(data, text) if data.draw(st.booleans(), label="mutate") else text


def _count(face: str) -> None:
    COUNTS[face] = COUNTS.get(face, 0) + 1


def _report(face: str) -> None:
    print(f"\nfuzz {face}: {COUNTS.get(face, 0)} inputs, 0 failures")


# --- cli ----------------------------------------------------------------------------------


def test_fuzz_cli_assess(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rplcare.cli import app

    runner = CliRunner()
    file = tmp_path / "case.yaml"

    @FUZZ
    @given(data=st.data(), fmt=st.sampled_from(["text", "json", "fhir"]))
    def run(data: st.DataObject, fmt: str) -> None:
        _count("cli")
        file.write_text(_case_text(data), encoding="utf-8", errors="surrogatepass")
        r = runner.invoke(app, ["assess", str(file), "--format", fmt, "--today", str(TODAY)])
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            raise r.exception
        assert r.exit_code in (0, 2), r.output
        if r.exit_code == 2:
            assert r.stderr.strip() and "Traceback" not in r.stderr

    run()
    _report("cli")


# --- api ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_client():
    from fastapi.testclient import TestClient

    from rplcare.store import repository as repo
    from rplcare.web.app import create_app

    db = Path(tempfile.mkdtemp(prefix="rplcare-fuzz-api-")) / "fuzz.db"
    app = create_app(f"sqlite:///{db}", secret_key="fuzz")
    with app.state.store.write() as s:
        token = repo.issue_token(s, repo.create_user(s, "fuzzer", "clinician", None))
        repo.load_directory(s, ROOT / "examples")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}


def test_fuzz_api_bodies(api_client) -> None:
    client, auth = api_client

    @FUZZ
    @given(
        data=st.data(),
        ctype=st.sampled_from(["application/json", "application/yaml", "text/plain", None]),
        method=st.sampled_from(["post", "put", "import"]),
    )
    def run(data: st.DataObject, ctype: str | None, method: str) -> None:
        _count("api")
        body = _case_text(data).encode("utf-8", "surrogatepass")
        headers = dict(auth)
        if ctype:
            headers["Content-Type"] = ctype
        if method == "post":
            r = client.post("/api/cases", content=body, headers=headers)
        elif method == "import":
            r = client.post("/api/import", content=body, headers=headers)
        else:
            tag = client.get("/api/cases/example-bleeding", headers=auth).headers.get("etag")
            headers["If-Match"] = tag or '"1"'
            r = client.put("/api/cases/example-bleeding", content=body, headers=headers)
        assert r.status_code < 500, r.text[:500]
        if r.status_code == 422:
            assert all("path" in p and p["message"] for p in r.json()["problems"])

    run()
    _report("api")


# --- fhir ---------------------------------------------------------------------------------


def _bundles() -> list[dict[str, Any]]:
    from rplcare.case.loader import load_case
    from rplcare.interop.fhir.write import case_to_bundle

    return [case_to_bundle(load_case(p, today=TODAY)) for p in EXAMPLES]


def test_fuzz_import_fhir(tmp_path: Path) -> None:
    from rplcare.interop.commands import import_fhir

    seeds = _bundles()
    file = tmp_path / "bundle.json"

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        _count("fhir")
        bundle = _mutate_tree(data, data.draw(st.sampled_from(seeds)), 5)
        text = json.dumps(bundle)
        if data.draw(st.integers(0, 4)) == 0:
            text = _mutate_text(data, text, 2)
        file.write_text(text, encoding="utf-8", errors="surrogatepass")
        out, err = io.StringIO(), io.StringIO()
        rc = import_fhir(file, None, None, TODAY, out=out, err=err)
        assert rc in (0, 2)
        if rc == 2:
            assert err.getvalue().strip()

    run()
    _report("fhir")


# --- cds ----------------------------------------------------------------------------------


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# The class the prefetch fuzz found (reduced): an entry's fullUrl that is not a string (an
# object, a list) reached the reader's index as an unhashable key, a TypeError after mapping.
# Rule (issue 10 §2, CDS): bad prefetch input gives 200 with the chart read or no cards and a
# logged reason at WARNING, never an ERROR or a traceback; a fullUrl is a string or absent.
@pytest.mark.parametrize("full_url", [{"a": 1}, ["urn:x"], [], {}, 7, 1.5, True, None], ids=repr)
def test_cds_prefetch_non_string_full_url_is_no_full_url(full_url: Any) -> None:
    import tests.interop.test_cds_service as cds_tests
    from fastapi.testclient import TestClient

    from rplcare.interop.cds import create_cds_app

    client = TestClient(
        create_cds_app(clock=lambda: TODAY, environ={}, allow_unauthenticated=True),
        raise_server_exceptions=False,
    )
    errors = _Errors()
    watched = logging.getLogger("rplcare.interop")
    watched.addHandler(errors)
    try:
        for path in EXAMPLES:
            pid, prefetch, _day = cds_tests.chart(path)
            baseline = client.post(
                "/cds-services/rplcare-patient-view",
                json=cds_tests.request("patient-view", pid, prefetch),
            )
            for bundle in prefetch.values():
                for entry in bundle.get("entry", []) if isinstance(bundle, dict) else []:
                    entry["fullUrl"] = full_url
            r = client.post(
                "/cds-services/rplcare-patient-view",
                json=cds_tests.request("patient-view", pid, prefetch),
            )
            assert r.status_code == 200, (path.name, r.text[:300])
            # the fullUrl is only an index key: the same cards as with the valid one
            ids = [c.get("summary") for c in r.json()["cards"]]
            assert ids == [c.get("summary") for c in baseline.json()["cards"]], path.name
    finally:
        watched.removeHandler(errors)
    assert not errors.records, [rec.getMessage() for rec in errors.records]


def test_fuzz_cds_prefetch() -> None:
    import tests.interop.test_cds_service as cds_tests
    from fastapi.testclient import TestClient

    from rplcare.interop.cds import create_cds_app

    charts = [cds_tests.chart(p) for p in EXAMPLES]
    client = TestClient(
        create_cds_app(clock=lambda: TODAY, environ={}, allow_unauthenticated=True),
        raise_server_exceptions=False,
    )
    errors = _Errors()
    watched = logging.getLogger("rplcare.interop")
    watched.addHandler(errors)

    @FUZZ
    @given(data=st.data(), hook=st.sampled_from(["patient-view", "order-sign"]))
    def run(data: st.DataObject, hook: str) -> None:
        _count("cds")
        pid, prefetch, _day = data.draw(st.sampled_from(charts))
        body = cds_tests.request(hook, pid, _mutate_tree(data, prefetch, 4))
        if hook == "order-sign":
            body["context"]["draftOrders"] = _mutate_tree(
                data,
                cds_tests._orders(
                    pid,
                    {
                        "resourceType": "MedicationRequest",
                        "medicationCodeableConcept": {
                            "text": data.draw(st.sampled_from(["aspirin", "progesterone", "IVIG"]))
                        },
                    },
                ),
                2,
            )
        service = "rplcare-patient-view" if hook == "patient-view" else "rplcare-order-sign"
        before = len(errors.records)
        r = client.post(
            f"/cds-services/{service}",
            content=json.dumps(body, default=str),  # NaN / Infinity as Python writes them
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code < 500, r.text[:300]
        assert len(errors.records) == before, [rec.getMessage() for rec in errors.records[before:]]

    try:
        run()
    finally:
        watched.removeHandler(errors)
    _report("cds")
