"""Named findings: facts about a case that knowledge-base rules refer to.

A finding is computed from the case with thresholds read from the knowledge base; it carries the
paths of the input it rests on (`evidence`) and a sentence for the clinician. Missing data is
never read as normal: a result that is absent produces a `gap.*` finding, not a normal one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Finding:
    """One finding of an assessment, with its evidence."""

    id: str
    text: str
    evidence: list[str] = field(default_factory=list)
    details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "evidence": self.evidence, "text": self.text}
        if self.details:
            out["details"] = self.details
        return out


class FindingSet:
    """Ordered findings by id; adding an id twice merges the evidence."""

    def __init__(self) -> None:
        self._items: dict[str, Finding] = {}
        self._ids: frozenset[str] | None = None  # `ids`, kept until a new id is added

    def add(
        self,
        fid: str,
        text: str,
        evidence: list[str] | tuple[str, ...] = (),
        details: dict[str, Any] | None = None,
    ) -> Finding:
        if fid in self._items:
            f = self._items[fid]
            f.evidence.extend(e for e in evidence if e not in f.evidence)
            return f
        f = Finding(fid, text, list(evidence), details)
        self._items[fid] = f
        self._ids = None
        return f

    def __contains__(self, fid: object) -> bool:
        return fid in self._items

    def get(self, fid: str) -> Finding | None:
        return self._items.get(fid)

    @property
    def ids(self) -> frozenset[str]:
        ids = self._ids
        if ids is None:
            ids = self._ids = frozenset(self._items)
        return ids

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._items.values())
