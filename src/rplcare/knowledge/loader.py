"""Load and cross-check the knowledge files; every problem is reported at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rplcare.knowledge.model import FindingDef, Parameter, Recommendation, Source, SourceRef
from rplcare.util import yamlio

DATA_DIR = Path(__file__).parent / "data"
#: data files with their own loader (terminology.yaml: `rplcare.knowledge.terminology`)
SEPARATE_FILES = frozenset({"terminology.yaml"})
_KINDS = ("sources", "parameters", "findings", "recommendations")


class KnowledgeError(Exception):
    """The knowledge base is inconsistent; `problems` lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid knowledge base:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class KnowledgeBase:
    version: str
    sources: Mapping[str, Source]
    parameters: Mapping[str, Parameter]
    findings: Mapping[str, FindingDef]
    recommendations: Mapping[str, Recommendation]
    _order: tuple[str, ...] = field(default=())

    def param(self, name: str) -> Any:
        """The value of a named parameter (KeyError names the parameter)."""
        try:
            return self.parameters[name].value
        except KeyError:
            raise KeyError(f"knowledge base has no parameter {name!r}") from None

    def source(self, ref: SourceRef) -> Source:
        return self.sources[ref.id]


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yamlio.load(fh) or {}
    if not isinstance(data, dict):
        raise KnowledgeError([f"{path.name}: top level must be a mapping"])
    return data


def load_kb(data_dir: Path | str = DATA_DIR) -> KnowledgeBase:
    """Read every YAML file in `data_dir`, validate it and cross-check references."""
    data_dir = Path(data_dir)
    problems: list[str] = []
    version: str | None = None
    raw: dict[str, list[tuple[str, Any]]] = {k: [] for k in _KINDS}
    for path in sorted(data_dir.glob("*.yaml")):
        if path.name in SEPARATE_FILES:
            continue
        try:
            doc = _read(path)
        except (yamlio.YAMLError, KnowledgeError) as exc:
            problems.append(f"{path.name}: cannot read: {exc}")
            continue
        for key, value in doc.items():
            if key == "version":
                if version is not None and str(value) != version:
                    problems.append(f"{path.name}: version {value} differs from {version}")
                version = str(value)
            elif key in _KINDS:
                items = value.items() if key == "parameters" else enumerate(value or [])
                raw[key].extend((f"{path.name}:{key}[{i}]", item) for i, item in items)
            else:
                problems.append(f"{path.name}: unknown top-level key {key!r}")
    if version is None:
        problems.append("no file sets `version`")

    def build(kind: str, model: type, keyed: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        adapter = TypeAdapter(model)
        for where, item in raw[kind]:
            try:
                obj = adapter.validate_python(item)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = ".".join(str(p) for p in err["loc"])
                    problems.append(f"{where}.{loc}: {err['msg']}")
                continue
            key = where.rsplit("[", 1)[1].rstrip("]") if keyed else obj.id
            if key in out:
                problems.append(f"{where}: duplicate {kind[:-1]} id {key!r}")
            out[key] = obj
        return out

    sources = build("sources", Source)
    parameters = build("parameters", Parameter, keyed=True)
    findings = build("findings", FindingDef)
    recs = build("recommendations", Recommendation)

    def check_refs(where: str, refs: tuple[SourceRef, ...]) -> None:
        for ref in refs:
            if ref.id not in sources:
                problems.append(f"{where}: unknown source {ref.id!r}")

    finding_prefixes = {fid.split(".", 1)[0] for fid in findings}
    for name, p in parameters.items():
        if p.source not in sources:
            problems.append(f"parameter {name}: unknown source {p.source!r}")
        if isinstance(p.value, dict):  # maps to findings (e.g. imaging finding -> cause id)
            for key, fid in p.value.items():
                if fid.split(".", 1)[0] in finding_prefixes and fid not in findings:
                    problems.append(f"parameter {name}.{key}: unknown finding {fid!r}")
    for fid, f in findings.items():
        check_refs(f"finding {fid}", f.sources)
    for rid, rec in recs.items():
        prefix = rid.split(".", 1)[0]
        expected = {"test": "test", "treat": "treatment", "advice": "advice"}.get(prefix)
        if expected != rec.kind:
            problems.append(f"recommendation {rid}: kind {rec.kind!r} does not match its id")
        for i, rule in enumerate(rec.rules):
            check_refs(f"recommendation {rid}.rules[{i}]", rule.sources)
            for name in rule.when.names():
                if name not in findings:
                    problems.append(f"recommendation {rid}.rules[{i}]: unknown finding {name!r}")
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(
        version=version or "",
        sources=sources,
        parameters=parameters,
        findings=findings,
        recommendations=recs,
        _order=tuple(recs),
    )


@cache
def get_kb() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process."""
    return load_kb(DATA_DIR)
