"""FHIR R4 in and out, and the CDS Hooks 2.0 service (edges: no clinical logic here)."""
