"""Schema of the knowledge base files (pydantic), so a bad file fails at load, not at use."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["recommended", "conditional", "not_recommended"]
Kind = Literal["test", "treatment", "advice"]
Urgency = Literal["immediate", "same_day", "within_24h", "routine"]
URGENCIES: tuple[str, ...] = ("immediate", "same_day", "within_24h", "routine")
Stage = Literal["preconception", "pregnant"]
# how the current pregnancy was conceived, as populations name it (reasoning maps the case)
ConceptionMode = Literal[
    "natural", "iui", "fresh", "frozen", "artificial_fet", "donor_egg", "gestational_carrier"
]
CONCEPTION_MODES: tuple[str, ...] = (
    "natural",
    "iui",
    "fresh",
    "frozen",
    "artificial_fet",
    "donor_egg",
    "gestational_carrier",
)
PlanTiming = Literal["now", "before_next_pregnancy", "in_this_pregnancy", "after_this_pregnancy"]


class Strict(BaseModel):
    # built at first validation: a knowledge base from the cache (util/cache.py) never is
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Source(Strict):
    """One citable document. `verified: false` when the evidence file marks it unverified."""

    id: str
    citation: str
    year: int
    url: str | None = None
    verified: bool
    note: str | None = None


class SourceRef(Strict):
    """A pointer into a source: where (section, recommendation number) and how strong."""

    id: str
    locator: str | None = None
    strength: str | None = None
    verified: bool | None = None  # overrides the source's flag for this particular statement


class Parameter(Strict):
    """A clinical threshold or constant with its source; code reads it by name."""

    value: int | float | str | tuple[int, ...] | tuple[str, ...] | dict[str, str] | dict[str, int]
    unit: str | None = None
    source: str
    locator: str | None = None
    verified: bool = True
    note: str | None = None
    # how `{param:NAME}` writes the value into a sentence (knowledge/templates.py)
    shown_as: Literal["number", "thousands", "ga", "ga_before", "weeks", "months"] | None = None


class Timing(Strict):
    """How often a dose is taken, as FHIR Timing.repeat (frequency per period)."""

    frequency: int = Field(ge=1)
    period: float = Field(default=1, gt=0)
    period_unit: Literal["h", "d", "wk"] = "d"


class Dose(Strict):
    """A structured dose, used by the sentences (`{dose:ID}`) and by FHIR Dosage."""

    id: str
    drug: str
    medication: str  # the terminology drug it is (terminology.yaml drugs), for FHIR export
    dose: float | None = None  # None: individualised (e.g. LMWH "prophylactic dose")
    dose_high: float | None = None  # a range "75-100"
    unit: str | None = None  # UCUM (mg, ug, [iU])
    unit_text: str | None = None  # how the sentence writes the unit ("micrograms")
    dose_text: str | None = None  # wording when there is no single number
    route: Literal["oral", "vaginal", "subcutaneous"]
    timing: Timing | None = None
    frequency_text: str  # "twice daily"
    start: str
    stop: str
    stop_ga_param: str | None = None  # parameter holding the stop gestational age (days)
    source: str
    locator: str | None = None
    verified: bool = True
    note: str | None = None

    def amount(self) -> str:
        """The amount as a sentence writes it: "400 mg", "75-100 mg", "prophylactic dose"."""
        if self.dose is None:
            return self.dose_text or "dose individualised"
        n = f"{self.dose:g}" + (f"-{self.dose_high:g}" if self.dose_high is not None else "")
        unit = self.unit_text or self.unit
        return f"{n} {unit}" if unit else n

    def full(self) -> str:
        return f"{self.amount()} {self.frequency_text}".strip()


class Condition(Strict):
    """Finding logic: all of `all`, at least one of `any` (when given), none of `none`."""

    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return self.all + self.any + self.none

    def holds(self, present: frozenset[str] | set[str]) -> bool:
        return (
            all(f in present for f in self.all)
            and (not self.any or any(f in present for f in self.any))
            and not any(f in present for f in self.none)
        )


class WhenPregnant(Strict):
    """How a recommendation reads for a woman who is pregnant now (pregnancy wording/timing)."""

    text: str | None = None
    patient_text: str | None = None
    timing: PlanTiming | None = None
    urgency: Urgency | None = None


class Population(Strict):
    """Who a recommendation's evidence covers; it fires only there (issue 9 §1).

    `stage`: preconception (no current pregnancy) and/or pregnant. `ga_days`: [from, to) of the
    current pregnancy in days (only when pregnant; an unknown gestation matches a window that
    starts at 0, i.e. early pregnancy). `conception`: modes of the current pregnancy (only when
    pregnant). Omitted fields mean "any".
    """

    stage: tuple[Stage, ...] = ("preconception", "pregnant")
    ga_days: tuple[int, int] | None = None
    conception: tuple[ConceptionMode, ...] = CONCEPTION_MODES  # type: ignore[assignment]
    source: str | None = None  # source id whose population this is (e.g. promise2015)
    note: str | None = None
    # wording for a pregnant woman, for rules without their own text (rule-level wins)
    when_pregnant: WhenPregnant | None = None


class Rule(Strict):
    """One way a recommendation applies; the first rule that holds decides the status."""

    status: Status
    when: Condition
    sources: tuple[SourceRef, ...] = Field(min_length=1)
    text: str | None = None  # clinician text for this rule; defaults to the recommendation's
    patient_text: str | None = None
    prominent: bool = False  # shown as critical (e.g. the case records a not-recommended item)
    population: Population | None = None  # narrows the recommendation's population
    urgency: Urgency = "routine"
    timing: PlanTiming | None = None
    when_pregnant: WhenPregnant | None = None
    # structured doses (doses.yaml ids) this rule prescribes; None: the recommendation's
    doses: tuple[str, ...] | None = None


class Recommendation(Strict):
    id: str
    kind: Kind
    title: str
    text: str
    patient_text: str
    rules: tuple[Rule, ...] = Field(min_length=1)
    note: str | None = None
    population: Population | None = None  # set from populations.yaml at load
    # structured doses (doses.yaml ids) its rules prescribe, unless a rule names its own; FHIR
    # export writes MedicationRequest.dosageInstruction from them
    doses: tuple[str, ...] = ()

    def rule_doses(self, index: int) -> tuple[str, ...]:
        """The dose ids the rule at `index` prescribes."""
        own = self.rules[index].doses
        return self.doses if own is None else own


class Conflict(Strict):
    """Two recommendation states that must never be in one plan (checked at load and by a
    property test over generated cases). A side is `id` or `id:status`."""

    between: tuple[str, str]
    why: str
    source: str | None = None


class FindingDef(Strict):
    """A named fact code may compute; `reported` findings are shown to clinicians."""

    id: str
    text: str
    reported: bool = True
    sources: tuple[SourceRef, ...] = ()
    # what code writes when it adds the finding: variant -> template ("default" when one)
    sentences: dict[str, str] = Field(default_factory=dict)
