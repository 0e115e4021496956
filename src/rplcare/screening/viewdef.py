"""A SQL-on-FHIR v2 ViewDefinition runner: FHIRPath by `fhirpathpy`, tables in DuckDB.

`run_view(view, resources)` gives the view's rows (dicts, columns in view order);
`validate_view(view)` lists what makes a view invalid (the specification's errors); `to_duckdb`
loads rows into a DuckDB table so the pre-filter SQL (`candidates.CANDIDATES_SQL`) runs on them.
The specification's conformance suite (`shared/sql-on-fhir-v2-tests/`) runs in
tests/screening/test_viewdef_conformance.py.

What the runner implements (ViewDefinition v2): `resource`, `constant` (every value[x]),
`where` (each path must be boolean; all must be true), `select` with `column`, nested
`select`, `forEach`, `forEachOrNull`, `repeat`, `unionAll` (same columns, in the same order),
`collection` columns, `%rowIndex`, `getResourceKey()` and `getReferenceKey([type])`, and the
`boundary` functions added here (`lowBoundary`, `highBoundary`) where fhirpathpy lacks them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fhirpathpy.engine import do_eval
from fhirpathpy.engine.invocations.constants import constants
from fhirpathpy.engine.nodes import FP_DateTime, FP_Quantity, FP_Time, FP_Type, ResourceNode
from fhirpathpy.engine.util import arraify, get_data
from fhirpathpy.parser import parse

__all__ = ["ViewError", "column_names", "run_view", "to_duckdb", "validate_view"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_SELECT_KEYS = {"column", "select", "forEach", "forEachOrNull", "repeat", "unionAll"}


class ViewError(ValueError):
    """The ViewDefinition is not valid, or a path gave what its column cannot hold."""


# ------------------------------------------------------------------------------------------
# FHIRPath with the SQL-on-FHIR functions
# ------------------------------------------------------------------------------------------


def _resource_key(inputs: list[Any]) -> list[Any]:
    out = []
    for r in inputs:
        if isinstance(r, Mapping) and r.get("id") is not None:
            out.append(r["id"])
    return out


def _reference_key(inputs: list[Any], type_info: Any = None) -> list[Any]:
    want = getattr(type_info, "name", None) if type_info is not None else None
    if isinstance(type_info, list):
        want = getattr(type_info[0], "name", None) if type_info else None
    out = []
    for ref in inputs:
        text = ref.get("reference") if isinstance(ref, Mapping) else None
        if not isinstance(text, str):
            continue
        parts = text.split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) < 2:
            continue
        rtype, rid = parts[-2], parts[-1]
        if want is not None and rtype != want:
            continue
        out.append(rid)
    return out


def _digits(text: str) -> int:
    frac = text.split(".", 1)[1] if "." in text else ""
    return len(frac)


def _boundary(inputs: list[Any], precision: Any = None, high: bool = False) -> list[Any]:
    """lowBoundary / highBoundary for decimals, dates, datetimes and times (FHIRPath 3.0)."""
    if isinstance(precision, list):
        precision = precision[0] if precision else None
    out: list[Any] = []
    for v in inputs:
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
            out.append(_num_boundary(v, precision, high))
        elif isinstance(v, str):
            got = _date_boundary(v, precision, high)
            if got is not None:
                out.append(got)
        elif isinstance(v, (FP_DateTime, FP_Time)):
            got = _date_boundary(str(v), precision, high)
            if got is not None:
                out.append(got)
        elif isinstance(v, FP_Quantity):
            continue
    return out


def _num_boundary(v: Any, precision: Any, high: bool) -> Any:
    d = Decimal(str(v))
    places = -d.as_tuple().exponent if d.as_tuple().exponent < 0 else 0  # type: ignore[operator]
    if precision is None:
        precision = 8
    if precision > 28:
        return None
    half = Decimal(5) * Decimal(10) ** (-(places + 1))
    edge = d + half if high else d - half
    q = Decimal(10) ** (-precision)
    import decimal

    rounding = decimal.ROUND_FLOOR if not high else decimal.ROUND_CEILING
    got = edge.quantize(q, rounding=rounding)
    if isinstance(v, int) and precision == 0:
        return int(got)
    return float(got) if precision else int(got)


_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_TIME = re.compile(r"^T?(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$")


def _date_boundary(text: str, precision: Any, high: bool) -> str | None:
    widened = text.endswith("T")  # a dateTime known only to a date (see _boundary_nodes)
    m = _DATE.match(text[:-1] if widened else text)
    if m:
        y, mo, d, h, mi, s, frac, tz = m.groups()
        is_dt = h is not None or widened
        if precision is None:
            precision = 17 if is_dt else 8
        if not is_dt and precision not in (4, 6, 8):
            return None
        mo = mo or ("12" if high else "01")
        if d is None:
            import calendar

            d = f"{calendar.monthrange(int(y), int(mo))[1]:02d}" if high else "01"
        if precision == 4:
            return y
        if precision == 6:
            return f"{y}-{mo}"
        if precision == 8:
            return f"{y}-{mo}-{d}"
        h = h or ("23" if high else "00")
        mi = mi or ("59" if high else "00")
        s = s or ("59" if high else "00")
        frac = (frac or ("999" if high else "000"))[:3].ljust(3, "9" if high else "0")
        if tz is None:
            tz = "-12:00" if high else "+14:00"
        return f"{y}-{mo}-{d}T{h}:{mi}:{s}.{frac}{tz}"
    m = _TIME.match(text)
    if m:
        h, mi, s, frac = m.groups()
        mi = mi or ("59" if high else "00")
        s = s or ("59" if high else "00")
        frac = (frac or ("999" if high else "000"))[:3]
        return f"{h}:{mi}:{s}.{frac}"
    return None


def _raw(fn: Any) -> Any:
    """A table entry receiving plain values (as fhirpathpy's user table would give)."""
    return lambda ctx, inputs, *args: fn([get_data(i) for i in inputs], *args)


def _boundary_nodes(high: bool) -> Any:
    def fn(ctx: Any, inputs: list[Any], precision: Any = None) -> list[Any]:
        out = []
        for node in inputs:
            value = get_data(node)
            kind = None
            if isinstance(node, ResourceNode):
                info = node.get_type_info()
                kind = getattr(info, "name", None)
            if kind == "dateTime" and isinstance(value, str) and "T" not in value:
                value = value + "T"  # a dateTime of date precision: widen as a dateTime
            out += _boundary([value], precision, high)
        return out

    return fn


def _join(ctx: Any, inputs: list[Any], separator: Any = "") -> list[Any]:
    """join() that gives '' for an empty collection (the SQL-on-FHIR tests' expectation)."""
    sep = separator[0] if isinstance(separator, list) and separator else separator or ""
    return [sep.join(str(get_data(i)) for i in inputs)]


_TABLE = {
    "getResourceKey": {"fn": _raw(_resource_key), "arity": {0: []}},
    "getReferenceKey": {"fn": _raw(_reference_key), "arity": {0: [], 1: ["TypeSpecifier"]}},
    "lowBoundary": {"fn": _boundary_nodes(False), "arity": {0: [], 1: ["Integer"]}},
    "highBoundary": {"fn": _boundary_nodes(True), "arity": {0: [], 1: ["Integer"]}},
    "join": {"fn": _join, "arity": {0: [], 1: ["String"]}},
}


@lru_cache(maxsize=4096)
def _compiled(path: str) -> Any:
    try:
        return parse(path)
    except Exception as exc:  # the parser raises bare exceptions
        raise ViewError(f"invalid FHIRPath {path!r}: {exc}") from None


@lru_cache(maxsize=1)
def _model() -> Any:
    from fhirpathpy.models import models

    return models["r4"]


def _nodes(node: Any, path: str, env: Mapping[str, Any]) -> list[Any]:
    """Evaluate a path on a node; the result keeps fhirpathpy's typed nodes."""
    parsed = _compiled(path)
    constants.reset()
    root = arraify(node)
    ctx = {
        "dataRoot": root,
        "vars": {"context": node, "ucum": "http://unitsofmeasure.org", **env},
        "model": _model(),
        "userInvocationTable": _TABLE,
        "$this": root,
    }
    try:
        got = do_eval(ctx, root, parsed["children"][0])
    except Exception as exc:
        raise ViewError(f"cannot evaluate {path!r}: {exc}") from None
    out = []
    for item in got if isinstance(got, list) else [got]:
        data = get_data(item)
        if isinstance(data, dict) and list(data) == ["extension"]:
            continue  # fhirpathpy's form of a primitive's extension, not a value
        out.append(item)
    return out


def _value(item: Any) -> Any:
    data = get_data(item)
    if isinstance(data, list):
        return [_value(i) for i in data]
    if isinstance(data, dict) and not isinstance(data, FP_Type):
        return {k: _value(v) for k, v in data.items()}
    return _plain(data)


def _eval(node: Any, path: str, env: Mapping[str, Any]) -> list[Any]:
    return [_value(i) for i in _nodes(node, path, env)]


def _plain(v: Any) -> Any:
    if isinstance(v, (FP_DateTime, FP_Time)):
        return str(v)
    if isinstance(v, FP_Quantity):
        return str(v)
    if isinstance(v, Decimal):
        return float(v)
    return v


# ------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------

_CONSTANT_KEYS = re.compile(r"^value[A-Z][A-Za-z0-9]*$")


def _constants(view: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in view.get("constant") or []:
        values = [k for k in c if _CONSTANT_KEYS.match(k)]
        if not isinstance(c.get("name"), str) or len(values) != 1:
            raise ViewError(f"constant {c!r}: needs a name and exactly one value[x]")
        out[c["name"]] = c[values[0]]
    return out


def column_names(select: Mapping[str, Any]) -> list[str]:
    """The columns one select gives, in order (nested selects, then the first union branch)."""
    names = [c["name"] for c in select.get("column") or []]
    for s in select.get("select") or []:
        names += column_names(s)
    union = select.get("unionAll") or []
    if union:
        names += column_names(union[0])
    return names


def _check_select(sel: Any, where: str, errors: list[str]) -> None:
    if not isinstance(sel, Mapping):
        errors.append(f"{where}: a select must be an object")
        return
    unknown = set(sel) - _SELECT_KEYS
    if unknown:
        errors.append(f"{where}: unknown keys {sorted(unknown)}")
    if "forEach" in sel and "forEachOrNull" in sel:
        errors.append(f"{where}: forEach and forEachOrNull together")
    for i, col in enumerate(sel.get("column") or []):
        name = col.get("name") if isinstance(col, Mapping) else None
        if not isinstance(name, str) or not _NAME.match(name):
            errors.append(f"{where}.column[{i}].name: {name!r} is not a valid column name")
        if not isinstance(col, Mapping) or not isinstance(col.get("path"), str):
            errors.append(f"{where}.column[{i}].path: missing")
        elif "collection" in col and not isinstance(col["collection"], bool):
            errors.append(f"{where}.column[{i}].collection: must be true or false")
    for i, s in enumerate(sel.get("select") or []):
        _check_select(s, f"{where}.select[{i}]", errors)
    union = sel.get("unionAll")
    if union is not None:
        if not isinstance(union, list):
            errors.append(f"{where}.unionAll: must be a list")
            return
        for i, s in enumerate(union):
            _check_select(s, f"{where}.unionAll[{i}]", errors)
        shapes = [column_names(s) for s in union if isinstance(s, Mapping)]
        if any(s != shapes[0] for s in shapes[1:]):
            errors.append(f"{where}.unionAll: branches give different columns {shapes}")


def validate_view(view: Any) -> list[str]:
    """Every reason the ViewDefinition is not valid ([] when it is)."""
    errors: list[str] = []
    if not isinstance(view, Mapping):
        return ["a ViewDefinition must be a JSON object"]
    if not isinstance(view.get("resource"), str) or not view["resource"]:
        errors.append("resource: missing")
    try:
        _constants(view)
    except ViewError as exc:
        errors.append(str(exc))
    selects = view.get("select")
    if not isinstance(selects, list) or not selects:
        errors.append("select: at least one select is required")
    else:
        for i, s in enumerate(selects):
            _check_select(s, f"select[{i}]", errors)
        names = [n for s in selects if isinstance(s, Mapping) for n in column_names(s)]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            errors.append(f"select: duplicate column names {dup}")
    for i, w in enumerate(view.get("where") or []):
        if not isinstance(w, Mapping) or not isinstance(w.get("path"), str):
            errors.append(f"where[{i}].path: missing")
    return errors


def _check_paths(view: Mapping[str, Any], constants: Mapping[str, Any]) -> None:
    """Compile every path once so a syntax error or unknown %constant fails the whole view."""
    known = set(constants) | {"rowIndex", "resource", "rootResource", "context", "ucum"}

    def paths(sel: Mapping[str, Any]) -> Iterable[str]:
        for k in ("forEach", "forEachOrNull"):
            if k in sel:
                yield sel[k]
        yield from sel.get("repeat") or []
        for c in sel.get("column") or []:
            yield c["path"]
        for s in sel.get("select") or []:
            yield from paths(s)
        for s in sel.get("unionAll") or []:
            yield from paths(s)

    all_paths = [w["path"] for w in view.get("where") or []]
    for s in view["select"]:
        all_paths += list(paths(s))
    for p in all_paths:
        _compiled(p)
        for name in re.findall(r"%([A-Za-z_][A-Za-z0-9_]*)", re.sub(r"'[^']*'", "", p)):
            if name not in known:
                raise ViewError(f"{p!r}: unknown constant %{name}")


# ------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------


def _column_value(col: Mapping[str, Any], node: Any, env: Mapping[str, Any]) -> Any:
    got = _eval(node, col["path"], env)
    if col.get("collection"):
        return got
    if len(got) > 1:
        raise ViewError(
            f"column {col['name']!r}: {col['path']!r} gave {len(got)} values; "
            "set collection: true or narrow the path"
        )
    return got[0] if got else None


def _repeat(node: Any, paths: list[str], env: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = []

    def walk(n: Any) -> None:
        for p in paths:
            for child in _nodes(n, p, env):
                out.append(child)
                walk(child)

    walk(node)
    return out


def _rows(sel: Mapping[str, Any], node: Any, env: dict[str, Any]) -> list[dict[str, Any]]:
    if "forEach" in sel or "forEachOrNull" in sel or "repeat" in sel:
        if "repeat" in sel:
            foci = _repeat(node, list(sel["repeat"]), env)
        else:
            foci = _nodes(node, sel.get("forEach") or sel.get("forEachOrNull"), env)
        body = {k: v for k, v in sel.items() if k not in ("forEach", "forEachOrNull", "repeat")}
        out: list[dict[str, Any]] = []
        for i, focus in enumerate(foci):
            out += _rows(body, focus, {**env, "rowIndex": i})
        if not foci and "forEachOrNull" in sel:
            # one row for the missing element: its columns evaluate on nothing (nulls)
            empty = _rows(body, [], {**env, "rowIndex": 0})
            out += empty or [dict.fromkeys(column_names(body))]
        return out
    row = {c["name"]: _column_value(c, node, env) for c in sel.get("column") or []}
    parts = [[row]]
    for s in sel.get("select") or []:
        parts.append(_rows(s, node, env))
    union = sel.get("unionAll")
    if union:
        urows: list[dict[str, Any]] = []
        for s in union:
            urows += _rows(s, node, env)
        parts.append(urows)
    combined = [{}]
    for part in parts:
        combined = [{**a, **b} for a in combined for b in part]
    return combined


def run_view(
    view: Mapping[str, Any], resources: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The rows of a ViewDefinition over resources (those of other types are passed over)."""
    errors = validate_view(view)
    if errors:
        raise ViewError("; ".join(errors))
    constants = _constants(view)
    _check_paths(view, constants)
    names = [n for s in view["select"] for n in column_names(s)]
    rtype = view["resource"]
    out: list[dict[str, Any]] = []
    wheres = [w["path"] for w in view.get("where") or []]
    for res in resources:
        if res.get("resourceType") != rtype:
            continue
        env = dict(constants)
        env["rowIndex"] = 0
        keep = True
        for w in wheres:
            got = _eval(res, w, env)
            if got and not all(isinstance(g, bool) for g in got):
                raise ViewError(f"where {w!r}: must give a boolean, gave {got!r}")
            if not (len(got) == 1 and got[0] is True):
                keep = False
                break
        if not keep:
            continue
        rows = [{}]
        for s in view["select"]:
            rows = [{**a, **b} for a in rows for b in _rows(s, res, env)]
        out += [{n: r.get(n) for n in names} for r in rows]
    return out


def to_duckdb(con: Any, table: str, view: Mapping[str, Any], rows: list[dict[str, Any]]) -> None:
    """Create (or replace) a DuckDB table of VARCHAR columns holding the view's rows."""
    names = [n for s in view["select"] for n in column_names(s)]
    cols = ", ".join(f'"{n}" VARCHAR' for n in names)
    con.execute(f'CREATE OR REPLACE TABLE "{table}" ({cols})')
    if rows:
        marks = ", ".join("?" for _ in names)
        con.executemany(
            f'INSERT INTO "{table}" VALUES ({marks})',
            [[None if r[n] is None else str(r[n]) for n in names] for r in rows],
        )
