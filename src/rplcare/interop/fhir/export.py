"""An assessment as FHIR R4: CarePlan + requests, DetectedIssues, Provenance (a collection).

Everything is a *proposal* (CarePlan intent proposal; requests draft/proposal): rplcare
suggests, a clinician orders. Each request carries the recommendation id as an identifier with
system `https://rplcare.org/recommendation`, so stored overrides and CDS feedback can be joined
back to the knowledge base. Drug doses are written only where the knowledge base states them
(the `doses:` a recommendation's rule names in `recommendations.yaml`, structured in
`doses.yaml`); the rest is text, because an invented structured dose is more dangerous than a
sentence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import rplcare
from rplcare.interop.fhir.codes import CS_MEDICATION as _CS_MED
from rplcare.interop.fhir.codes import (
    FINDING_SYSTEM,
    LOINC,
    LOINC_DISPLAY,
    RECOMMENDATION_SYSTEM,
    ROUTE_ORAL,
    TERM,
    UCUM,
    Code,
    coding,
    local,
    medication_codes,
)
from rplcare.interop.fhir.jsonutil import _uid
from rplcare.interop.fhir.write import case_to_bundle
from rplcare.knowledge import KnowledgeBase, get_kb
from rplcare.knowledge.model import Dose
from rplcare.util import jsonio

__all__ = ["KB_SYSTEM", "assessment_bundle", "medication_requests", "progesterone_stop_date"]

KB_SYSTEM = "https://rplcare.org/knowledge-base"
DEVICE_ID = "rplcare"

# tests: LOINC codes of what the request asks for (none where LOINC has no single code), from
# the terminology file (cds.request_tests: recommendation -> test items -> their first LOINC)
TEST_LOINC: dict[str, list[str]] = {
    rid: [TERM.tests[t].loinc[0].code for t in tests] for rid, tests in TERM.request_tests.items()
}


def _rec_coding(rec: Any) -> dict[str, Any]:
    return {"system": RECOMMENDATION_SYSTEM, "code": rec.id, "display": rec.title}


def _dose(value: float, unit: str = "mg") -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def progesterone_stop_date(assessment: Any) -> str | None:
    """The luteal-support stop date of the plan (ISO), wherever the assessment holds it."""
    for rec in assessment.recommendations:
        sched = rec.extra.get("schedule") if isinstance(rec.extra, dict) else None
        if sched and sched.get("stop_date"):
            return str(sched["stop_date"])
    lut = (assessment.pregnancy or {}).get("luteal_support") or {}
    return lut.get("stop_date") if lut.get("indicated") else None


def _medication(name: str) -> dict[str, Any]:
    text, std, _route = medication_codes(name)
    codes = [local(_CS_MED, name, text)] + [coding(c) for c in std]
    return {"coding": codes, "text": text}


def _med_request(
    name: str, rec: Any, subject: dict[str, str], start: str, dosage: dict[str, Any]
) -> dict[str, Any]:
    note = rec.text if rec.status == "recommended" else f"Conditional (consider): {rec.text}"
    return {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": RECOMMENDATION_SYSTEM, "value": rec.id}],
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": _medication(name),
        "subject": subject,
        "authoredOn": start,
        "dosageInstruction": [dosage],
        "note": [{"text": note}],
    }


def _route(c: Code) -> dict[str, Any]:
    return {"coding": [coding(c)]}


def _bounds(start: str, end: str | None) -> dict[str, Any]:
    period = {"start": start}
    if end:
        period["end"] = end
    return period


def _kb_dosage(d: Dose, bounds: dict[str, Any] | None = None) -> dict[str, Any]:
    """FHIR Dosage from a knowledge-base dose (doses.yaml): text, route, timing, amount."""
    dosage: dict[str, Any] = {
        "text": f"{d.drug} {d.full()}",
        "route": _route(TERM.routes[d.route]),
    }
    repeat: dict[str, Any] = {}
    if bounds is not None:
        repeat["boundsPeriod"] = bounds
    if d.timing is not None:
        repeat |= {
            "frequency": d.timing.frequency,
            "period": d.timing.period,
            "periodUnit": d.timing.period_unit,
        }
    if repeat:
        dosage["timing"] = {"repeat": repeat}
    if d.dose is not None and d.unit is not None:
        if d.dose_high is not None:
            amount = {
                "doseRange": {"low": _dose(d.dose, d.unit), "high": _dose(d.dose_high, d.unit)}
            }
        else:
            amount = {"doseQuantity": _dose(d.dose, d.unit)}
        dosage["doseAndRate"] = [amount]
    return dosage


def _rule_doses(rec: Any, kb: KnowledgeBase) -> list[Dose]:
    """The structured doses the rule that made `rec` prescribes (from the knowledge base)."""
    kbrec = kb.recommendations.get(rec.id)
    if kbrec is None or not 0 <= rec.rule_index < len(kbrec.rules):
        return []
    return [kb.doses[did] for did in kbrec.rule_doses(rec.rule_index)]


def medication_requests(rec: Any, assessment: Any, subject: dict[str, str]) -> list[dict[str, Any]]:
    """Draft MedicationRequests for a drug recommendation ([] when it is not a drug).

    The dose, route and timing come from the doses the recommendation's rule names in the
    knowledge base (`doses:`); a drug recommendation without one is written as text only.
    """
    if rec.status == "not_recommended":
        return []
    start = assessment.assessed_on.isoformat()
    stop = progesterone_stop_date(assessment)
    rid = rec.id
    sched = (rec.extra.get("schedule") if isinstance(rec.extra, dict) else None) or {}
    kb = assessment.kb or get_kb()
    doses = _rule_doses(rec, kb)
    if doses:
        # a luteal schedule bounds the progestogen; its regimen wording wins over the dose's
        bounded = rid in ("treat.vaginal_progesterone_bleeding", "treat.dydrogesterone")
        out = []
        for d in doses:
            dosage = _kb_dosage(d, _bounds(start, stop) if bounded else None)
            if sched.get("regimen"):
                dosage["text"] = sched["regimen"]
            out.append(_med_request(d.medication, rec, subject, start, dosage))
        return out
    if rid == "treat.luteal_phase_support_art":
        dosage = {
            "text": sched.get("regimen") or "progesterone as prescribed by the clinic",
            "timing": {"repeat": {"boundsPeriod": _bounds(start, stop)}},
        }
        return [_med_request("vaginal_progesterone", rec, subject, start, dosage)]
    if rid in ("treat.levothyroxine", "treat.levothyroxine_pregnancy_adjustment"):
        dosage = {
            "text": "levothyroxine, dose individualised to TSH (" + rec.title + ")",
            "route": _route(ROUTE_ORAL),
        }
        return [_med_request("levothyroxine", rec, subject, start, dosage)]
    return []


def _service_request(rec: Any, subject: dict[str, str], start: str) -> dict[str, Any]:
    codes = [_rec_coding(rec)]
    for code in TEST_LOINC.get(rec.id, []):
        c = LOINC_DISPLAY.get(code)
        codes.append(coding(c) if c else {"system": LOINC, "code": code})
    note = rec.text if rec.status == "recommended" else f"Conditional (consider): {rec.text}"
    return {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": RECOMMENDATION_SYSTEM, "value": rec.id}],
        "status": "draft",
        "intent": "proposal",
        "code": {"coding": codes, "text": rec.title},
        "subject": subject,
        "authoredOn": start,
        "note": [{"text": note}],
    }


def _device(assessment: Any) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": DEVICE_ID,
        "deviceName": [{"name": "rplcare", "type": "model-name"}],
        "version": [
            {"type": {"text": "software"}, "value": rplcare.__version__},
            {"type": {"text": "knowledge base"}, "value": assessment.kb_version},
        ],
    }


def _detected_issue(
    rec: Any, findings: Any, patient_ref: dict[str, str], device_ref: dict[str, str], day: str
) -> dict[str, Any]:
    evidence: list[dict[str, Any]] = []
    codes = []
    for fid in rec.because:
        f = findings.get(fid) if findings is not None else None
        codes.append(
            {"system": FINDING_SYSTEM, "code": fid, **({"display": f.text[:250]} if f else {})}
        )
    if codes:
        evidence.append({"code": [{"coding": codes}]})
    sources = [
        {
            "display": f"{s.get('citation', s['id'])}"
            + (f" - {s['locator']}" if s.get("locator") else "")
        }
        for s in rec.sources
    ]
    if sources:
        evidence.append({"detail": sources})
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "identifier": [{"system": RECOMMENDATION_SYSTEM, "value": rec.id}],
        "status": "final",
        "code": {"coding": [_rec_coding(rec)], "text": f"Not recommended: {rec.title}"},
        "severity": "high"
        if rec.id in ("treat.lymphocyte_immunotherapy", "treat.ivig")
        else "moderate",
        "patient": patient_ref,
        "identifiedDateTime": day,
        "author": device_ref,
        "detail": rec.text,
    }
    url = next((s["url"] for s in rec.sources if s.get("url")), None)
    if url:
        issue["reference"] = url
    if evidence:
        issue["evidence"] = evidence
    return issue


def assessment_bundle(
    assessment: Any, case: Any, recorded: datetime | None = None
) -> dict[str, Any]:
    """A collection Bundle: Patient, CarePlan, its requests, DetectedIssues, Device, Provenance.

    `recorded` (Provenance.recorded) defaults to now; pass it for reproducible output.
    """
    patient_entry = case_to_bundle(case)["entry"][0]
    seed = f"assessment/{assessment.input_hash or assessment.case_id}/{assessment.assessed_on}"
    entries: list[dict[str, Any]] = [
        {"fullUrl": patient_entry["fullUrl"], "resource": patient_entry["resource"]}
    ]
    patient_ref = {"reference": patient_entry["fullUrl"]}
    day = assessment.assessed_on.isoformat()

    def add(resource: dict[str, Any], key: str) -> dict[str, str]:
        url = f"urn:uuid:{_uid(seed, key)}"
        rtype = resource.pop("resourceType")
        rid = resource.pop("id", None) or _uid(seed, key, "id")
        entries.append({"fullUrl": url, "resource": {"resourceType": rtype, "id": rid, **resource}})
        return {"reference": url}

    device_ref = add(_device(assessment), "device")
    device_ref = {
        **device_ref,
        "display": f"rplcare {rplcare.__version__} (knowledge base {assessment.kb_version})",
    }
    activities: list[dict[str, Any]] = []
    for rec in assessment.recommendations:
        if rec.status not in ("recommended", "conditional"):
            continue
        if rec.kind in ("test", "treatment"):
            reqs = medication_requests(rec, assessment, patient_ref) or [
                _service_request(rec, patient_ref, day)
            ]
            for i, req in enumerate(reqs):
                ref = add(req, f"{rec.id}/{i}")
                activities.append({"reference": {**ref, "display": rec.title}})
        else:
            activities.append(
                {
                    "detail": {
                        "code": {"coding": [_rec_coding(rec)], "text": rec.title},
                        "status": "not-started",
                        "description": rec.text,
                    }
                }
            )
    careplan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "proposal",
        "title": "Recurrent pregnancy loss: proposed plan (rplcare)",
        "description": "Decision support, not diagnosis: every item is for a clinician to "
        "review against the full clinical picture.",
        "subject": patient_ref,
        "created": day,
        "author": device_ref,
    }
    if activities:
        careplan["activity"] = activities
    careplan_ref = add(careplan, "careplan")
    targets = [careplan_ref] + [{"reference": e["fullUrl"]} for e in entries[2:-1]]
    for rec in assessment.recommendations:
        if rec.status == "not_recommended" and rec.prominent:
            ref = add(
                _detected_issue(rec, assessment.findings, patient_ref, device_ref, day),
                f"issue/{rec.id}",
            )
            targets.append(ref)
    when = (recorded or datetime.now(UTC)).astimezone(UTC)
    provenance = {
        "resourceType": "Provenance",
        "target": targets,
        "recorded": when.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "assembler",
                            "display": "Assembler",
                        }
                    ]
                },
                "who": device_ref,
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": KB_SYSTEM, "value": assessment.kb_version},
                    "display": f"rplcare knowledge base {assessment.kb_version}",
                },
            }
        ],
    }
    add(provenance, "provenance")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": provenance["recorded"],
        "entry": entries,
    }


def assessment_json(assessment: Any, case: Any, recorded: datetime | None = None) -> str:
    return jsonio.dumps(assessment_bundle(assessment, case, recorded))
