"""The knowledge base: versioned YAML in `data/`, validated once at first use.

Layout of `data/` (every `*.yaml` is read; files of one kind are merged and duplicate ids fail):
- `meta.yaml`: `version`.
- `sources*.yaml`: `sources: [Source]`.
- `parameters*.yaml`: `parameters: {name: Parameter}`.
- `findings*.yaml`: `findings: [FindingDef]`.
- `recommendations*.yaml`: `recommendations: [Recommendation]`.
- `doses*.yaml`: `doses: [Dose]` (structured doses, `kb.doses[ID]`).
- `sentences*.yaml`: `sentences: {id: template}` (texts that are not one finding's own).

Sentences are templates (`knowledge/templates.py`): `{param:NAME}` and `{dose:ID}` are resolved
at load (an unknown name fails the load), `{slot}`s are filled by the code (`kb.say(id, ...)`).
"""

from __future__ import annotations

from rplcare.knowledge.loader import KnowledgeBase, KnowledgeError, get_kb, load_kb

__all__ = ["KnowledgeBase", "KnowledgeError", "get_kb", "load_kb"]
