"""The relevance filter: drop, as the export is read, resources the FHIR→case mapping cannot use.

Most of a Synthea-like chart is Claims, ExplanationOfBenefits, Encounters, Immunizations …
which `interop.fhir.read.case_from_entries` never reads (it reports each as "resource type not
read by rplcare"). Keeping them costs spill-file writes, pickling to the worker processes and a
second parse there. The bulk reader calls `is_relevant` on each parsed line (after the
candidate test, so marking sees every resource) and keeps only relevant lines; the dropped
ones are counted by type in `BulkStats.not_relevant` (not "unreadable": nothing in them could
have changed the assessment).

The row is the same with and without the filter: the per-patient function leaves out the
same types before mapping (tests/screening/test_relevance.py checks it on the Synthea export).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rplcare.interop.fhir.read import READ_TYPES, reads_type

__all__ = ["RELEVANT_TYPES", "is_relevant"]

#: the resource types kept (those the mapping reads; the public list of interop.fhir.read)
RELEVANT_TYPES = READ_TYPES


def is_relevant(res: Mapping[str, Any]) -> bool:
    """True when the mapping can use this resource (its type is one `read.py` reads)."""
    return reads_type(res.get("resourceType"))
