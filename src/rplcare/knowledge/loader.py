"""Load and cross-check the knowledge files; every problem is reported at once."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rplcare.knowledge import templates
from rplcare.knowledge.model import (
    Conflict,
    Dose,
    FindingDef,
    Parameter,
    Population,
    Recommendation,
    Source,
    SourceRef,
)
from rplcare.util import yamlio

DATA_DIR = Path(__file__).parent / "data"
#: data files with their own loader (terminology.yaml: `rplcare.knowledge.terminology`)
SEPARATE_FILES = frozenset({"terminology.yaml"})
_KINDS = (
    "sources",
    "parameters",
    "findings",
    "recommendations",
    "doses",
    "sentences",
    "populations",
    "conflicts",
)
# mappings name -> item; the others are lists with `id`
_KEYED = ("parameters", "sentences", "populations")


class KnowledgeError(Exception):
    """The knowledge base is inconsistent; `problems` lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid knowledge base:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class KnowledgeBase:
    """The validated knowledge base: sources, parameters, rules, recommendations, findings."""

    version: str
    sources: Mapping[str, Source]
    parameters: Mapping[str, Parameter]
    findings: Mapping[str, FindingDef]
    recommendations: Mapping[str, Recommendation]
    _order: tuple[str, ...] = field(default=())
    conflicts: tuple[Conflict, ...] = ()
    doses: Mapping[str, Dose] = field(default_factory=dict)
    # resolved sentence templates: finding sentences as "finding.id" (default variant) or
    # "finding.id:variant", calculator sentences by their own id (sentences*.yaml)
    sentences: Mapping[str, str] = field(default_factory=dict)
    # SHA-256 over every data file (name + bytes, sorted): what exactly made an assessment
    content_hash: str = ""

    def param(self, name: str) -> Any:
        """The value of a named parameter (KeyError names the parameter)."""
        try:
            return self.parameters[name].value
        except KeyError:
            raise KeyError(f"knowledge base has no parameter {name!r}") from None

    def source(self, ref: SourceRef) -> Source:
        return self.sources[ref.id]

    def say(self, key: str, /, **slots: object) -> str:
        """The sentence `key` with its runtime slots filled (KeyError names what is wrong)."""
        try:
            template = self.sentences[key]
        except KeyError:
            raise KeyError(f"knowledge base has no sentence {key!r}") from None
        return templates.fill(key, template, slots)

    def shown(self, name: str, style: str | None = None) -> str:
        """A parameter written as a sentence writes it (`{param:NAME}`)."""
        p = self.parameters[name]
        return templates.format_value(p.value, style or p.shown_as or "number")


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
    digest = hashlib.sha256()
    for path in sorted(data_dir.glob("*.yaml")):
        # the content hash covers every data file, the terminology included
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
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
                items = value.items() if key in _KEYED else enumerate(value or [])
                raw[key].extend((f"{path.name}:{key}[{i}]", item) for i, item in items)
            else:
                problems.append(f"{path.name}: unknown top-level key {key!r}")
    if version is None:
        problems.append("no file sets `version`")

    def build(kind: str, model: type, keyed: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        adapter: TypeAdapter[Any] = TypeAdapter(model)
        for where, item in raw[kind]:
            try:
                obj = adapter.validate_python(item)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = ".".join(str(p) for p in err["loc"])
                    problems.append(f"{where}.{loc}: {err['msg']}")
                continue
            key = where.rsplit("[", 1)[1].rstrip("]") if keyed else getattr(obj, "id", where)
            if key in out:
                problems.append(f"{where}: duplicate {kind[:-1]} id {key!r}")
            out[key] = obj
        return out

    sources = build("sources", Source)
    parameters = build("parameters", Parameter, keyed=True)
    findings = build("findings", FindingDef)
    recs = build("recommendations", Recommendation)
    populations = build("populations", Population, keyed=True)
    conflicts = list(build("conflicts", Conflict).values())
    doses = build("doses", Dose)
    sentences: dict[str, str] = {}
    for where, item in raw["sentences"]:
        key = where.rsplit("[", 1)[1].rstrip("]")
        if not isinstance(item, str):
            problems.append(f"{where}: a sentence must be a string")
        elif key in sentences:
            problems.append(f"{where}: duplicate sentence id {key!r}")
        else:
            sentences[key] = item

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
                if (
                    isinstance(fid, str)
                    and fid.split(".", 1)[0] in finding_prefixes
                    and fid not in findings
                ):
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
        _check_rec_doses(rid, rec, doses, problems)
    for did, d in doses.items():
        if d.source not in sources:
            problems.append(f"dose {did}: unknown source {d.source!r}")
        if d.stop_ga_param is not None and d.stop_ga_param not in parameters:
            problems.append(f"dose {did}: unknown parameter {d.stop_ga_param!r}")

    # ---- templates: {param:NAME} / {dose:ID} resolved now, an unknown name fails here
    def shown(name: str, style: str | None) -> str:
        if name not in parameters:
            raise KeyError(f"unknown parameter {name!r}")
        p = parameters[name]
        return templates.format_value(p.value, style or p.shown_as or "number")

    def dose_text(did: str, style: str | None) -> str:
        if did not in doses:
            raise KeyError(f"unknown dose {did!r}")
        if style not in (None, *templates.DOSE_STYLES):
            raise ValueError(f"unknown dose style {style!r} (allowed: full, amount)")
        d: Dose = doses[did]
        return d.amount() if style == "amount" else d.full()

    def res(where: str, text: str | None, runtime: bool) -> str | None:
        if text is None:
            return None
        try:
            out = templates.resolve(text, shown, dose_text)
        except (KeyError, ValueError) as exc:
            problems.append(f"{where}: {exc.args[0]}")
            return text
        problems.extend(f"{where}: {p}" for p in templates.check_slots(out))
        if not runtime and templates.slots(out):
            problems.append(
                f"{where}: runtime slot(s) {sorted(templates.slots(out))} in a text code never "
                "fills (only finding and calculator sentences take slots)"
            )
        return out

    for did, d in list(doses.items()):
        doses[did] = d.model_copy(
            update={
                "start": res(f"dose {did}.start", d.start, False),
                "stop": res(f"dose {did}.stop", d.stop, False),
            }
        )
    for fid, f in list(findings.items()):
        new = {k: res(f"finding {fid}.sentences.{k}", t, True) for k, t in f.sentences.items()}
        findings[fid] = f.model_copy(
            update={"text": res(f"finding {fid}.text", f.text, False), "sentences": new}
        )
        for k, t in new.items():
            sentences[fid if k == "default" else f"{fid}:{k}"] = t or ""
    for key, t in list(sentences.items()):
        if key not in findings and key.split(":", 1)[0] not in findings:
            sentences[key] = res(f"sentence {key}", t, True) or ""
    for rid, rec in list(recs.items()):
        rules = tuple(
            rule.model_copy(
                update={
                    "text": res(f"recommendation {rid}.rules[{i}].text", rule.text, False),
                    "patient_text": res(
                        f"recommendation {rid}.rules[{i}].patient_text", rule.patient_text, False
                    ),
                    "when_pregnant": _resolve_when_pregnant(
                        rule.when_pregnant, f"recommendation {rid}.rules[{i}]", res
                    ),
                }
            )
            for i, rule in enumerate(rec.rules)
        )
        recs[rid] = rec.model_copy(
            update={
                "title": res(f"recommendation {rid}.title", rec.title, False),
                "text": res(f"recommendation {rid}.text", rec.text, False),
                "patient_text": res(f"recommendation {rid}.patient_text", rec.patient_text, False),
                "rules": rules,
            }
        )
    for rid, pop in list(populations.items()):
        populations[rid] = pop.model_copy(
            update={
                "when_pregnant": _resolve_when_pregnant(
                    pop.when_pregnant, f"populations.{rid}", res
                )
            }
        )
    recs = _attach_populations(recs, populations, sources, problems)
    _check_conflicts(conflicts, recs, problems)
    _check_workup_mapping(parameters, findings, recs, problems)
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(
        version=version or "",
        sources=sources,
        parameters=parameters,
        findings=findings,
        recommendations=recs,
        _order=tuple(recs),
        conflicts=tuple(conflicts),
        doses=doses,
        sentences=sentences,
        content_hash=digest.hexdigest(),
    )


def _check_rec_doses(
    rid: str, rec: Recommendation, doses: Mapping[str, Dose], problems: list[str]
) -> None:
    """Named doses exist, and a rule that prescribes names every dose its sentence writes."""
    for did in rec.doses:
        if did not in doses:
            problems.append(f"recommendation {rid}.doses: unknown dose {did!r}")
    for i, rule in enumerate(rec.rules):
        for did in rule.doses or ():
            if did not in doses:
                problems.append(f"recommendation {rid}.rules[{i}].doses: unknown dose {did!r}")
        if rule.status == "not_recommended":
            continue
        written = {
            m.group(2)
            for m in templates.PARAM.finditer(rule.text or rec.text)
            if m.group(1) == "dose"
        }
        missing = sorted(written - set(rec.rule_doses(i)))
        if missing:
            problems.append(
                f"recommendation {rid}.rules[{i}]: its text writes dose(s) {missing} that the "
                "rule does not prescribe (doses:)"
            )


def _resolve_when_pregnant(wp: Any, where: str, res: Any) -> Any:
    """Resolve the {param:}/{dose:} templates of a pregnancy wording."""
    if wp is None:
        return None
    return wp.model_copy(
        update={
            "text": res(f"{where}.when_pregnant.text", wp.text, False),
            "patient_text": res(f"{where}.when_pregnant.patient_text", wp.patient_text, False),
        }
    )


def _attach_populations(
    recs: dict[str, Recommendation],
    populations: dict[str, Population],
    sources: Mapping[str, Source],
    problems: list[str],
) -> dict[str, Recommendation]:
    """Every recommendation declares the population its evidence covers (populations.yaml)."""
    out = {}
    for rid in populations:
        if rid not in recs:
            problems.append(f"populations.{rid}: unknown recommendation")
    for rid, rec in recs.items():
        pop = populations.get(rid) or rec.population
        if pop is None:
            problems.append(f"recommendation {rid}: no population declared (populations.yaml)")
            out[rid] = rec
            continue
        for p in (pop, *(r.population for r in rec.rules if r.population)):
            if p.source and p.source not in sources:
                problems.append(f"populations.{rid}: unknown source {p.source!r}")
            if p.ga_days is not None and "pregnant" not in p.stage:
                problems.append(f"populations.{rid}: ga_days given but stage excludes pregnant")
            if p.ga_days is not None and not 0 <= p.ga_days[0] < p.ga_days[1]:
                problems.append(f"populations.{rid}: ga_days {p.ga_days} is not [from, to)")
        out[rid] = rec.model_copy(update={"population": pop})
    return out


def _check_workup_mapping(
    parameters: Mapping[str, Parameter],
    findings: Mapping[str, FindingDef],
    recs: Mapping[str, Recommendation],
    problems: list[str],
) -> None:
    """One mapping, recorded result -> satisfied test, so no workup test can lack one: every
    test offered (recommended/conditional) is satisfiable or declared not satisfiable."""
    if "workup.satisfied_by" not in parameters:
        return
    mapping = parameters["workup.satisfied_by"].value
    never = parameters.get("workup.not_satisfiable")
    exempt = set(never.value) if never is not None and isinstance(never.value, tuple) else set()
    if not isinstance(mapping, dict):
        problems.append("parameter workup.satisfied_by: must map test ids to done.* findings")
        return
    for rid, fid in mapping.items():
        if rid not in recs:
            problems.append(f"parameter workup.satisfied_by.{rid}: unknown recommendation")
        if fid not in findings:
            problems.append(f"parameter workup.satisfied_by.{rid}: unknown finding {fid!r}")
    for rid, rec in recs.items():
        offered = any(r.status != "not_recommended" for r in rec.rules)
        if rec.kind == "test" and offered and rid not in mapping and rid not in exempt:
            problems.append(
                f"recommendation {rid}: a test with no workup.satisfied_by entry (a recorded "
                "result would not satisfy it); add one or list it in workup.not_satisfiable"
            )


def _check_conflicts(
    conflicts: list[Conflict], recs: Mapping[str, Recommendation], problems: list[str]
) -> None:
    for i, c in enumerate(conflicts):
        for side in c.between:
            rid, _, status = side.partition(":")
            rec = recs.get(rid)
            if rec is None:
                problems.append(f"conflicts[{i}]: unknown recommendation {rid!r}")
            elif status and status not in {r.status for r in rec.rules}:
                problems.append(f"conflicts[{i}]: {rid} never has status {status!r}")
        if c.between[0] == c.between[1]:
            problems.append(f"conflicts[{i}]: a side cannot conflict with itself")


def conflict_side_holds(side: str, statuses: Mapping[str, str]) -> bool:
    """Whether a conflict side (`id` or `id:status`) is in a plan given its statuses."""
    rid, _, status = side.partition(":")
    return rid in statuses and (not status or statuses[rid] == status)


@cache
def get_kb() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process, and kept between runs in the
    user's cache (`rplcare.util.cache`) under the hash of its data files and of the code that
    reads them (issue 12 §2)."""
    from rplcare.util.cache import cached, fingerprint

    code = [*sorted(Path(__file__).parent.glob("*.py")), Path(yamlio.__file__)]
    key = fingerprint([*code, *sorted(DATA_DIR.glob("*.yaml"))])
    return cached("kb", key, lambda: load_kb(DATA_DIR), KnowledgeBase)
