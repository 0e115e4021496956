"""Compatibility: moved to `rplcare.interop.cds.auth`."""

from rplcare.interop.cds.auth import *  # noqa: F403
