"""The registry as FHIR R4: a `Measure` (live birth after RPL assessment, its population
criteria) and a summary `MeasureReport` stratified by age band at the first assessment.

Plain JSON built here; the tests validate it with the fhir.resources R4B models (R4-compatible
for these resources). Counts only: no patient appears in a summary report.
"""

from __future__ import annotations

import uuid
from typing import Any

MEASURE_URL = "https://rplcare.example.org/fhir/Measure/rpl-live-birth"
SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
MEASURE_TYPE = "http://terminology.hl7.org/CodeSystem/measure-type"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
GROUPS = {
    "live-birth-next-pregnancy": (
        "live_birth_next_pregnancy",
        "Live birth (24+0 or later) in the next pregnancy after the first RPL assessment",
        "Patients whose first RPL assessment in the clinic falls in the period",
        "Those whose next pregnancy after the first assessment has a recorded outcome "
        "(pending and lost to follow-up excluded and reported beside the measure)",
        "Those whose next pregnancy ended in a live birth at 24+0 or later",
    ),
    "live-birth-per-patient": (
        "live_birth_per_patient",
        "Any live birth (24+0 or later) after the first RPL assessment, per patient",
        "Patients whose first RPL assessment in the clinic falls in the period",
        "All of them (women who never conceived included, and counted separately)",
        "Those with at least one live birth at 24+0 or later after the first assessment",
    ),
}


def _code(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"system": system, "code": code}
    if display:
        c["display"] = display
    return {"coding": [c]}


def _criteria(text: str) -> dict[str, Any]:
    return {"language": "text/plain", "description": text, "expression": text}


def measure(version: str = "1") -> dict[str, Any]:
    groups = []
    for gid, (_key, desc, initial, denom, numer) in GROUPS.items():
        groups.append(
            {
                "id": gid,
                "description": desc,
                "population": [
                    {
                        "code": _code(POPULATION, "initial-population"),
                        "criteria": _criteria(initial),
                    },
                    {"code": _code(POPULATION, "denominator"), "criteria": _criteria(denom)},
                    {"code": _code(POPULATION, "numerator"), "criteria": _criteria(numer)},
                ],
                "stratifier": [
                    {
                        "code": {"text": "age band at the first assessment"},
                        "criteria": _criteria(
                            "age in whole years on the date of the first assessment, "
                            "SART bands <35, 35–37, 38–40, 41–42, >42 (configurable)"
                        ),
                    }
                ],
            }
        )
    return {
        "resourceType": "Measure",
        "id": "rpl-live-birth",
        "url": MEASURE_URL,
        "version": version,
        "name": "RplLiveBirth",
        "title": "Live birth after assessment for recurrent pregnancy loss",
        "status": "active",
        "experimental": False,
        "description": (
            "The clinic's live-birth rate after a first RPL assessment, per next pregnancy and "
            "per patient, as rplcare's outcomes registry counts it (docs/outcomes.md). Rates "
            "are reported with Wilson 95 % intervals and an observed/expected ratio against "
            "the Brigham 1999 model in the registry itself."
        ),
        "scoring": _code(SCORING, "proportion", "Proportion"),
        "type": [_code(MEASURE_TYPE, "outcome", "Outcome")],
        "improvementNotation": _code(
            IMPROVEMENT, "increase", "Increased score indicates improvement"
        ),
        "group": groups,
    }


def _pop(code: str, count: int) -> dict[str, Any]:
    return {"code": _code(POPULATION, code), "count": int(count)}


def _group(gid: str, fig: dict[str, Any]) -> dict[str, Any]:
    key = GROUPS[gid][0]
    r = fig[key]
    out = {
        "id": gid,
        "population": [
            _pop("initial-population", fig["patients"]),
            _pop("denominator", r["denominator"]),
            _pop("numerator", r["numerator"]),
        ],
    }
    if r["rate"] is not None:
        out["measureScore"] = {"value": round(r["rate"], 6), "unit": "1"}
    return out


def measure_report(overall: dict[str, Any], by_age: dict[str, Any]) -> dict[str, Any]:
    """A summary MeasureReport from two registry reports: overall and `by="age"`."""
    start = overall.get("since") or "1900-01-01"
    end = overall.get("until") or overall["as_of"]
    groups = []
    for gid in GROUPS:
        g = _group(gid, overall)
        strata = []
        for row in by_age["breakdown"]:
            s = _group(gid, row)
            s.pop("id")
            strata.append({"value": {"text": row["group"]}, **s})
        g["stratifier"] = [
            {"code": [{"text": "age band at the first assessment"}], "stratum": strata}
        ]
        groups.append(g)
    return {
        "resourceType": "MeasureReport",
        "id": f"rpl-live-birth-{overall['as_of']}",
        "status": "complete",
        "type": "summary",
        "measure": MEASURE_URL,
        "date": overall["as_of"],
        "period": {"start": start, "end": end},
        "improvementNotation": _code(IMPROVEMENT, "increase"),
        "group": groups,
    }


def bundle(overall: dict[str, Any], by_age: dict[str, Any] | None = None) -> dict[str, Any]:
    """A collection Bundle: the Measure and its MeasureReport (stratified when `by_age`)."""
    report = measure_report(overall, by_age or {"breakdown": []})
    key = f"{MEASURE_URL}|{overall['as_of']}|{overall.get('since')}|{overall.get('until')}"
    if by_age is None:
        for g in report["group"]:
            g.pop("stratifier")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": MEASURE_URL, "resource": measure()},
            {"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}", "resource": report},
        ],
    }
