"""CDS Hooks 2.0 service, one job per module.

- `discovery`: the services, prefetch templates, override reasons;
- `fetch`: reading the chart (prefetch, else the EHR's FHIR server, bounded page walk);
- `cards`: patient-view cards and the card pieces; `orders`: order-sign checks;
- `feedback`: where card outcomes go; `app`: router, endpoints, standalone app;
- `auth`: client JWT verification; `models`: wire models.
"""

from rplcare.interop.cds.app import add_cds_cors, build_cds_router, create_cds_app
from rplcare.interop.cds.discovery import (
    ENV_ALLOW_UNAUTHENTICATED,
    ENV_CORS_ORIGINS,
    OVERRIDE_REASONS,
    PREFETCH,
    SERVICE_ORDER_SIGN,
    SERVICE_PATIENT_VIEW,
)
from rplcare.interop.cds.feedback import FeedbackStore, InMemoryFeedbackStore

__all__ = [
    "ENV_ALLOW_UNAUTHENTICATED",
    "ENV_CORS_ORIGINS",
    "OVERRIDE_REASONS",
    "PREFETCH",
    "SERVICE_ORDER_SIGN",
    "SERVICE_PATIENT_VIEW",
    "FeedbackStore",
    "InMemoryFeedbackStore",
    "add_cds_cors",
    "build_cds_router",
    "create_cds_app",
]
