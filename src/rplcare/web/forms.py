"""The structured case form <-> the case mapping (`rplcare.case/1`), both ways, and the case
model's path errors mapped back to the form field that holds the value (issue 11 §1).

Pure: no web framework, no store. A form is a flat mapping of field names to strings plus the
multi-valued fields (`lists`). Repeated parts of the record are rows whose field names carry a
section prefix and a row number (`p2_ga` is the GA of the third row of past pregnancies); row
numbers only order the rows and need not be contiguous (rows are added and removed in place).
Empty rows are skipped, and `rows` remembers which row became which list item so that an
error on `pregnancies[0].ga` lands next to `p2_ga`.

Nothing clinical is decided here: every value is passed to the case model as typed (numbers
as strings, which the model reads and checks), and the model's messages are shown unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rplcare.case.errors import CaseError
from rplcare.case.vocabulary import TestDef, vocabulary
from rplcare.web.i18n import N_

FORMAT = "rplcare.case/1"
#: hCG and progesterone series have their own sections (dated values of one test)
SERIES = {"h": "hcg", "g": "progesterone"}

# --- the fields of each part: (form name, case key, kind) --------------------------------------
# kinds: text (passed as typed), bool (yes / no / unknown), check (a checkbox: true or absent)
TOP = [("id", "id", "text"), ("assessed_on", "assessed_on", "text")]
PATIENT = [
    ("age_years", "age_years", "text"),
    ("birth_date", "birth_date", "text"),
    ("bmi", "bmi", "text"),
    ("smoking", "smoking", "bool"),
    ("alcohol_units_per_week", "alcohol_units_per_week", "text"),
    ("caffeine_mg_per_day", "caffeine_mg_per_day", "text"),
    ("menstrual_cycle", "menstrual_cycle", "text"),
]
PARTNER = [
    ("partner_karyotype", "karyotype", "text"),
    ("partner_age_years", "age_years", "text"),
    ("partner_smoking", "smoking", "bool"),
    ("partner_bmi", "bmi", "text"),
    ("partner_alcohol_units_per_week", "alcohol_units_per_week", "text"),
]
CURRENT = [
    ("cp_lmp", "lmp", "text"),
    ("cp_cycle_length_days", "cycle_length_days", "text"),
    ("cp_conception", "conception", "text"),
    ("cp_fetuses", "fetuses", "text"),
    ("cp_transfer_date", "transfer_date", "text"),
    ("cp_embryo_age_days", "embryo_age_days", "text"),
    ("cp_endometrial_preparation", "endometrial_preparation", "text"),
]
PREGNANCY = [
    ("outcome", "text"),
    ("ga", "text"),
    ("ga_unknown", "bool"),
    ("trimester", "text"),
    ("date", "text"),
    ("year", "text"),
    ("conception", "text"),
    ("heartbeat_seen", "bool"),
    ("fetal_anomaly", "bool"),
    ("poc_karyotype", "text"),
    ("preterm_cause", "text"),
    ("painless_cervical_dilation", "bool"),
    ("missed", "bool"),
    ("birth_weight_g", "text"),
    ("lmp", "text"),  # carried by the outcome form; a hidden field of the row
    ("reached_weeks", "text"),  # carried by the outcome form (12 or 24); a hidden field
]
RESULT = [
    ("test", "text"),
    ("loinc", "text"),
    ("value", "value"),
    ("unit", "text"),
    ("date", "text"),
    ("reference_low", "text"),
    ("reference_high", "text"),
    ("method", "text"),
    ("finding", "text"),
    ("note", "text"),
    ("on_anticoagulation", "bool"),
    ("comparator", "text"),  # a bound as the lab reports it ("<0.1"); a hidden field
]
SCAN = [
    ("date", "text"),
    ("location", "text"),
    ("msd_mm", "text"),
    ("yolk_sac", "bool"),
    ("yolk_sac_diameter_mm", "text"),
    ("amnion_empty", "bool"),
    ("embryo", "bool"),
    ("crl_mm", "text"),
    ("heartbeat", "bool"),
    ("cervical_length_mm", "text"),
]
MILESTONE = [("weeks", "text"), ("date", "text")]
#: row sections: prefix -> (fields, case list path)
SECTIONS: dict[str, tuple[list[tuple[str, str]], str]] = {
    "p": (PREGNANCY, "pregnancies"),
    "r": (RESULT, "results"),
    "h": (RESULT, "results"),
    "g": (RESULT, "results"),
    "s": (SCAN, "current_pregnancy.scans"),
    "pm": ([("name", "text")], "patient.medications"),
    "tm": ([("name", "text")], "current_pregnancy.treatments"),
    "ms": (MILESTONE, "current_pregnancy.milestones"),
}
_ROW = re.compile(r"^(pm|tm|ms|p|r|h|g|s)(\d{1,4})_([a-z_]+)$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
LIST_FIELDS = ("conditions", "cp_symptoms", "asked_about")


@dataclass
class FormState:
    """What the form shows: field values, multi-valued fields, and the row numbers of each
    section in display order."""

    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def next_row(self, section: str) -> int:
        return max(self.rows.get(section, []), default=-1) + 1

    def _has_blank(self, section: str) -> bool:
        """Whether the section already shows an empty row (re-rendering adds no more)."""
        for i in self.rows.get(section, []):
            prefix = f"{section}{i}_"
            if not any(v for k, v in self.values.items() if k.startswith(prefix)):
                return True
        return False

    def with_blank_rows(self) -> FormState:
        """A copy with one empty row more in every section (a place to type without JS)."""
        rows = {
            k: [*self.rows.get(k, []), *([] if self._has_blank(k) else [self.next_row(k)])]
            for k in SECTIONS
            if k != "ms"
        }
        rows["ms"] = list(self.rows.get("ms", []))
        return FormState(dict(self.values), {k: list(v) for k, v in self.lists.items()}, rows)


@dataclass
class Parsed:
    data: dict[str, Any]
    #: case list item path (e.g. "pregnancies[0]") -> row prefix (e.g. "p2")
    rows: dict[str, str]
    state: FormState


# --- form -> case ------------------------------------------------------------------------------


def _bool(raw: str) -> bool | None:
    return {"yes": True, "no": False}.get(raw)


def _value(raw: str, test: str | None) -> float | str:
    """A result value as the case model reads it: a number when it is one, else the word
    (a karyotype is always text)."""
    t = vocabulary().tests.get(test or "")
    if t is not None and t.kind == "karyotype":
        return raw
    return float(raw) if _NUMBER.match(raw) else raw


def _fill(out: dict[str, Any], fields: list[tuple[str, str, str]], get: Any) -> None:
    for name, key, kind in fields:
        raw = get(name)
        if not raw:
            continue
        out[key] = _bool(raw) if kind == "bool" else raw
        if out[key] is None:
            del out[key]


def _row(prefix: str, fields: list[tuple[str, str]], values: Mapping[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for key, kind in fields:
        raw = values.get(f"{prefix}_{key}", "")
        if not raw:
            continue
        if kind == "bool":
            b = _bool(raw)
            if b is not None:
                item[key] = b
        elif kind == "value":
            item[key] = raw  # converted once the test is known
        else:
            item[key] = raw
    if "value" in item:
        item["value"] = _value(item["value"], item.get("test"))
    return item


def parse(form: Mapping[str, Any], lists: Mapping[str, list[str]] | None = None) -> Parsed:
    """The form as a case mapping (not yet validated), with where each row went."""
    values = {
        str(k): str(v).strip()
        for k, v in form.items()
        if isinstance(v, str) and k not in LIST_FIELDS
    }
    multi = {k: [str(x) for x in (lists or {}).get(k, []) if str(x)] for k in LIST_FIELDS}
    rows: dict[str, list[int]] = {k: [] for k in SECTIONS}
    for name in values:
        m = _ROW.match(name)
        if m and int(m.group(2)) not in rows[m.group(1)]:
            rows[m.group(1)].append(int(m.group(2)))
    for nums in rows.values():
        nums.sort()
    removed = {f"{k}{i}" for k, nums in rows.items() for i in nums if values.get(f"{k}{i}_remove")}
    for k in rows:
        rows[k] = [i for i in rows[k] if f"{k}{i}" not in removed]
    state = FormState({k: v for k, v in values.items() if not k.endswith("_remove")}, multi, rows)
    get = state.get

    # a new form names the format; an edit keeps what the case had (hidden `format`)
    data: dict[str, Any] = {"format": FORMAT} if values.get("format", FORMAT) else {}
    _fill(data, TOP, get)
    if get("gestational_carrier"):
        data["gestational_carrier"] = True
    patient: dict[str, Any] = {}
    _fill(patient, PATIENT, get)
    if multi["conditions"]:
        patient["conditions"] = multi["conditions"]
    where: dict[str, str] = {}

    def items(section: str, fields: list[tuple[str, str]], path: str) -> list[Any]:
        out: list[Any] = []
        for i in rows[section]:
            prefix = f"{section}{i}"
            if section in ("pm", "tm"):
                name = values.get(f"{prefix}_name", "")
                if not name:
                    continue
                item = name
            else:
                item = _row(prefix, fields, values)
                if not item:
                    continue
            where[f"{path}[{len(out)}]"] = prefix
            out.append(item)
        return out

    meds = items("pm", SECTIONS["pm"][0], "patient.medications")
    if meds:
        patient["medications"] = meds
    if patient:
        data["patient"] = patient
    partner: dict[str, Any] = {}
    _fill(partner, PARTNER, get)
    if partner:
        data["partner"] = partner
    pregnancies = items("p", PREGNANCY, "pregnancies")
    for p in pregnancies:  # 12 or 24, a number in the case file
        if str(p.get("reached_weeks", "")).isdigit():
            p["reached_weeks"] = int(p["reached_weeks"])
    if pregnancies:
        data["pregnancies"] = pregnancies

    # results: the general rows and the two series, in their stored order (hidden `_pos`)
    # so that saving an unchanged form changes nothing
    results: list[tuple[float, int, str, dict[str, Any]]] = []
    for order, section in enumerate(("r", "h", "g")):
        for i in rows[section]:
            prefix = f"{section}{i}"
            item = _row(prefix, RESULT, values)
            if section in SERIES:
                item.pop("test", None)
                if not item:
                    continue
                item = {"test": SERIES[section], **item}
                if values.get(f"{prefix}_value"):
                    item["value"] = _value(values[f"{prefix}_value"], SERIES[section])
            elif not item:
                continue
            pos = values.get(f"{prefix}_pos", "")
            key = float(pos) if pos.isdigit() else 1e9 + order * 1e4 + i
            results.append((key, order, prefix, item))
    results.sort(key=lambda t: (t[0], t[1]))
    for n, (_, _, prefix, _item) in enumerate(results):
        where[f"results[{n}]"] = prefix
    if results:
        data["results"] = [item for *_, item in results]

    current: dict[str, Any] = {}
    _fill(current, CURRENT, get)
    if multi["cp_symptoms"]:
        current["symptoms"] = multi["cp_symptoms"]
    treatments = items("tm", SECTIONS["tm"][0], "current_pregnancy.treatments")
    if treatments:
        current["treatments"] = treatments
    scans = items("s", SCAN, "current_pregnancy.scans")
    if scans:
        current["scans"] = scans
    milestones = items("ms", MILESTONE, "current_pregnancy.milestones")
    for m in milestones:  # 12 or 24, a number in the case file
        if str(m.get("weeks", "")).isdigit():
            m["weeks"] = int(m["weeks"])
    if current and milestones:
        current["milestones"] = milestones
    if current:
        data["current_pregnancy"] = current
    if multi["asked_about"]:
        data["asked_about"] = multi["asked_about"]
    return Parsed(data, where, state)


def required_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the form requires beyond the case model: a blank form must not save an empty case."""
    problems: list[tuple[str, str]] = []
    patient = data.get("patient") or {}
    if not patient.get("age_years") and not patient.get("birth_date"):
        problems.append(("patient.age_years", N_("required: her age in years, or her birth date")))
    if not data.get("pregnancies") and not data.get("current_pregnancy"):
        problems.append(
            ("pregnancies", N_("required: at least one past pregnancy, or the current pregnancy"))
        )
    return problems


def check(parsed: Parsed, today: date | None = None) -> list[tuple[str, str]]:
    """Every problem of the form at once: the required fields, then the case model's (field
    checks and the whole-record checks), as (case path, message)."""
    from rplcare.case.loader import load_case

    problems = required_problems(parsed.data)
    try:
        load_case(parsed.data, today=today)
    except CaseError as exc:
        problems.extend(exc.problems)
    return problems


# --- case path -> form field -------------------------------------------------------------------

_STATIC: dict[str, str] = {
    **{key: name for name, key, _ in TOP},
    **{f"patient.{key}": name for name, key, _ in PATIENT},
    **{f"partner.{key}": name for name, key, _ in PARTNER},
    **{f"current_pregnancy.{key}": name for name, key, _ in CURRENT},
    "gestational_carrier": "gestational_carrier",
    "patient.conditions": "conditions",
    "current_pregnancy.symptoms": "cp_symptoms",
    "asked_about": "asked_about",
    "pregnancies": "p_section",
    "results": "r_section",
    "patient.medications": "pm_section",
    "current_pregnancy.treatments": "tm_section",
    "current_pregnancy.scans": "s_section",
    "current_pregnancy": "cp_section",
    "patient": "age_years",
    "partner": "partner_karyotype",
}
_ITEM = re.compile(r"^(.*?\[\d+\])(?:\.([a-z_]+))?")


def field_for(path: str, rows: Mapping[str, str]) -> str | None:
    """The form field that holds the value at `path` (None: the form has no such field; the
    message is then shown in the summary only)."""
    m = _ITEM.match(path)
    if m and m.group(1) in rows:
        prefix = rows[m.group(1)]
        section = re.match(r"[a-z]+", prefix).group(0)  # type: ignore[union-attr]
        if section in ("pm", "tm"):
            return f"{prefix}_name"
        sub = m.group(2)
        if section in SERIES and sub == "test":
            sub = "value"
        return f"{prefix}_{sub}" if sub else f"{prefix}_row"
    base = re.sub(r"\[\d+\]$", "", path)
    return _STATIC.get(path) or _STATIC.get(base)


def errors_by_field(
    problems: list[tuple[str, str]], rows: Mapping[str, str]
) -> dict[str, list[str]]:
    """Messages per form field (several problems may concern one field)."""
    out: dict[str, list[str]] = {}
    for path, msg in problems:
        name = field_for(path, rows) or "_form"
        out.setdefault(name, []).append(msg)
    return out


def paths_by_field(problems: list[tuple[str, str]], rows: Mapping[str, str]) -> dict[str, str]:
    """The case path of each form field with a problem (the first one), for `data-path`."""
    out: dict[str, str] = {}
    for path, _ in problems:
        out.setdefault(field_for(path, rows) or "_form", path)
    return out


def lines(problems: list[tuple[str, str]]) -> list[str]:
    return [f"{p}: {m}" if p else m for p, m in problems]


# --- case -> form ------------------------------------------------------------------------------


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}" if float(f"{v:g}") == v else repr(v)
    return str(v)


def from_case(data: Mapping[str, Any]) -> FormState:
    """A stored case (its JSON) as the form shows it."""
    state = FormState()
    v = state.values
    v["format"] = str(data.get("format") or "")
    for name, key, _ in TOP:
        if data.get(key) is not None:
            v[name] = _text(data[key])
    if data.get("gestational_carrier"):
        v["gestational_carrier"] = "yes"
    patient = data.get("patient") or {}
    for name, key, _ in PATIENT:
        if patient.get(key) is not None:
            v[name] = _text(patient[key])
    state.lists["conditions"] = list(patient.get("conditions") or [])
    partner = data.get("partner") or {}
    for name, key, _ in PARTNER:
        if partner.get(key) is not None:
            v[name] = _text(partner[key])
    cp = data.get("current_pregnancy") or {}
    for name, key, _ in CURRENT:
        if cp.get(key) is not None:
            v[name] = _text(cp[key])
    state.lists["cp_symptoms"] = list(cp.get("symptoms") or [])
    state.lists["asked_about"] = list(data.get("asked_about") or [])

    def put(section: str, items: list[Any], fields: list[tuple[str, str]]) -> None:
        nums = state.rows.setdefault(section, [])
        for item in items:
            i = len(nums)
            nums.append(i)
            if isinstance(item, str):
                v[f"{section}{i}_name"] = item
                continue
            for key, _ in fields:
                if item.get(key) is not None:
                    v[f"{section}{i}_{key}"] = _text(item[key])

    put("p", list(data.get("pregnancies") or []), PREGNANCY)
    put("pm", list(patient.get("medications") or []), [])
    put("tm", list(cp.get("treatments") or []), [])
    put("s", list(cp.get("scans") or []), SCAN)
    put("ms", list(cp.get("milestones") or []), MILESTONE)
    for section in ("r", "h", "g"):
        state.rows.setdefault(section, [])
    for pos, r in enumerate(data.get("results") or []):
        section = next(
            (
                k
                for k, code in SERIES.items()
                if r.get("test") == code and set(r) <= {"test", "value", "unit", "date"}
            ),
            "r",
        )
        nums = state.rows[section]
        i = len(nums)
        nums.append(i)
        for key, _ in RESULT:
            if r.get(key) is not None and not (section in SERIES and key == "test"):
                v[f"{section}{i}_{key}"] = _text(r[key])
        v[f"{section}{i}_pos"] = str(pos)
    for k in SECTIONS:
        state.rows.setdefault(k, [])
    return state


# --- the test picker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TestChoice:
    code: str
    meaning: str
    kind: str
    units: tuple[str, ...]
    answers: tuple[str, ...]  # the qualitative answers, when the test has them

    @property
    def numeric(self) -> bool:
        return self.kind in ("quantity", "qualitative_or_quantity")

    @property
    def free_text(self) -> bool:
        return self.kind in ("karyotype", "recorded")


def _choice(t: TestDef) -> TestChoice:
    voc = vocabulary()
    qual = t.kind in ("qualitative", "qualitative_or_quantity") or t.qualitative_allowed
    units = (*t.units, *(t.lab_range_units or {})) if t.kind != "imaging" else ()
    answers = (t.answers or voc.general_answers) if qual else ()
    return TestChoice(t.code, t.meaning, t.kind, tuple(units), tuple(answers))


def picker() -> list[TestChoice]:
    """Every test of the case vocabulary with its accepted units and qualitative answers."""
    return [_choice(t) for t in vocabulary().tests.values()]


def picker_test(code: str) -> TestChoice | None:
    t = vocabulary().tests.get(code)
    return _choice(t) if t is not None else None
