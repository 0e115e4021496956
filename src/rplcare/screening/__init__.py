"""Population screening: care gaps over a FHIR Bulk export with the same `assess()`."""
