"""rplcare: decision support and care record for recurrent pregnancy loss.

Decision support, not diagnosis: every output is for a clinician to review.
The public API is small and imports nothing heavy, so `rplcare --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["assess", "load_case"]

if TYPE_CHECKING:
    from rplcare.case.loader import load_case
    from rplcare.reasoning.assess import assess


def __getattr__(name: str) -> Any:
    if name == "load_case":
        from rplcare.case.loader import load_case

        return load_case
    if name == "assess":
        from rplcare.reasoning.assess import assess

        return assess
    raise AttributeError(name)
