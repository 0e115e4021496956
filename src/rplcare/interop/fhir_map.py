"""Compatibility: the FHIR mapping moved to `rplcare.interop.fhir` (codes, read, write)."""

from rplcare.interop.fhir.codes import *  # noqa: F403
from rplcare.interop.fhir.jsonutil import _uid, code_label, fhir_id  # noqa: F401
from rplcare.interop.fhir.read import (  # noqa: F401
    Entry,
    Mapped,
    MappingError,
    Unmapped,
    bundle_entries,
    case_from_entries,
    medication_name,
)
from rplcare.interop.fhir.write import case_to_bundle  # noqa: F401
