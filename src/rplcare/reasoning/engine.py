"""Apply knowledge-base rules to findings: which recommendations apply, how strongly, why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rplcare.knowledge import KnowledgeBase
from rplcare.knowledge.model import Recommendation, Rule, SourceRef
from rplcare.reasoning.findings import FindingSet

UNVERIFIED_NOTE = "(source wording not verified)"


@dataclass
class Rec:
    id: str
    kind: str
    status: str
    because: list[str]
    sources: list[dict[str, Any]]
    text: str
    patient_text: str
    title: str
    prominent: bool = False
    verified: bool = True
    rule_index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "because": self.because,
            "sources": self.sources,
            "text": self.text,
            "patient_text": self.patient_text,
            "title": self.title,
            "prominent": self.prominent,
            "verified": self.verified,
        }
        out.update(self.extra)
        return out


def _ref_json(kb: KnowledgeBase, ref: SourceRef) -> tuple[dict[str, Any], bool]:
    src = kb.sources[ref.id]
    verified = src.verified if ref.verified is None else ref.verified
    out: dict[str, Any] = {"id": ref.id, "citation": src.citation, "year": src.year}
    if ref.locator:
        out["locator"] = ref.locator
    if ref.strength:
        out["strength"] = ref.strength
    if src.url:
        out["url"] = src.url
    out["verified"] = verified
    return out, verified


def _because(rule: Rule, present: frozenset[str]) -> list[str]:
    return list(rule.when.all) + [f for f in rule.when.any if f in present]


def evaluate(rec: Recommendation, fs: FindingSet, kb: KnowledgeBase) -> Rec | None:
    present = fs.ids
    for i, rule in enumerate(rec.rules):
        if not rule.when.holds(present):
            continue
        refs = [_ref_json(kb, r) for r in rule.sources]
        verified = all(v for _, v in refs)
        text = rule.text or rec.text
        if not verified:
            unverified = ", ".join(dict.fromkeys(r["id"] for r, v in refs if not v))
            text = f"{text} {UNVERIFIED_NOTE[:-1]}: {unverified})"
        return Rec(
            id=rec.id,
            kind=rec.kind,
            status=rule.status,
            because=_because(rule, present),
            sources=[r for r, _ in refs],
            text=text,
            patient_text=rule.patient_text or rec.patient_text,
            title=rec.title,
            prominent=rule.prominent,
            verified=verified,
            rule_index=i,
        )
    return None


def recommend(fs: FindingSet, kb: KnowledgeBase) -> list[Rec]:
    """Every recommendation whose rules hold, in knowledge-base order."""
    out = []
    for rec in kb.recommendations.values():
        r = evaluate(rec, fs, kb)
        if r is not None:
            out.append(r)
    return out
