"""`rplcare outcomes`: the JSON keys of issue 13, CSV, text, FHIR, and input errors (exit 2)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from typer.testing import CliRunner

from rplcare.cli import app
from rplcare.outcomes import cohort
from rplcare.store.db import Store

runner = CliRunner()
TODAY = "2026-11-23"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cli.db'}"
    store = Store(url)
    cohort.load(store, cohort.cohort(30, seed=3, today=date(2026, 11, 23)))
    store.dispose()
    return url


def run(db, monkeypatch, *args):
    monkeypatch.setenv("RPLCARE_DATABASE_URL", db)
    return runner.invoke(app, ["outcomes", "--today", TODAY, *args])


def test_json_has_the_keys_the_issue_names(db, monkeypatch):
    r = run(db, monkeypatch, "--format", "json", "--by", "age", "--claim", "0.85")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    for key in ("live_birth_per_patient", "live_birth_next_pregnancy", "pending"):
        assert {"numerator", "denominator", "rate", "ci95"} <= d[key].keys()
    assert {"numerator", "denominator", "rate", "ci95"} <= d["lost_to_follow_up"].keys()
    assert "expected_live_births" in d["expected"]
    assert {"value", "ci95"} <= d["o_e"].keys()
    assert d["by"] == "age" and d["breakdown"]
    assert {"group", "live_birth_per_patient", "o_e"} <= d["breakdown"][0].keys()
    assert d["claim"]["claim"] == 0.85 and d["claim"]["words"]
    assert d["patients"] == 30


def test_csv_text_and_fhir(db, monkeypatch):
    r = run(db, monkeypatch, "--format", "csv", "--by", "clinician")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows[0]["group"] == "all" and int(rows[0]["patients"]) == 30
    r = run(db, monkeypatch)
    assert "Live birth per patient" in r.stdout and "95 % CI" in r.stdout
    r = run(db, monkeypatch, "--format", "fhir")
    kinds = [e["resource"]["resourceType"] for e in json.loads(r.stdout)["entry"]]
    assert kinds == ["Measure", "MeasureReport"]


def test_few_patients_say_too_few(db, monkeypatch):
    r = run(db, monkeypatch, "--format", "json", "--since", "2025-06-01")
    d = json.loads(r.stdout)
    assert d["patients"] < 10 and d["too_few"] is True
    r = run(db, monkeypatch, "--since", "2025-06-01", "--claim", "0.85")
    assert "Too few to say" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--claim", "85"], "--claim"),
        (["--age-bands", "40,35"], "--age-bands"),
        (["--lost-after", "-1"], "--lost-after"),
        (["--since", "last year"], "--since"),
    ],
)
def test_bad_options_exit_2_naming_the_option(db, monkeypatch, args, message):
    r = run(db, monkeypatch, *args)
    assert r.exit_code == 2
    assert message in r.stderr and not r.stdout
