"""The registry figures: SQL aggregates over the outcome facts, then intervals in Python.

Every figure is a `rate` object — numerator, denominator (and what it counts), rate, Wilson 95 %
interval, and `too_few` under 10 — so no number leaves without its denominator. The queries are
SQLAlchemy Core and run unchanged on SQLite and PostgreSQL; only counts and sums come back.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from rplcare.outcomes import stats
from rplcare.outcomes.facts import NO_CAUSE, NO_TREATMENT, NOT_ASSESSED, OUTCOMES
from rplcare.store.models import OutcomePatient, OutcomeTag

FORMAT = "rplcare.outcomes/1"
BREAKDOWNS = ("cause", "age", "losses", "treatment", "year", "clinician")
DISJOINT = ("age", "losses", "year", "clinician")  # cause and treatment groups overlap
AGE_CUTS = (35, 38, 41, 43)  # SART bands: <35, 35–37, 38–40, 41–42, >42
LOSS_GROUPS = ("0–1", "2", "3", "4", "≥5")
LOST_AFTER_DAYS = 90  # a pending pregnancy with no record this long after its due date is lost
TOO_FEW = 10
O_E_METHOD = (
    "indirect standardisation: expected = sum of each patient's Brigham 1999 probability "
    "(age × prior miscarriages) over patients whose next pregnancy has an outcome; 95 % "
    "interval = exact Poisson (Garwood) interval of the observed count, divided by expected"
)


@dataclass
class Options:
    by: str | None = None
    since: date | None = None
    until: date | None = None
    today: date | None = None
    lost_after_days: int = LOST_AFTER_DAYS
    age_cuts: Sequence[int] = AGE_CUTS
    claim: float | None = None
    clinician: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def age_labels(cuts: Sequence[int]) -> list[str]:
    cuts = list(cuts)
    out = [f"<{cuts[0]}"]
    out += [f"{a}–{b - 1}" if b - 1 > a else f"{a}" for a, b in itertools.pairwise(cuts)]
    out.append(f">{cuts[-1] - 1}")
    return out


def rate(x: int, n: int, denominator_is: str) -> dict[str, Any]:
    ci = stats.wilson(x, n)
    return {
        "numerator": x,
        "denominator": n,
        "denominator_is": denominator_is,
        "rate": x / n if n else None,
        "ci95": list(ci) if ci else None,
        "too_few": n < TOO_FEW,
    }


def _group_expr(by: str | None, opts: Options) -> Any:
    P = OutcomePatient
    if by is None:
        return None
    if by == "age":
        labels = age_labels(opts.age_cuts)
        whens = [(P.age.is_(None), "age not recorded")]
        whens += [(P.age < c, lab) for c, lab in zip(opts.age_cuts, labels, strict=False)]
        return case(*whens, else_=labels[-1])
    if by == "losses":
        return case(
            (P.prior_losses < 2, "0–1"),
            (P.prior_losses == 2, "2"),
            (P.prior_losses == 3, "3"),
            (P.prior_losses == 4, "4"),
            else_="≥5",
        )
    if by == "year":
        return cast(P.index_year, String)
    if by == "clinician":
        return P.clinician
    if by in ("cause", "treatment"):
        return OutcomeTag.value
    raise ValueError(f"--by {by!r} is not one of {', '.join(BREAKDOWNS)}")


def _where(opts: Options) -> list[Any]:
    P = OutcomePatient
    out = []
    if opts.since is not None:
        out.append(P.index_date >= opts.since)
    if opts.until is not None:
        out.append(P.index_date <= opts.until)
    if opts.clinician:
        out.append(P.clinician == opts.clinician)
    return out


def _n(value: Any) -> int:
    return int(value or 0)


def _count_if(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _rows(s: Session, by: str | None, opts: Options, cutoff: date) -> dict[Any, dict]:
    """One scan of outcome_patients (joined to the tags for cause / treatment)."""
    P = OutcomePatient
    g = _group_expr(by, opts)
    has_next = P.next_outcome.is_not(None)
    pending = P.next_outcome == "pending"
    resolved = and_(has_next, P.next_outcome != "pending")
    in_oe = and_(resolved, P.expected.is_not(None))
    cols = [
        func.count().label("patients"),
        _count_if(P.live_births > 0).label("lb_patients"),
        _count_if(P.pregnancies == 0).label("never"),
        _count_if(has_next).label("next_total"),
        _count_if(P.next_outcome == "live_birth").label("next_lb"),
        _count_if(resolved).label("next_resolved"),
        _count_if(and_(pending, P.next_due >= cutoff)).label("next_pending"),
        _count_if(and_(pending, P.next_due < cutoff)).label("next_lost"),
        _count_if(P.next_reached_12 == 1).label("r12"),
        _count_if(or_(resolved, P.next_reached_12 == 1)).label("k12"),
        _count_if(P.next_reached_24 == 1).label("r24"),
        _count_if(or_(resolved, P.next_reached_24 == 1)).label("k24"),
        _count_if(in_oe).label("oe_n"),
        _count_if(and_(in_oe, P.next_outcome == "live_birth")).label("oe_obs"),
        func.coalesce(func.sum(case((in_oe, P.expected), else_=None)), 0.0).label("oe_exp"),
        _count_if(and_(resolved, P.expected.is_(None))).label("oe_left_out"),
        func.coalesce(func.sum(P.live_births), 0).label("all_lb"),
        func.coalesce(func.sum(P.resolved), 0).label("all_resolved"),
    ]
    q = select(*(([g.label("grp")] if g is not None else []) + cols)).select_from(P)
    if by in ("cause", "treatment"):
        q = q.join(OutcomeTag, and_(OutcomeTag.case_id == P.case_id, OutcomeTag.dimension == by))
    q = q.where(*_where(opts))
    if g is not None:
        q = q.group_by(g)
    out = {}
    for row in s.execute(q).mappings():
        key = row["grp"] if g is not None else None
        out[key] = {k: row[k] for k in row if k != "grp"}
    return out


def _next_outcomes(s: Session, opts: Options, cutoff: date) -> dict[str, int]:
    P = OutcomePatient
    label = case(
        (and_(P.next_outcome == "pending", P.next_due < cutoff), "lost_to_follow_up"),
        else_=P.next_outcome,
    )
    q = (
        select(label.label("o"), func.count().label("n"))
        .where(P.next_outcome.is_not(None), *_where(opts))
        .group_by(label)
    )
    found = {row.o: int(row.n) for row in s.execute(q)}
    return {o: found.get(o, 0) for o in (*OUTCOMES, "lost_to_follow_up")}


def _figures(p: dict[str, Any]) -> dict[str, Any]:
    patients = _n(p.get("patients"))
    next_total = _n(p.get("next_total"))
    oe_exp = float(p.get("oe_exp") or 0.0)
    oe_obs = _n(p.get("oe_obs"))
    return {
        "patients": patients,
        "never_conceived": _n(p.get("never")),
        "live_birth_per_patient": rate(
            _n(p.get("lb_patients")),
            patients,
            "patients from their first assessment (any live birth after it)",
        ),
        "live_birth_next_pregnancy": rate(
            _n(p.get("next_lb")),
            _n(p.get("next_resolved")),
            "next pregnancies with a recorded outcome (pending and lost to follow-up left out)",
        ),
        "live_birth_all_pregnancies": rate(
            _n(p.get("all_lb")),
            _n(p.get("all_resolved")),
            "all subsequent pregnancies with a recorded outcome",
        ),
        "ongoing_12_next_pregnancy": rate(
            _n(p.get("r12")),
            _n(p.get("k12")),
            "next pregnancies known to have reached 12+0 or ended",
        ),
        "ongoing_24_next_pregnancy": rate(
            _n(p.get("r24")),
            _n(p.get("k24")),
            "next pregnancies known to have reached 24+0 or ended",
        ),
        "pending": rate(
            _n(p.get("next_pending")),
            next_total,
            "next pregnancies (still pregnant, or no outcome recorded yet)",
        ),
        "lost_to_follow_up": rate(
            _n(p.get("next_lost")),
            next_total,
            "next pregnancies (no outcome recorded by the due date + the follow-up window)",
        ),
        "expected": {
            "model": "brigham1999",
            "patients": _n(p.get("oe_n")),
            "observed_live_births": oe_obs,
            "expected_live_births": round(oe_exp, 6),
            "left_out": _n(p.get("oe_left_out")),
            "left_out_is": "patients with a next-pregnancy outcome but outside the Brigham "
            "model (age 20–45, 2–5 prior miscarriages) or age not recorded",
        },
        "o_e": stats.o_e(oe_obs, oe_exp) or {"value": None, "ci95": None},
        "too_few": patients < TOO_FEW,
    }


def claim_check(x: int, n: int, claim: float) -> dict[str, Any]:
    """Is x/n consistent with a claimed success rate? Interval + one-sided exact binomial."""
    ci = stats.wilson(x, n)
    out: dict[str, Any] = {"claim": claim, "numerator": x, "denominator": n}
    if n < TOO_FEW:
        out.update(
            verdict="too_few",
            p_value=None,
            words=f"Too few to say: {n} next pregnancies with an outcome (fewer than {TOO_FEW}).",
        )
        return out
    assert ci is not None
    p_low = stats.binomial_p_lower(x, n, claim)
    low, high = ci
    pct = f"{100 * x / n:.1f} %"
    interval = f"95 % CI {100 * low:.1f}–{100 * high:.1f} %"
    head = (
        f"Claimed {100 * claim:.0f} % live births. Observed {x} of {n} next pregnancies with an "
        f"outcome: {pct} ({interval})."
    )
    if x / n >= claim:
        verdict = "consistent"
        words = (
            f"{head} The observed rate is at or above the claim, so these records are "
            f"consistent with it (one-sided exact binomial p = {p_low:.3g} for a rate below "
            "the claim)."
        )
    elif p_low < 0.05:
        verdict = "not_supported"
        words = (
            f"{head} If the true rate were {100 * claim:.0f} %, a result this low or lower "
            f"would happen with probability {p_low:.3g} (one-sided exact binomial). "
            "These records do not support the claim."
        )
    else:
        verdict = "consistent"
        words = (
            f"{head} That is below the claim, but a result this low would happen with "
            f"probability {p_low:.3g} if the true rate were {100 * claim:.0f} % "
            "(one-sided exact binomial), so these records are consistent with the claim; "
            "they do not prove it."
        )
    out.update(
        verdict=verdict,
        p_value=p_low,
        ci95=[low, high],
        claim_inside_ci=low <= claim <= high,
        test="one-sided exact binomial, H0: rate = claim, H1: rate < claim",
        words=words,
    )
    return out


def _order(by: str, keys: list[Any], opts: Options) -> list[Any]:
    if by == "age":
        labels = [*age_labels(opts.age_cuts), "age not recorded"]
        return sorted(keys, key=lambda k: labels.index(k) if k in labels else 99)
    if by == "losses":
        return sorted(keys, key=lambda k: LOSS_GROUPS.index(k) if k in LOSS_GROUPS else 99)
    tail = {NO_CAUSE, NO_TREATMENT, NOT_ASSESSED, "not recorded"}
    return sorted(keys, key=lambda k: (k in tail, str(k)))


def compute(s: Session, opts: Options | None = None) -> dict[str, Any]:
    """The registry report (see docs/outcomes.md for every definition)."""
    opts = opts or Options()
    if opts.by is not None and opts.by not in BREAKDOWNS:
        raise ValueError(f"--by {opts.by!r} is not one of {', '.join(BREAKDOWNS)}")
    today = opts.today or date.today()
    cutoff = today - timedelta(days=opts.lost_after_days)
    grouped = _rows(s, opts.by, opts, cutoff) if opts.by else {}
    if opts.by in DISJOINT and grouped:  # each patient in one group: the overall is the sum
        overall = {
            k: sum(g[k] or 0 for g in grouped.values()) for k in next(iter(grouped.values()))
        }
    else:
        overall = _rows(s, None, opts, cutoff).get(None, {})
    report: dict[str, Any] = {
        "format": FORMAT,
        "as_of": today.isoformat(),
        "since": opts.since.isoformat() if opts.since else None,
        "until": opts.until.isoformat() if opts.until else None,
        "lost_after_days": opts.lost_after_days,
        **_figures(overall),
        "next_pregnancy_outcomes": _next_outcomes(s, opts, cutoff),
        "o_e_method": O_E_METHOD,
        "interval_method": "Wilson score interval, 95 %",
        "by": opts.by,
        "breakdown": [],
        "leaves_out": [
            "pregnancies that ended on or before the first assessment (they are the history)",
            "past pregnancies with neither a date nor a year",
            "pending and lost-to-follow-up pregnancies from the per-pregnancy denominators "
            "(counted and shown separately)",
        ],
    }
    if opts.by:
        for key in _order(opts.by, list(grouped), opts):
            report["breakdown"].append({"group": str(key), **_figures(grouped[key])})
        if opts.by in ("cause", "treatment"):
            report["leaves_out"].append(
                f"no patient, but the groups overlap: one with several {opts.by}s is in each"
            )
    if opts.claim is not None:
        lb = report["live_birth_next_pregnancy"]
        report["claim"] = claim_check(lb["numerator"], lb["denominator"], opts.claim)
    return report


# --- faces ----------------------------------------------------------------------------------


def _fmt_rate(r: dict[str, Any]) -> str:
    if not r["denominator"]:
        return "0/0 (no denominator)"
    lo, hi = r["ci95"]
    text = (
        f"{r['numerator']}/{r['denominator']} = {100 * r['rate']:.1f} % "
        f"(95 % CI {100 * lo:.1f}–{100 * hi:.1f})"
    )
    return text + ("  too few to say" if r["too_few"] else "")


def _fmt_oe(fig: dict[str, Any]) -> str:
    oe, ex = fig["o_e"], fig["expected"]
    if oe["value"] is None:
        return "no expected live births (no patient inside the Brigham model)"
    lo, hi = oe["ci95"]
    return (
        f"{oe['value']:.2f} (95 % CI {lo:.2f}–{hi:.2f}); observed "
        f"{ex['observed_live_births']} / expected {ex['expected_live_births']:.1f} "
        f"over {ex['patients']} patients, {ex['left_out']} outside the model"
    )


ROWS = (
    ("live_birth_per_patient", "Live birth per patient"),
    ("live_birth_next_pregnancy", "Live birth, next pregnancy"),
    ("live_birth_all_pregnancies", "Live birth, all subsequent pregnancies"),
    ("ongoing_12_next_pregnancy", "Next pregnancy ongoing past 12+0"),
    ("ongoing_24_next_pregnancy", "Next pregnancy ongoing past 24+0"),
    ("pending", "Next pregnancy pending"),
    ("lost_to_follow_up", "Next pregnancy lost to follow-up"),
)


def to_text(report: dict[str, Any]) -> str:
    lines = [
        f"Outcomes registry as of {report['as_of']}"
        + (f", episodes from {report['since']}" if report["since"] else ""),
        f"Patients: {report['patients']} (never conceived since: {report['never_conceived']})",
    ]
    if report["too_few"]:
        lines.append(f"Too few to say: fewer than {TOO_FEW} patients.")
    for key, label in ROWS:
        lines.append(f"  {label}: {_fmt_rate(report[key])}")
        lines.append(f"      denominator: {report[key]['denominator_is']}")
    lines.append(f"  Observed / expected (Brigham 1999): {_fmt_oe(report)}")
    lines.append(f"      method: {report['o_e_method']}")
    outs = ", ".join(f"{k} {v}" for k, v in report["next_pregnancy_outcomes"].items() if v)
    lines.append(f"  Next pregnancy outcomes: {outs or 'none'}")
    if report.get("claim"):
        lines.append("")
        lines.append(report["claim"]["words"])
    if report["breakdown"]:
        lines.append("")
        lines.append(f"By {report['by']}:")
        for row in report["breakdown"]:
            lines.append(
                f"  {row['group']}: {row['patients']} patients"
                + ("  too few to say" if row["too_few"] else "")
            )
            lines.append(f"    live birth per patient: {_fmt_rate(row['live_birth_per_patient'])}")
            lines.append(
                f"    live birth, next pregnancy: {_fmt_rate(row['live_birth_next_pregnancy'])}"
            )
            lines.append(f"    O/E: {_fmt_oe(row)}")
    lines.append("")
    lines.append("Leaves out: " + "; ".join(report["leaves_out"]) + ".")
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["group", "patients", "never_conceived"]
for _key, _label in ROWS:
    CSV_FIELDS += [f"{_key}_numerator", f"{_key}_denominator", f"{_key}_rate"]
    CSV_FIELDS += [f"{_key}_ci95_low", f"{_key}_ci95_high", f"{_key}_too_few"]
CSV_FIELDS += ["observed", "expected", "o_e", "o_e_ci95_low", "o_e_ci95_high", "too_few"]


def _csv_row(group: str, fig: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "group": group,
        "patients": fig["patients"],
        "never_conceived": fig["never_conceived"],
    }
    for key, _label in ROWS:
        r = fig[key]
        row[f"{key}_numerator"] = r["numerator"]
        row[f"{key}_denominator"] = r["denominator"]
        row[f"{key}_rate"] = "" if r["rate"] is None else f"{r['rate']:.6f}"
        row[f"{key}_ci95_low"] = "" if r["ci95"] is None else f"{r['ci95'][0]:.6f}"
        row[f"{key}_ci95_high"] = "" if r["ci95"] is None else f"{r['ci95'][1]:.6f}"
        row[f"{key}_too_few"] = r["too_few"]
    oe = fig["o_e"]
    row["observed"] = fig["expected"]["observed_live_births"]
    row["expected"] = f"{fig['expected']['expected_live_births']:.6f}"
    row["o_e"] = "" if oe["value"] is None else f"{oe['value']:.6f}"
    row["o_e_ci95_low"] = "" if oe["ci95"] is None else f"{oe['ci95'][0]:.6f}"
    row["o_e_ci95_high"] = "" if oe["ci95"] is None else f"{oe['ci95'][1]:.6f}"
    row["too_few"] = fig["too_few"]
    return row


def to_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerow(_csv_row("all", report))
    for row in report["breakdown"]:
        w.writerow(_csv_row(f"{report['by']}={row['group']}", row))
    return buf.getvalue()


def report_for(store: Any, opts: Options | None = None) -> dict[str, Any]:
    """Sync stale cases, then compute (the entry point of the CLI and the page)."""
    from rplcare.outcomes.facts import sync, up_to_date

    with store.read() as s:
        current = up_to_date(s)
    if not current:
        sync(store)
    with store.read() as s:
        return compute(s, opts)
