"""Compatibility: the CDS Hooks service moved to `rplcare.interop.cds` (one job per module)."""

from rplcare.interop.cds import *  # noqa: F403
from rplcare.interop.cds import __all__  # noqa: F401
from rplcare.interop.cds.orders import order_end  # noqa: F401
