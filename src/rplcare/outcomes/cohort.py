"""A synthetic clinic: seeded patients whose true outcome rates are known.

Used by the tests (figures checked against counts kept here), the benchmark (100,000 patients)
and the demo store of `make run`. Every case is a valid `rplcare.case/1` file; each patient is
a list of versions (first assessment, then one version per pregnancy news) with the clinician
who wrote the first one. The truth kept beside each patient is what the registry must find.

Not clinical data: the true live-birth probability is the Brigham 1999 expectation times a
fixed factor per cause (`TRUE_FACTOR`), a made-up clinic that does a little better or worse.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rplcare.pregnancy.gestation import format_ga

CLINICIANS = ("dr_ahmed", "dr_brown", "dr_chen", "dr_diaz")
CAUSES = ("APS", "thyroid", "uterine", "parental karyotype", "unexplained", "none")
CAUSE_WEIGHTS = (0.12, 0.12, 0.10, 0.06, 0.45, 0.15)
TRUE_FACTOR = {  # made up: true P(live birth) = Brigham expectation × factor (capped at 0.95)
    "APS": 0.95,
    "thyroid": 1.0,
    "uterine": 0.9,
    "parental karyotype": 0.8,
    "unexplained": 1.05,
    "none": 1.0,
}
P_CONCEIVE = 0.85
P_SECOND = 0.6  # another pregnancy after a next pregnancy that was not a live birth
LOSS_MIX = (("miscarriage", 0.80), ("ectopic", 0.06), ("biochemical", 0.06), ("molar", 0.02))
LOSS_MIX += (("termination", 0.03), ("stillbirth", 0.03))


@dataclass
class Pregnancy:
    outcome: str  # as recorded, or "pending" when none was (lost to follow-up: by due date)
    start: date
    end: date | None
    ga_days: int | None
    treatments: list[str] = field(default_factory=list)


@dataclass
class Patient:
    case_id: str
    clinician: str
    index_date: date
    age: int
    prior_miscarriages: int
    cause: str
    p_true: float
    pregnancies: list[Pregnancy]
    versions: list[dict[str, Any]]


def _normal_workup(day: date) -> list[dict[str, Any]]:
    d = day.isoformat()
    return [
        {"test": "lupus_anticoagulant", "value": "negative", "date": d},
        {"test": "anticardiolipin_igg", "value": 3, "unit": "GPL", "date": d},
        {"test": "anticardiolipin_igm", "value": 2, "unit": "MPL", "date": d},
        {"test": "tsh", "value": 2.1, "unit": "mIU/L", "date": d},
        {"test": "tpo_antibodies", "value": "negative", "date": d},
        {"test": "uterine_imaging", "method": "3d_ultrasound", "finding": "normal", "date": d},
    ]


def _results(cause: str, index: date) -> list[dict[str, Any]]:
    early = index - timedelta(days=120)
    d = early.isoformat()
    if cause == "none":
        return []
    res = _normal_workup(early)
    if cause == "APS":
        res[0] = {"test": "lupus_anticoagulant", "value": "positive", "date": d}
        later = (early + timedelta(days=98)).isoformat()
        res.append({"test": "lupus_anticoagulant", "value": "positive", "date": later})
    elif cause == "thyroid":
        res[3] = {"test": "tsh", "value": 6.3, "unit": "mIU/L", "date": d}
        res.append(
            {
                "test": "free_t4",
                "value": 13.2,
                "unit": "pmol/L",
                "reference_low": 10,
                "reference_high": 22,
                "date": d,
            }
        )
    elif cause == "uterine":
        res[5] = {
            "test": "uterine_imaging",
            "method": "3d_ultrasound",
            "finding": "septate_uterus",
            "date": d,
        }
    elif cause == "parental karyotype":
        res.append({"test": "karyotype_female", "value": "46,XX", "date": d})
        res.append({"test": "karyotype_male", "value": "46,XY,t(11;22)(q23;q11.2)", "date": d})
    return res


def _brigham(age: int, n: int) -> float | None:
    from rplcare.outcomes.facts import brigham_expected

    return brigham_expected(age, n)


def _pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    r, acc = rng.random(), 0.0
    for name, w in mix:
        acc += w
        if r < acc:
            return name
    return mix[-1][0]


def _ga_for(rng: random.Random, outcome: str) -> int | None:
    if outcome == "live_birth":
        return rng.randint(37 * 7, 41 * 7)
    if outcome == "miscarriage":
        return rng.randint(6 * 7, 13 * 7)
    if outcome == "stillbirth":
        return rng.randint(24 * 7, 32 * 7)
    if outcome == "termination":
        return rng.randint(8 * 7, 20 * 7)
    return None  # ectopic, molar, biochemical: no GA recorded


def patient(
    rng: random.Random, i: int, today: date, years: tuple[int, int], prefix: str = "synth"
) -> Patient:
    """One synthetic patient with her versions (first assessment, then pregnancy news)."""
    first_day = date(years[0], 1, 1)
    span = (date(years[1], 12, 31) - first_day).days
    index = first_day + timedelta(days=rng.randrange(span))
    age = rng.randint(24, 46)
    born = date(index.year - age, 1, 1) + timedelta(days=rng.randrange(1, 300))
    if (born.month, born.day) == (2, 29):
        born += timedelta(days=1)
    if (index.month, index.day) < (born.month, born.day):
        born = born.replace(year=born.year - 1)
    cause = rng.choices(CAUSES, CAUSE_WEIGHTS)[0]
    n_prior = rng.choices((2, 3, 4, 5, 6), (0.40, 0.30, 0.15, 0.10, 0.05))[0]
    if cause == "APS":
        n_prior = max(n_prior, 3)  # Sydney 2006 clinical criterion: three early losses
    history = []
    day = index - timedelta(days=60)
    for _k in range(n_prior):
        ga = rng.randint(6 * 7, 9 * 7 + 6)
        history.append({"outcome": "miscarriage", "ga": format_ga(ga), "date": day.isoformat()})
        day -= timedelta(days=rng.randint(120, 400))
    history.reverse()
    clinician = CLINICIANS[rng.randrange(len(CLINICIANS))]
    brig = _brigham(age, n_prior)
    p_true = min(0.95, (brig if brig is not None else 0.6) * TRUE_FACTOR[cause])
    base: dict[str, Any] = {
        "format": "rplcare.case/1",
        "id": f"{prefix}-{i:06d}",
        "assessed_on": index.isoformat(),
        "patient": {"birth_date": born.isoformat(), "bmi": 22.0, "smoking": False},
        "pregnancies": history,
        "results": _results(cause, index),
    }
    versions = [base]
    pregnancies: list[Pregnancy] = []
    start = index + timedelta(days=rng.randint(20, 500))
    conceive = rng.random() < P_CONCEIVE
    while conceive and start < today:
        treatments = ["vaginal_progesterone"] if rng.random() < 0.5 else []
        if cause == "APS":
            treatments += ["low_dose_aspirin", "lmwh"]
        outcome = "live_birth" if rng.random() < p_true else _pick(rng, LOSS_MIX)
        ga = _ga_for(rng, outcome)
        length = ga if ga is not None else rng.randint(42, 70)
        end = start + timedelta(days=length)
        prev = versions[-1]
        if end > today:  # still pregnant: the latest record is a visit in the pregnancy
            seen = min(today, start + timedelta(days=rng.randint(42, 90)))
            cur = {"lmp": start.isoformat()}
            if treatments:
                cur["treatments"] = treatments
            versions.append({**prev, "assessed_on": seen.isoformat(), "current_pregnancy": cur})
            pregnancies.append(Pregnancy("pending", start, None, (seen - start).days, treatments))
            break
        lost = rng.random() < 0.05  # lost to follow-up: last seen early in the pregnancy
        seen = min(start + timedelta(days=rng.randint(42, 63)), end - timedelta(days=1), today)
        cur = {"lmp": start.isoformat()}
        if treatments:
            cur["treatments"] = treatments
        versions.append({**prev, "assessed_on": seen.isoformat(), "current_pregnancy": cur})
        if lost:
            pregnancies.append(Pregnancy("pending", start, None, (seen - start).days, treatments))
            break
        past = {"outcome": outcome, "date": end.isoformat()}
        if ga is not None:
            past["ga"] = format_ga(ga)
        nxt = {
            k: v for k, v in versions[-1].items() if k not in ("current_pregnancy", "assessed_on")
        }
        nxt["pregnancies"] = [*versions[-1]["pregnancies"], past]
        nxt["assessed_on"] = end.isoformat()
        versions.append(nxt)
        pregnancies.append(Pregnancy(outcome, start, end, ga, treatments))
        if outcome == "live_birth" or rng.random() >= P_SECOND:
            break
        start = end + timedelta(days=rng.randint(60, 300))
    return Patient(
        case_id=base["id"],
        clinician=clinician,
        index_date=index,
        age=age,
        prior_miscarriages=n_prior,
        cause=cause,
        p_true=p_true,
        pregnancies=pregnancies,
        versions=versions,
    )


def cohort(
    n: int,
    seed: int = 13,
    today: date = date(2026, 11, 23),
    years: tuple[int, int] = (2019, 2025),
    prefix: str = "synth",
) -> list[Patient]:
    rng = random.Random(seed)
    return [patient(rng, i, today, years, prefix) for i in range(n)]


DEMO_PATIENTS = 200


def load_demo(store: Any, n: int = DEMO_PATIENTS, today: date | None = None) -> int:
    """The demo clinic of `make run`: `n` synthetic patients (ids demo-…) over the last 7 years."""
    today = today or date.today()
    years = (today.year - 7, today.year - 1)
    load(store, cohort(n, seed=13, today=today, years=years, prefix="demo"))
    return n


def load(store: Any, patients: list[Patient]) -> None:
    """Write the patients through the repository (users per clinician; one version per news)."""
    from rplcare.store import repository as repo
    from rplcare.store.models import User

    with store.write() as s:
        users = {}
        for name in CLINICIANS:
            found = s.query(User).filter_by(name=name).one_or_none()
            users[name] = found or repo.create_user(s, name, "clinician")
        for p in patients:
            repo.create_case(s, p.versions[0], users[p.clinician])
            for v in p.versions[1:]:
                repo.update_case(s, p.case_id, v, users[p.clinician])
