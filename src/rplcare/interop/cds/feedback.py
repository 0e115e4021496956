"""Where CDS card outcomes (feedback) go."""

from __future__ import annotations

import threading
from typing import Any, Protocol

# --------------------------------------------------------------------------------------------
# Feedback store
# --------------------------------------------------------------------------------------------


class FeedbackStore(Protocol):
    """Where card outcomes go; the web app may provide a database-backed one."""

    def add(self, service_id: str, feedback: dict[str, Any]) -> None: ...

    def list(self, service_id: str) -> list[dict[str, Any]]: ...


class InMemoryFeedbackStore:
    """Thread-safe, idempotent: the spec lets a client report the same outcome twice."""

    def __init__(self) -> None:
        self._items: dict[str, list[dict[str, Any]]] = {}
        self._seen: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def add(self, service_id: str, feedback: dict[str, Any]) -> None:
        override = feedback.get("overrideReason") or {}
        reason = (override.get("reason") or {}).get("code")
        comment = override.get("userComment")
        key = (
            service_id,
            str(feedback.get("card")),
            str(feedback.get("outcome")),
            str(feedback.get("outcomeTimestamp")),
            str(reason),
            str(comment),  # the same outcome with another comment is kept: it says more
        )
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
            self._items.setdefault(service_id, []).append(feedback)

    def list(self, service_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items.get(service_id, []))
