"""FHIR R4 in and out, one job per module.

- `codes`: code systems, rplcare extensions, code tables (standard codes from the terminology
  file, `knowledge/data/terminology.yaml`);
- `jsonutil`: accessors for plain-JSON resources (the CDS hot path never builds models);
- `write`: case -> Bundle (lossless); `read`: resources -> case mapping + unmapped report;
- `importer`: validate a Bundle with the R4B models, then read it;
- `export`: an assessment as CarePlan, requests, DetectedIssues and Provenance.
"""

from rplcare.interop.fhir.codes import (
    CS_MEDICATION,
    CS_TEST,
    EXTENSIONS,
    FINDING_SYSTEM,
    LOINC,
    OVERRIDE_REASON_SYSTEM,
    RECOMMENDATION_SYSTEM,
    SNOMED,
    Code,
    all_codes,
)
from rplcare.interop.fhir.read import (
    Entry,
    Mapped,
    MappingError,
    Unmapped,
    bundle_entries,
    case_from_entries,
    medication_name,
)
from rplcare.interop.fhir.write import case_to_bundle

__all__ = [
    "CS_MEDICATION",
    "CS_TEST",
    "EXTENSIONS",
    "FINDING_SYSTEM",
    "LOINC",
    "OVERRIDE_REASON_SYSTEM",
    "RECOMMENDATION_SYSTEM",
    "SNOMED",
    "Code",
    "Entry",
    "Mapped",
    "MappingError",
    "Unmapped",
    "all_codes",
    "bundle_entries",
    "case_from_entries",
    "case_to_bundle",
    "medication_name",
]
