"""Whole-record checks of a case (issue 9 §3): contradictions between fields that each look
valid alone. Every problem is returned at once with its field path; plausible-but-odd values
become warnings that carry a path too.

Run by `Case` after its fields validate, and by `case.salvage` on the parts of a case that did
validate when some field did not (a `Record` holds those parts, each list item with its index in
the case file). A part or field that failed is absent from the `Record`, so every check here
must read absence as "nothing to compare" (a check fires only on values present), never as a
contradiction: the checks are then sound on any subset of the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from rplcare.pregnancy.gestation import format_ga

if TYPE_CHECKING:
    from rplcare.case.model import (
        Case,
        CurrentPregnancy,
        Partner,
        PastPregnancy,
        Patient,
        Result,
        Scan,
    )

ART_CONCEPTIONS = ("ivf", "icsi", "frozen_transfer", "donor_egg")
NON_ART = ("natural", "iui")
QUALITATIVE_CODES_SKIP = ("uterine_imaging",)


def _param(name: str) -> Any:
    from rplcare.knowledge import get_kb

    return get_kb().param(name)


def _normal_iscn(k: str) -> str:
    return k.replace(" ", "").lower()


@dataclass
class Record:
    """The parts of a case the whole-record checks read. Lists hold (index in the case file,
    item) for the items that validated; `patient`, `partner` and `current_pregnancy` are None
    when absent or unreadable (a field of theirs that failed is left out of them)."""

    assessed_on: date | None = None
    patient: Patient | None = None
    partner: Partner | None = None
    pregnancies: list[tuple[int, PastPregnancy]] = field(default_factory=list)
    results: list[tuple[int, Result]] = field(default_factory=list)
    current_pregnancy: CurrentPregnancy | None = None
    scans: list[tuple[int, Scan]] = field(default_factory=list)

    @classmethod
    def of(cls, case: Case) -> Record:
        cp = case.current_pregnancy
        return cls(
            assessed_on=case.assessed_on,
            patient=case.patient,
            partner=case.partner,
            pregnancies=list(enumerate(case.pregnancies)),
            results=list(enumerate(case.results)),
            current_pregnancy=cp,
            scans=list(enumerate(cp.scans)) if cp is not None else [],
        )


def check_record(
    case: Case | Record,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(problems, warnings) of the whole record, both as (path, message) pairs."""
    from rplcare.case.model import Case

    rec = Record.of(case) if isinstance(case, Case) else case
    problems: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    _past_pregnancies(rec, problems)
    _current(rec, problems, warnings)
    _results(rec, problems)
    _karyotypes(rec, problems)
    _odd(rec, warnings)
    return problems, warnings


def _past_pregnancies(case: Record, problems: list[tuple[str, str]]) -> None:
    min_ga = _param("record.min_loss_ga_days")
    live_min = _param("record.live_birth_min_ga_days")
    for i, p in case.pregnancies:
        path = f"pregnancies[{i}].ga"
        if p.ga is not None and p.ga < min_ga:
            problems.append(
                (
                    path,
                    f"{format_ga(p.ga)}: a pregnancy cannot end at {format_ga(p.ga)} "
                    f"(before {format_ga(min_ga)}); give the gestational age at the loss",
                )
            )
        if p.outcome == "live_birth" and p.ga is not None and min_ga <= p.ga < live_min:
            problems.append(
                (
                    path,
                    f"{format_ga(p.ga)}: a live birth before {format_ga(live_min)} contradicts "
                    "viability; record a loss at this gestation as 'miscarriage'",
                )
            )
        if p.outcome == "live_birth":
            _birth_dating(i, p, problems)
        cp = case.current_pregnancy
        if cp is not None and cp.lmp is not None and p.date is not None and p.date > cp.lmp:
            problems.append(
                (
                    f"pregnancies[{i}].date",
                    f"{p.date} is after the current pregnancy's LMP ({cp.lmp}): dates out of order",
                )
            )


def _birth_dating(i: int, p: Any, problems: list[tuple[str, str]]) -> None:
    """A live birth whose recorded GA contradicts its own dates (birth date - LMP) by more
    than the knowledge base's tolerance (the widest ACOG CO 700 redating band)."""
    if p.lmp is None or p.date is None:
        return
    by_dates = (p.date - p.lmp).days
    if by_dates < 0:
        problems.append(
            (
                f"pregnancies[{i}].lmp",
                f"{p.lmp} is after the birth date ({p.date}): dates out of order",
            )
        )
        return
    if p.ga is None:
        return
    tolerance = _param("record.birth_ga_dating_tolerance_days")
    if abs(p.ga - by_dates) > tolerance:
        problems.append(
            (
                f"pregnancies[{i}].ga",
                f"{format_ga(p.ga)} contradicts the dates: born {p.date} with LMP {p.lmp} is "
                f"{format_ga(by_dates)} (more than {tolerance} days apart); correct the GA, "
                "the birth date or the LMP",
            )
        )


def _current(
    case: Record, problems: list[tuple[str, str]], warnings: list[tuple[str, str]]
) -> None:
    cp = case.current_pregnancy
    if cp is None:
        return
    art_fields = [
        f for f in ("transfer_date", "embryo_age_days", "endometrial_preparation") if getattr(cp, f)
    ]
    if cp.conception in NON_ART and art_fields:
        for f in art_fields:
            problems.append(
                (
                    f"current_pregnancy.{f}",
                    f"given although conception is {cp.conception!r}: an embryo transfer field "
                    f"contradicts the conception mode (allowed with: {', '.join(ART_CONCEPTIONS)})",
                )
            )
    if cp.endometrial_preparation is not None and cp.conception not in (
        None,
        "frozen_transfer",
        *NON_ART,
    ):
        problems.append(
            (
                "current_pregnancy.endometrial_preparation",
                f"given although conception is {cp.conception!r}: endometrial preparation "
                "belongs to a frozen transfer (conception: frozen_transfer)",
            )
        )
    if cp.conception in ART_CONCEPTIONS and cp.transfer_date is None:
        warnings.append(
            (
                "current_pregnancy.transfer_date",
                f"missing for conception {cp.conception!r}; "
                "the pregnancy is dated from the LMP or the CRL instead",
            )
        )
    for i, s in case.scans:
        if cp.lmp is not None and s.date < cp.lmp:
            problems.append(
                (
                    f"current_pregnancy.scans[{i}].date",
                    f"{s.date} is before the LMP ({cp.lmp}): dates out of order",
                )
            )
        shows = s.location in ("intrauterine", "ectopic") or s.embryo or s.heartbeat
        if cp.transfer_date is not None and shows and s.date < cp.transfer_date:
            problems.append(
                (
                    "current_pregnancy.transfer_date",
                    f"{cp.transfer_date} is after the scan of {s.date} "
                    f"(current_pregnancy.scans[{i}]) that shows the pregnancy: dates out of order",
                )
            )
    if cp.lmp is not None and cp.transfer_date is not None and cp.transfer_date < cp.lmp:
        problems.append(
            (
                "current_pregnancy.transfer_date",
                f"{cp.transfer_date} is before the LMP ({cp.lmp}): dates out of order",
            )
        )


def _results(case: Record, problems: list[tuple[str, str]]) -> None:
    """Two results of the same test on the same day that disagree (qualitative or karyotype)."""
    seen: dict[tuple[str, Any], tuple[int, str]] = {}
    by_index = dict(case.results)
    for i, r in case.results:
        if r.code in QUALITATIVE_CODES_SKIP:
            continue
        if r.qualitative is not None:
            value = r.qualitative
        elif isinstance(r.value, str):
            value = _normal_iscn(r.value)
        else:
            continue
        key = (r.code, r.day)
        if key in seen and seen[key][1] != value:
            j = seen[key][0]
            problems.append(
                (
                    f"results[{i}].value",
                    f"{r.value!r} disagrees with results[{j}] ({by_index[j].value!r}), "
                    f"the same test ({r.code}) on the same day ({r.day})",
                )
            )
        seen.setdefault(key, (i, value))


def _karyotypes(case: Record, problems: list[tuple[str, str]]) -> None:
    if case.partner is None or not case.partner.karyotype:
        return
    for i, r in case.results:
        if (
            r.code == "karyotype_male"
            and isinstance(r.value, str)
            and _normal_iscn(r.value) != _normal_iscn(case.partner.karyotype)
        ):
            problems.append(
                (
                    "partner.karyotype",
                    f"{case.partner.karyotype!r} contradicts results[{i}] ({r.value!r}), the "
                    "genetic father's karyotype; keep one (an abnormal result is never "
                    "dropped silently)",
                )
            )


def _odd(case: Record, warnings: list[tuple[str, str]]) -> None:
    if case.patient is None:
        return
    lo, hi = _param("record.bmi_plausible_low"), _param("record.bmi_plausible_high")
    if case.patient.bmi is not None and not lo <= case.patient.bmi <= hi:
        warnings.append(
            ("patient.bmi", f"{case.patient.bmi:g} is outside {lo:g}-{hi:g}; check the value")
        )
    age = case.patient.age_on(case.assessed_on) if case.assessed_on else case.patient.age_years
    lo_age, hi_age = _param("record.age_plausible_low"), _param("record.age_plausible_high")
    if age is not None and not lo_age <= age <= hi_age:
        at = "patient.birth_date" if case.patient.birth_date else "patient.age_years"
        warnings.append((at, f"age {age} is unusual for this clinic; check it"))
