"""Compatibility: moved to `rplcare.interop.fhir.export`."""

from rplcare.interop.fhir.export import *  # noqa: F403
from rplcare.interop.fhir.export import KB_SYSTEM, __all__, assessment_json  # noqa: F401
