"""Compatibility: moved to `rplcare.interop.cds.models`."""

from rplcare.interop.cds.models import *  # noqa: F403
