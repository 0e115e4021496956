"""The case file `rplcare.case/1` as pydantic v2 models.

Values are kept as written (so a case exports back unchanged); normalised values (gestational
ages in days, results in canonical units) are computed alongside and excluded from the dump.
Cross-field checks (unit against test, dates against `assessed_on`) raise `Problems`, which
carry sub-paths so every message names the exact field; `rplcare.case.errors` formats them.
"""

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rplcare.case.errors import warning_lines
from rplcare.case.vocabulary import convert, vocabulary
from rplcare.knowledge import KnowledgeBase
from rplcare.knowledge.templates import join_or
from rplcare.pregnancy.gestation import format_ga, parse_ga

FORMAT = "rplcare.case/1"


def _kb(info: ValidationInfo | None) -> KnowledgeBase:
    """The knowledge base the case is validated against: `load_case(kb=...)` puts it in the
    validation context; the case model is an edge, so it may fall back to the packaged one."""
    kb = (info.context or {}).get("kb") if info is not None else None
    if kb is None:
        from rplcare.knowledge import get_kb

        kb = get_kb()
    return kb


class Problems(ValueError):
    """Several problems found in one object, each with a sub-path (e.g. "unit")."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in problems))


def _known(values: list[str], known: Any, what: str) -> list[str]:
    """`values` unchanged when every one is in `known`; else every unknown one at once, each
    with its index and the allowed words (the shape of every vocabulary list in the case)."""
    allowed = ", ".join(sorted(known))
    bad = [
        (f"[{i}]", f"{v!r} is not a known {what} (allowed: {allowed})")
        for i, v in enumerate(values)
        if v not in known
    ]
    if bad:
        raise Problems(bad)
    return values


def _ga(value: Any, info: ValidationInfo) -> int:
    days = parse_ga(value)
    kb = _kb(info)
    if days > kb.param("case.max_ga_days"):
        raise ValueError(
            f"{value!r} is over {kb.shown('case.max_ga_days', 'weeks')} weeks, "
            "not a plausible gestational age"
        )
    return days


GA = Annotated[int, BeforeValidator(_ga), PlainSerializer(format_ga, return_type=str)]
Day = date
DayOrTime = date | datetime


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _check_not_future(problems: list[tuple[str, str]], path: str, value: Any, info: Any) -> None:
    ref = (info.context or {}).get("assessed_on") if info is not None else None
    if ref is not None and value is not None and _day(value) > ref:
        problems.append((path, f"{value} is after assessed_on ({ref})"))


def _warn(info: ValidationInfo, path: str, message: str) -> None:
    """A warning as (path, message), like an error (`case.errors.CaseError.problems`)."""
    if info.context is not None:
        info.context.setdefault("warnings", []).append((path, message))


def _medications(values: list[str], info: ValidationInfo, where: str) -> list[str]:
    voc = vocabulary()
    out: list[str] = []
    problems: list[tuple[str, str]] = []
    for i, raw in enumerate(values):
        name = raw.strip().lower().replace(" ", "_").replace("-", "_")
        if name in voc.medication_rejected:
            problems.append((f"[{i}]", f"{raw!r} rejected: {voc.medication_rejected[name]}"))
        elif name in voc.medication_aliases:
            target = voc.medication_aliases[name]
            at = f"{where}[{i}]"
            if target == "oral_dydrogesterone" and name != "dydrogesterone":
                _warn(info, at, f"{raw!r} read as {target} (a mistranslation of dydrogesterone)")
            elif target != "oral_dydrogesterone":
                _warn(info, at, f"{raw!r} read as {target}")
            out.append(target)
        elif name in voc.medications:
            out.append(name)
        else:
            allowed = ", ".join(sorted(voc.medications))
            problems.append((f"[{i}]", f"{raw!r} is not a known medication (allowed: {allowed})"))
    if problems:
        raise Problems(problems)
    return out


def _empty_list() -> list[Any]:
    """`default_factory=list` as a Python function: pydantic reads each factory's signature,
    and a builtin's costs a tokenizer pass over its text signature (issue 12 §2)."""
    return []


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Patient(Model):
    birth_date: Day | None = None
    age_years: int | None = Field(None, ge=10, le=70)
    bmi: float | None = Field(None, ge=10, le=80)
    smoking: bool | None = None
    alcohol_units_per_week: float | None = Field(None, ge=0, le=300)
    caffeine_mg_per_day: float | None = Field(None, ge=0, le=5000)
    menstrual_cycle: Literal["regular", "irregular", "oligomenorrhoea", "amenorrhoea"] | None = None
    conditions: list[str] = Field(default_factory=_empty_list)
    medications: list[str] = Field(default_factory=_empty_list)

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, values: list[str]) -> list[str]:
        return _known(values, vocabulary().conditions, "condition")

    @field_validator("medications")
    @classmethod
    def _meds(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return _medications(values, info, "patient.medications")

    @model_validator(mode="after")
    def _dates(self, info: ValidationInfo) -> Self:
        problems: list[tuple[str, str]] = []
        _check_not_future(problems, "birth_date", self.birth_date, info)
        ref = (info.context or {}).get("assessed_on")
        if self.birth_date and ref and not problems:
            age = _age(self.birth_date, ref)
            if not 10 <= age <= 70:
                problems.append(("birth_date", f"{self.birth_date} gives age {age}, outside 10-70"))
            elif self.age_years is not None and abs(age - self.age_years) > 1:
                problems.append(
                    ("age_years", f"{self.age_years} disagrees with birth_date (age {age})")
                )
        if problems:
            raise Problems(problems)
        return self

    def age_on(self, day: date) -> int | None:
        return _age(self.birth_date, day) if self.birth_date else self.age_years


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


Conception = Literal["natural", "iui", "ivf", "icsi", "frozen_transfer", "donor_egg"]
Outcome = Literal[
    "miscarriage", "biochemical", "ectopic", "molar", "termination", "stillbirth", "live_birth"
]


class Partner(Model):
    karyotype: str | None = None
    age_years: int | None = Field(None, ge=12, le=100)
    smoking: bool | None = None
    bmi: float | None = Field(None, ge=10, le=80)
    alcohol_units_per_week: float | None = Field(None, ge=0, le=300)


class PastPregnancy(Model):
    outcome: Outcome
    ga: GA | None = None
    #: the record gives no gestational age (e.g. an EHR outcome code without one): the loss is
    #: kept, and counted where a definition allows it, instead of being dropped
    ga_unknown: bool | None = None
    #: the trimester the record states when it gives no GA (e.g. SNOMED 19169002)
    trimester: Literal["first", "second"] | None = None
    date: Day | None = None
    year: int | None = Field(None, ge=1950, le=2100)
    conception: Conception | None = None
    heartbeat_seen: bool | None = None
    fetal_anomaly: bool | None = None
    poc_karyotype: str | None = None
    preterm_cause: (
        Literal["preeclampsia", "placental_insufficiency", "spontaneous", "other"] | None
    ) = None
    painless_cervical_dilation: bool | None = None
    # a missed miscarriage: fetal death found on a scan, no labour (not a cervical event)
    missed: bool | None = None
    #: birth weight in grams (a live birth or a stillbirth; recorded by the outcome form)
    birth_weight_g: int | None = Field(None, ge=100, le=7000)
    #: the LMP of this pregnancy (the outcome form carries the current pregnancy's LMP over), so
    #: the record checks can compare the GA recorded at a birth with the one its dates give
    lmp: Day | None = None
    #: the furthest milestone (12 or 24 weeks) the pregnancy was seen ongoing past while it was
    #: the current pregnancy (the outcome form carries it over; the outcomes registry counts it
    #: as reached even when the pregnancy has no GA and no dating)
    reached_weeks: Literal[12, 24] | None = None

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        problems: list[tuple[str, str]] = []
        if (
            self.ga is None
            and not self.ga_unknown
            and self.outcome in ("miscarriage", "stillbirth", "live_birth")
        ):
            problems.append(
                (
                    "ga",
                    f"required for outcome {self.outcome!r} (e.g. '8+3'), "
                    "or set ga_unknown: true when the record has none",
                )
            )
        if self.ga is not None and self.ga_unknown:
            problems.append(("ga_unknown", f"true although ga is given ({format_ga(self.ga)})"))
        if self.trimester is not None and self.ga is not None:
            problems.append(("trimester", "only when the GA is unknown; the GA gives it"))
        if self.date and self.year and self.date.year != self.year:
            problems.append(("year", f"{self.year} disagrees with date {self.date}"))
        _check_not_future(problems, "date", self.date, info)
        _check_not_future(problems, "lmp", self.lmp, info)
        ref = (info.context or {}).get("assessed_on")
        if ref and self.year and self.year > ref.year:
            problems.append(("year", f"{self.year} is after assessed_on ({ref})"))
        kb = _kb(info)
        limit = kb.param("class.loss_limit_days")
        if self.outcome == "stillbirth" and self.ga is not None and self.ga < limit:
            problems.append(("ga", kb.say("case.stillbirth_too_early", ga=format_ga(self.ga))))
        if self.outcome == "miscarriage" and self.ga is not None and self.ga >= limit:
            problems.append(("ga", kb.say("case.miscarriage_too_late", ga=format_ga(self.ga))))
        if problems:
            raise Problems(problems)
        return self

    @property
    def when(self) -> Day | None:
        return self.date or (date(self.year, 7, 1) if self.year else None)


ImagingMethod = Literal[
    "3d_ultrasound", "2d_ultrasound", "sonohysterography", "hysteroscopy", "mri", "hsg"
]
ImagingFinding = Literal[
    "normal",
    "septate_uterus",
    "arcuate_uterus",
    "bicornuate_uterus",
    "unicornuate_uterus",
    "didelphys_uterus",
    "submucosal_fibroid",
    "intramural_fibroid_distorting_cavity",
    "endometrial_polyp",
    "intrauterine_adhesions",
    "adenomyosis",
]
_ISCN = re.compile(r"^\s*\d{2}\s*,\s*[XY]")


class Result(Model):
    test: str | None = None
    loinc: str | None = None
    value: float | str | None = None
    unit: str | None = None
    date: DayOrTime
    reference_low: float | None = None
    reference_high: float | None = None
    method: ImagingMethod | None = None
    finding: ImagingFinding | None = None
    note: str | None = None
    on_anticoagulation: bool | None = None  # sample taken on heparin/warfarin/DOAC (LA caveat)
    # the value is a bound, as labs report it ("<0.1", ">1000"; FHIR Quantity.comparator)
    comparator: Literal["<", "<=", ">", ">="] | None = None

    # normalised, computed in _normalise; not part of the case file
    _code: str = PrivateAttr("")
    _si: float | None = PrivateAttr(None)
    _ref_high_si: float | None = PrivateAttr(None)
    _ref_low_si: float | None = PrivateAttr(None)
    _qual: str | None = PrivateAttr(None)
    _above_ref: bool | None = PrivateAttr(None)
    _bound_si: float | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _normalise(self, info: ValidationInfo) -> Self:
        voc = vocabulary()
        problems: list[tuple[str, str]] = []
        code = self.test
        if code is None and self.loinc is None:
            raise Problems(
                [("test", "missing: give a vocabulary code (test) or a LOINC code (loinc)")]
            )
        if code is None:
            code = voc.by_loinc.get(self.loinc or "")
            if code is None:
                known = ", ".join(sorted(voc.by_loinc))
                raise Problems(
                    [
                        (
                            "loinc",
                            f"{self.loinc!r} is not a LOINC code rplcare reads (known: {known})",
                        )
                    ]
                )
        elif code not in voc.tests:
            raise Problems(
                [("test", f"{code!r} is not a known test code (allowed: {', '.join(voc.tests)})")]
            )
        elif self.loinc is not None and voc.by_loinc.get(self.loinc) != code:
            problems.append(("loinc", f"{self.loinc!r} is not a LOINC code of {code}"))
        t = voc.tests[code]
        self._code = code
        _check_not_future(problems, "date", self.date, info)
        v = self.value
        if t.kind == "imaging":
            if self.finding is None:
                problems.append(("finding", "required for uterine_imaging"))
            if self.method is None:
                problems.append(("method", "required for uterine_imaging"))
        elif self.method is not None or self.finding is not None:
            problems.append(
                ("method" if self.method else "finding", f"only for uterine_imaging, not {code}")
            )
        if t.kind == "karyotype":
            if not isinstance(v, str) or not _ISCN.match(v):
                problems.append(
                    (
                        "value",
                        f"{v!r} is not an ISCN karyotype "
                        "(e.g. '46,XX' or '46,XY,t(11;22)(q23;q11.2)')",
                    )
                )
        elif t.kind == "recorded":
            pass  # kept for the record and commented on; any value or unit
        elif t.kind != "imaging":
            qual_ok = t.kind in ("qualitative", "qualitative_or_quantity") or t.qualitative_allowed
            qty_ok = t.kind in ("quantity", "qualitative_or_quantity")
            if v is None:
                problems.append(("value", "missing"))
            elif isinstance(v, str):
                answers = voc.answers_for(t)
                word = " ".join(v.lower().replace("_", " ").split())
                if not qual_ok or word not in answers:
                    allowed = ", ".join(answers) if qual_ok else f"a number in {', '.join(t.units)}"
                    problems.append(
                        ("value", f"{v!r} is not a result of {code} (allowed: {allowed})")
                    )
                else:
                    self._qual = answers[word]
                    if self.unit is not None:
                        problems.append(("unit", f"{self.unit!r} given with a qualitative result"))
            elif not qty_ok:
                problems.append(
                    ("value", f"{v!r}: {code} is qualitative ({', '.join(voc.answers_for(t))})")
                )
            else:
                self._quantity(t, float(v), problems)
        if self.comparator is not None:
            self._censor(v, problems)
        if problems:
            raise Problems(problems)
        return self

    def _censor(self, v: Any, problems: list[tuple[str, str]]) -> None:
        """A value with a comparator is a bound, not a measurement: `si` is None, so no
        calculator takes it as a number; only a comparison the bound decides is kept."""
        if not isinstance(v, int | float) or isinstance(v, bool):
            problems.append(("comparator", f"{self.comparator!r} needs a numeric value"))
            return
        self._bound_si, self._si = self._si, None
        high = self.reference_high
        above: bool | None = None
        if high is not None:
            if self.comparator in (">", ">="):
                above = True if v > high or (self.comparator == ">" and v >= high) else None
            else:
                above = False if v <= high else None
        self._above_ref = above

    def _quantity(self, t: Any, v: float, problems: list[tuple[str, str]]) -> None:
        accepted = ", ".join(t.units)
        if self.unit is None:
            problems.append(("unit", f"missing: {t.code} needs a unit ({accepted})"))
            return
        if t.lab_range_units and self.unit in t.lab_range_units:
            # compared with the lab's own range in the same unit; no factor is applied
            if self.reference_high is None:
                problems.append(
                    (
                        "reference_high",
                        f"needed with {self.unit}: {t.code} in {self.unit} is read against the "
                        "lab's range in the same unit (the conversion depends on the assay)",
                    )
                )
            if v < 0:
                problems.append(("value", f"{v:g} is negative"))
            self._above_ref = self.reference_high is not None and v > self.reference_high
            return
        if self.unit in t.rejected_units:
            problems.append(
                ("unit", f"{self.unit!r} not accepted for {t.code}: {t.rejected_units[self.unit]}")
            )
            return
        if self.unit not in t.units:
            problems.append(("unit", f"{self.unit!r} is not a unit of {t.code} ({accepted})"))
            return
        si = convert(t, v, self.unit)
        lo, hi = t.bounds
        if not lo <= si <= hi:
            problems.append(
                (
                    "value",
                    f"{v:g} {self.unit} is not a plausible {t.code} "
                    f"(expected {lo:g}-{hi:g} {t.canonical})",
                )
            )
        self._si = si
        for name in ("reference_low", "reference_high"):
            ref = getattr(self, name)
            if ref is not None:
                if ref < 0:
                    problems.append((name, f"{ref:g} is negative"))
                attr = "_ref_high_si" if name == "reference_high" else "_ref_low_si"
                setattr(self, attr, convert(t, ref, self.unit))
        if self.reference_high is not None:
            self._above_ref = v > self.reference_high
        if t.needs_reference_high and self.reference_high is None:
            problems.append(
                ("reference_high", f"needed to read a numeric {t.code} (the lab's upper limit)")
            )

    # --- read-only views used by reasoning -------------------------------------------------
    # (read from the private store directly: pydantic's __getattr__ for a private attribute
    # was a third of assess() on a case with many results, issue 12 §1)
    @property
    def code(self) -> str:
        value: str = self.__pydantic_private__["_code"]  # type: ignore[index]
        return value

    @property
    def day(self) -> Day:
        return _day(self.date)

    @property
    def at(self) -> datetime:
        return (
            self.date
            if isinstance(self.date, datetime)
            else datetime(self.date.year, self.date.month, self.date.day)
        )

    @property
    def si(self) -> float | None:
        """Value in the canonical unit of the test (None when qualitative or missing)."""
        value: float | None = self.__pydantic_private__["_si"]  # type: ignore[index]
        return value

    @property
    def bound_si(self) -> float | None:
        """With a comparator: the bound in the canonical unit (the value is beyond it)."""
        value: float | None = self.__pydantic_private__["_bound_si"]  # type: ignore[index]
        return value

    @property
    def ref_high_si(self) -> float | None:
        value: float | None = self.__pydantic_private__["_ref_high_si"]  # type: ignore[index]
        return value

    @property
    def ref_low_si(self) -> float | None:
        value: float | None = self.__pydantic_private__["_ref_low_si"]  # type: ignore[index]
        return value

    @property
    def qualitative(self) -> str | None:
        value: str | None = self.__pydantic_private__["_qual"]  # type: ignore[index]
        return value

    @property
    def above_reference_high(self) -> bool | None:
        """Value above the lab's upper limit, compared in the unit as reported (None: no
        numeric value or no upper limit)."""
        value: bool | None = self.__pydantic_private__["_above_ref"]  # type: ignore[index]
        return value


class Scan(Model):
    date: Day
    location: Literal["intrauterine", "ectopic", "unknown"] | None = None
    msd_mm: float | None = Field(None, ge=0, le=120)
    yolk_sac: bool | None = None
    yolk_sac_diameter_mm: float | None = Field(None, ge=0, le=30)
    amnion_empty: bool | None = None
    embryo: bool | None = None
    crl_mm: float | None = Field(None, ge=0)  # upper limit: dating.intergrowth_max_crl_mm
    heartbeat: bool | None = None
    cervical_length_mm: float | None = Field(None, ge=0, le=90)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        problems: list[tuple[str, str]] = []
        _check_not_future(problems, "date", self.date, info)
        if self.crl_mm is not None and self.embryo is False:
            problems.append(("crl_mm", "given although embryo is false"))
        kb = _kb(info)
        crl_max = kb.param("dating.intergrowth_max_crl_mm")
        if self.crl_mm is not None and self.crl_mm > crl_max:
            problems.append(("crl_mm", kb.say("case.crl_too_long", crl=f"{self.crl_mm:g}")))
        if self.heartbeat and self.embryo is False:
            problems.append(("heartbeat", "true although embryo is false"))
        if problems:
            raise Problems(problems)
        return self


class Milestone(Model):
    """The current pregnancy seen ongoing past 12 or 24 weeks (recorded by the outcome form;
    the outcomes registry counts it)."""

    weeks: Literal[12, 24]
    date: Day

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        problems: list[tuple[str, str]] = []
        _check_not_future(problems, "date", self.date, info)
        if problems:
            raise Problems(problems)
        return self


class CurrentPregnancy(Model):
    lmp: Day | None = None
    cycle_length_days: int | None = Field(None, ge=20, le=60)
    conception: Conception | None = None
    fetuses: int | None = Field(None, ge=1, le=8)
    transfer_date: Day | None = None
    embryo_age_days: int | None = None
    endometrial_preparation: Literal["artificial", "natural", "stimulated"] | None = None
    symptoms: list[Literal["bleeding", "pain"]] = Field(default_factory=_empty_list)
    treatments: list[str] = Field(default_factory=_empty_list)
    scans: list[Scan] = Field(default_factory=_empty_list)
    milestones: list[Milestone] = Field(default_factory=_empty_list)

    @field_validator("embryo_age_days")
    @classmethod
    def _embryo(cls, v: int | None, info: ValidationInfo) -> int | None:
        allowed = _kb(info).param("dating.embryo_ages_days")
        if v is not None and v not in allowed:
            raise ValueError(f"{v} is not an embryo age at transfer (allowed: {join_or(allowed)})")
        return v

    @field_validator("treatments")
    @classmethod
    def _meds(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return _medications(values, info, "current_pregnancy.treatments")

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        problems: list[tuple[str, str]] = []
        _check_not_future(problems, "lmp", self.lmp, info)
        _check_not_future(problems, "transfer_date", self.transfer_date, info)
        ref = (info.context or {}).get("assessed_on")
        if (
            ref
            and self.lmp
            and not problems
            and (ref - self.lmp).days > _kb(info).param("case.max_ga_days")
        ):
            problems.append(
                (
                    "lmp",
                    f"{self.lmp} gives a gestation over "
                    f"{_kb(info).shown('case.max_ga_days', 'weeks')} weeks on {ref}",
                )
            )
        if (self.transfer_date is None) != (self.embryo_age_days is None):
            missing = "embryo_age_days" if self.embryo_age_days is None else "transfer_date"
            problems.append(
                (
                    missing,
                    "needed with the other of transfer_date/embryo_age_days "
                    "to date an ART pregnancy",
                )
            )
        if problems:
            raise Problems(problems)
        return self


class ProposedOrders(Model):
    """Items in orders not yet signed (CDS order-sign's draft orders): proposed, not given.

    Reasoning treats a proposed item like a recorded one, so the knowledge base's rule for an
    item advised against answers the order exactly as it answers the record.
    """

    medications: list[str] = Field(default_factory=_empty_list)
    tests: list[str] = Field(default_factory=_empty_list)

    @field_validator("medications")
    @classmethod
    def _meds(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return _medications(values, info, "proposed.medications")

    @field_validator("tests")
    @classmethod
    def _tests(cls, values: list[str]) -> list[str]:
        return _known(values, vocabulary().tests, "test")


def _patient() -> Patient:
    """`default_factory=Patient` without pydantic building the model's signature to read it."""
    return Patient()


def _partner() -> Partner:
    return Partner()


class Case(Model):
    format: Literal["rplcare.case/1"] | None = None
    id: str | None = Field(None, max_length=200)
    assessed_on: Day | None = None
    patient: Patient = Field(default_factory=_patient)
    gestational_carrier: bool = False
    partner: Partner = Field(default_factory=_partner)
    pregnancies: list[PastPregnancy] = Field(default_factory=_empty_list)
    results: list[Result] = Field(default_factory=_empty_list)
    current_pregnancy: CurrentPregnancy | None = None
    # recommendation ids the patient asked about (kept visible, never folded away)
    asked_about: list[str] = Field(default_factory=_empty_list)
    # draft orders being signed (CDS order-sign); None for a case as recorded
    proposed: ProposedOrders | None = None

    _warning_items: list[tuple[str, str]] = PrivateAttr(default_factory=_empty_list)

    @field_validator("asked_about")
    @classmethod
    def _asked(cls, values: list[str]) -> list[str]:
        from rplcare.knowledge import get_kb

        return _known(values, get_kb().recommendations, "recommendation id")

    @model_validator(mode="after")
    def _whole_record(self, info: ValidationInfo) -> Self:
        from rplcare.case.record_checks import check_record

        problems, warnings = check_record(self)
        for path, message in warnings:
            _warn(info, path, message)
        if problems:
            raise Problems(problems)
        return self

    @property
    def warnings(self) -> list[str]:
        """Non-fatal notes from reading the case (e.g. an alias read as dydrogesterone), as
        `PATH: message` lines like `CaseError.lines()`."""
        return warning_lines(self._warning_items)

    @property
    def warning_items(self) -> list[tuple[str, str]]:
        """The same warnings as (path, message) pairs, every one with its field path."""
        return list(self._warning_items)

    @field_validator("assessed_on")
    @classmethod
    def _not_future(cls, v: date | None, info: ValidationInfo) -> date | None:
        today = (info.context or {}).get("today")
        if v is not None and today is not None and v > today:
            raise ValueError(f"{v} is in the future (today is {today})")
        return v

    @property
    def day(self) -> date:
        """The date the assessment is as of (always set after load_case)."""
        assert self.assessed_on is not None
        return self.assessed_on
