"""Compatibility: moved to `rplcare.interop.fhir.importer`."""

from rplcare.interop.fhir.importer import *  # noqa: F403
from rplcare.interop.fhir.importer import __all__  # noqa: F401
