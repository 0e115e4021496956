"""Screening and the CDS Hooks patient-view service agree for the same patient.

Rule: both read the chart with the same mapping and call the same `assess()`, so the workup
gaps the CDS service shows as cards ("Workup gap: …", a `test.*` recommendation) are the
`test.*` gaps of the screening row, and the therapies it flags as not recommended are the
row's `advised_against`. The service is called through its public HTTP face (the app factory),
not changed.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.screening.conftest import export_cases
from tests.screening.test_screen import ONE_LOSS, RPL

from rplcare.interop.cds.app import create_cds_app
from rplcare.interop.cds.discovery import SERVICE_PATIENT_VIEW
from rplcare.screening.local import screen_local

DAY = date(2026, 11, 23)


def _searchset(resources: list[dict]) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


@pytest.mark.parametrize("case", [RPL, ONE_LOSS], ids=lambda c: c["id"])
def test_cds_patient_view_and_screening_agree(case: dict, tmp_path: Path) -> None:
    export = export_cases(tmp_path / "x", [case])
    out = tmp_path / "rows.ndjson"
    screen_local([export], out, DAY)
    (row,) = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert row["screened"], row["error"]

    resources = [
        orjson.loads(line)
        for f in sorted(export.glob("*.ndjson"))
        for line in f.read_bytes().splitlines()
    ]
    of = lambda t: [r for r in resources if r["resourceType"] == t]  # noqa: E731
    (patient,) = of("Patient")
    prefetch = {
        "patient": patient,
        "observations": _searchset(of("Observation")),
        "conditions": _searchset(of("Condition")),
        "medicationStatements": _searchset(of("MedicationStatement")),
        "medicationRequests": _searchset(of("MedicationRequest")),
    }
    client = TestClient(create_cds_app(clock=lambda: DAY, environ={}, allow_unauthenticated=True))
    resp = client.post(
        f"/cds-services/{SERVICE_PATIENT_VIEW}",
        json={
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"patientId": patient["id"], "userId": "Practitioner/1"},
            "prefetch": prefetch,
        },
    )
    assert resp.status_code == 200, resp.text
    cards = resp.json()["cards"]
    topic = lambda c: c["source"]["topic"]["code"]  # noqa: E731
    cds_gaps = {topic(c) for c in cards if c["summary"].startswith("Workup gap:")}
    cds_against = {topic(c) for c in cards if c["summary"].startswith("Not recommended:")}
    assert cds_gaps == {g["id"] for g in row["gaps"] if g["id"].startswith("test.")}
    assert cds_against == set(row["advised_against"])
    if case is RPL:  # the comparison is not between two empty sets
        assert "test.antiphospholipid_antibodies" in cds_gaps
        assert cds_against == {"treat.lymphocyte_immunotherapy"}


def test_cds_and_screening_agree_on_every_synthea_chart(synthea_bundles) -> None:
    """Rule: for the same resources (what the patient-view prefetch carries: the Patient, her
    Observations, Conditions and medications), the screening row (`screen_resources`, the
    per-patient function of both engines, with its fast mapping) and the CDS service's cards
    name the same workup gaps and the same recommendations advised against, on every Synthea
    chart; a chart the case model refuses gives no cards and an unscreened row."""
    from rplcare.screening.patient import screen_resources

    client = TestClient(create_cds_app(clock=lambda: DAY, environ={}, allow_unauthenticated=True))
    compared = 0
    for pid, resources in synthea_bundles.items():
        of = lambda t: [r for r in resources if r["resourceType"] == t]  # noqa: E731, B023
        (patient,) = of("Patient")
        prefetch = {
            "patient": patient,
            "observations": _searchset(of("Observation")),
            "conditions": _searchset(of("Condition")),
            "medicationStatements": _searchset(of("MedicationStatement")),
            "medicationRequests": _searchset(of("MedicationRequest")),
        }
        same = [patient] + [
            e["resource"] for k, v in prefetch.items() if k != "patient" for e in v["entry"]
        ]
        row = screen_resources(pid, same, DAY, marked=True)
        resp = client.post(
            f"/cds-services/{SERVICE_PATIENT_VIEW}",
            json={
                "hook": "patient-view",
                "hookInstance": str(uuid.uuid4()),
                "context": {"patientId": pid, "userId": "Practitioner/1"},
                "prefetch": prefetch,
            },
        )
        assert resp.status_code == 200, resp.text
        cards = resp.json()["cards"]
        topic = lambda c: c["source"]["topic"]["code"]  # noqa: E731
        cds_gaps = {topic(c) for c in cards if c["summary"].startswith("Workup gap:")}
        cds_against = {topic(c) for c in cards if c["summary"].startswith("Not recommended:")}
        if not row["screened"]:
            assert cards == [], (pid, row["error"])
            continue
        assert cds_gaps == {g["id"] for g in row["gaps"] if g["id"].startswith("test.")}, pid
        assert cds_against == set(row["advised_against"]), pid
        compared += bool(cds_gaps)
    assert compared >= 2  # some charts have workup gaps on both sides (not two empty sets)
