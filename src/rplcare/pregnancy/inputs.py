"""Inputs of the early-pregnancy calculators, already validated and in canonical units.

`None` always means "not recorded": the calculators never read a missing finding as normal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class HcgSample:
    """One serum hCG in IU/L (= mIU/mL); naive datetime, midnight when only the date is known."""

    at: datetime
    value_iu_l: float
    index: int | None = None  # position in the case's `results`, for evidence paths


@dataclass(frozen=True)
class ScanInput:
    """One transvaginal scan of the current pregnancy; sizes in mm."""

    date: date
    location: str | None  # intrauterine | ectopic | unknown
    msd_mm: float | None
    yolk_sac: bool | None
    embryo: bool | None
    crl_mm: float | None
    heartbeat: bool | None
    cervical_length_mm: float | None
    index: int | None = None  # position in `current_pregnancy.scans`
    amnion_empty: bool | None = None  # amnion seen next to the yolk sac, no embryo
    yolk_sac_diameter_mm: float | None = None


@dataclass(frozen=True)
class PastLoss:
    """What the luteal `article` policy needs from the obstetric history."""

    last_loss_ga_days: int | None
    any_second_trimester_loss: bool


def has_time(at: datetime) -> bool:
    """True when a sample carries a clock time (a date-only sample is stored as midnight)."""
    return (at.hour, at.minute, at.second, at.microsecond) != (0, 0, 0, 0)


def iso_moment(at: datetime) -> str:
    """ISO date for date-only samples, ISO datetime (minutes) when a time was given."""
    if not has_time(at):
        return at.date().isoformat()
    spec = "minutes" if at.second == 0 and at.microsecond == 0 else "seconds"
    return at.isoformat(timespec=spec)
