"""The candidate pre-filter: does a patient have any pregnancy, loss or RPL-relevant code?

The filter is defined twice, from one code list (`views/candidate-codes.json`):

- as SQL-on-FHIR v2 ViewDefinitions (`views/rpl_*_codes.json`) plus one SQL join
  (`CANDIDATES_SQL`), run by `viewdef.py` on DuckDB or by Spark SQL, so any SQL-on-FHIR
  engine can run the same views;
- as `is_candidate_resource`, the same test on one parsed resource, which the local engine
  applies while it reads each line (no second pass). A test checks that both select the same
  patients on the Synthea export.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "CANDIDATES_SQL",
    "CANDIDATE_TYPES",
    "CodeList",
    "code_list",
    "is_candidate_resource",
    "load_view",
]

#: resource types whose `code` the views read, and the view of each
CANDIDATE_TYPES = {
    "Condition": "rpl_condition_codes",
    "Observation": "rpl_observation_codes",
    "Procedure": "rpl_procedure_codes",
}

#: the join of the views' rows with the code list (table `candidate_codes(system, code,
#: prefix)`); written in the SQL that DuckDB and Spark SQL both accept
CANDIDATES_SQL = """
SELECT DISTINCT c.patient
FROM codes AS c
JOIN candidate_codes AS v
  ON c.system = v.system
 AND (c.code = v.code OR (v.prefix AND c.code LIKE concat(v.code, '%')))
WHERE c.patient IS NOT NULL
"""


def _read(name: str) -> Any:
    return json.loads(resources.files("rplcare.screening").joinpath("views", name).read_text())


def load_view(name: str) -> dict[str, Any]:
    """A ViewDefinition shipped with the package (views/NAME.json)."""
    return _read(f"{name}.json")


class CodeList:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.version = str(data["version"])
        self.exact: set[tuple[str, str]] = {(c["system"], c["code"]) for c in data["codes"]}
        self.prefixes: dict[str, tuple[str, ...]] = {}
        for p in data["prefixes"]:
            self.prefixes.setdefault(p["system"], ())
            self.prefixes[p["system"]] += (p["code"],)
        #: the bare codes of `exact`, a cheap first test before the system is compared
        self.bare = frozenset(c for _, c in self.exact)

    def rows(self) -> list[tuple[str, str, bool]]:
        """(system, code, prefix) rows: the `candidate_codes` table of CANDIDATES_SQL."""
        out = [(s, c, False) for s, c in sorted(self.exact)]
        out += [(s, c, True) for s, cs in sorted(self.prefixes.items()) for c in cs]
        return out

    def matches(self, system: Any, code: Any) -> bool:
        if not isinstance(system, str) or not isinstance(code, str):
            return False
        if (system, code) in self.exact:
            return True
        pre = self.prefixes.get(system)
        return bool(pre) and code.startswith(pre)


@lru_cache(maxsize=1)
def code_list() -> CodeList:
    return CodeList(_read("candidate-codes.json"))


def is_candidate_resource(res: Mapping[str, Any], codes: CodeList | None = None) -> bool:
    """True for a Condition/Observation/Procedure whose code.coding has a candidate code."""
    # called on every line of an export: plain-dict checks first (isinstance against the
    # Mapping ABC only for other mappings), the bare code before the (system, code) pair
    if res.get("resourceType") not in CANDIDATE_TYPES:
        return False
    concept = res.get("code")
    if concept.__class__ is not dict and not isinstance(concept, Mapping):
        return False
    cl = codes or code_list()
    bare, prefixes = cl.bare, cl.prefixes
    for c in concept.get("coding") or ():
        if c.__class__ is not dict and not isinstance(c, Mapping):
            continue
        code, system = c.get("code"), c.get("system")
        if code.__class__ is not str or system.__class__ is not str:
            continue
        if code in bare and (system, code) in cl.exact:
            return True
        pre = prefixes.get(system)
        if pre and code.startswith(pre):
            return True
    return False
