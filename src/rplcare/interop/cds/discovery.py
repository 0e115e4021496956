"""CDS Hooks discovery: the services, their prefetch templates and override reasons."""

from __future__ import annotations

from rplcare.interop.cds.models import (
    CdsService,
    Coding,
)
from rplcare.interop.fhir.codes import (
    OVERRIDE_REASON_SYSTEM,
)

ENV_ALLOW_UNAUTHENTICATED = "RPLCARE_CDS_ALLOW_UNAUTHENTICATED"
ENV_CORS_ORIGINS = "RPLCARE_CDS_CORS_ORIGINS"
#: the rplcare SMART app launch URL registered with the EHR; set = every card links to it
ENV_SMART_LAUNCH_URL = "RPLCARE_SMART_LAUNCH_URL"
# the SMART app (interop/cds/smart.py): its registered public client id and redirect URI
ENV_SMART_CLIENT_ID = "RPLCARE_SMART_CLIENT_ID"
ENV_SMART_REDIRECT_URI = "RPLCARE_SMART_REDIRECT_URI"

SERVICE_PATIENT_VIEW = "rplcare-patient-view"
SERVICE_ORDER_SIGN = "rplcare-order-sign"

PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    # category-filtered: servers that refuse an unfiltered Observation search still answer
    "observations": "Observation?patient={{context.patientId}}"
    "&category=laboratory,vital-signs,social-history,survey,imaging,exam",
    "conditions": "Condition?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}&status=active",
}

SERVICES: dict[str, CdsService] = {
    SERVICE_PATIENT_VIEW: CdsService(
        id=SERVICE_PATIENT_VIEW,
        hook="patient-view",
        title="rplcare: recurrent pregnancy loss workup and plan",
        description="Recurrent pregnancy loss decision support: outstanding workup, causes "
        "found, and the luteal-support schedule of a current pregnancy.",
        prefetch=PREFETCH,
        usageRequirements="Needs the patient's Observations (LOINC), Conditions and "
        "medications; decision support for a clinician, not a diagnosis.",
    ),
    SERVICE_ORDER_SIGN: CdsService(
        id=SERVICE_ORDER_SIGN,
        hook="order-sign",
        title="rplcare: orders against RPL guidance",
        description="Warns when an order is recommended against for this patient (e.g. "
        "lymphocyte immunotherapy, IVIG, HLA/NK testing, bed rest) and when a "
        "progesterone order's duration differs from the plan.",
        prefetch=PREFETCH,
    ),
}
_HOOKS = {sid: s.hook for sid, s in SERVICES.items()}

OVERRIDE_REASONS: list[Coding] = [
    Coding(system=OVERRIDE_REASON_SYSTEM, code="patient-declined", display="Patient declined"),
    Coding(system=OVERRIDE_REASON_SYSTEM, code="already-done", display="Already done elsewhere"),
    Coding(system=OVERRIDE_REASON_SYSTEM, code="contraindicated", display="Contraindicated"),
    Coding(
        system=OVERRIDE_REASON_SYSTEM,
        code="clinical-judgement",
        display="Clinical judgement (see note)",
    ),
    Coding(
        system=OVERRIDE_REASON_SYSTEM,
        code="research-protocol",
        display="Part of a research protocol",
    ),
]
