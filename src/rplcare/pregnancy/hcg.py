"""Serial hCG: consecutive pairs, 48-h normalised change, NICE NG126 class, minimal-rise checks.

The change is normalised to 48 h on a log-linear model (Barnhart 2004 found log hCG rises
linearly), so pairs taken at other intervals can be compared with the 48-h cut-offs; that
normalisation is our convention, which is why off-48-h pairs carry an `interval_warning`.
"""

import itertools
import math
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rplcare.knowledge import KnowledgeBase
from rplcare.pregnancy.inputs import HcgSample, ScanInput, iso_moment
from rplcare.util import empty_list

NiceClass = Literal["likely_intrauterine", "unlikely_to_continue", "review_within_24h"]

# Floating-point slack in percentage points: 1530/1000 must "meet" a 53 % limit exactly.
_EPS = 1e-6


class FallCheck(BaseModel):
    """A falling pair against the verified end-points of Barnhart 2004 (no interpolation)."""

    expected_min_fall_2d_pct: tuple[float, float]
    observed_fall_48h_pct: float
    assessment: Literal["slower_than_expected", "depends_on_initial_hcg", "as_expected"]
    text: str
    source: str = "barnhart2004-decline"


class HcgPair(BaseModel):
    """One consecutive pair (`rplcare.assessment/1` pregnancy.hcg.pairs[])."""

    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    hours: float
    from_iu_l: float
    to_iu_l: float
    change_48h_pct: float | None
    doubling_hours: float | None = None
    half_life_hours: float | None = None
    nice: NiceClass | None
    barnhart_min_rise_met: bool | None
    barnhart_min_rise_pct: float | None = None  # the Barnhart 2016 stratum limit applied
    barnhart2004_min_rise_met: bool | None = None
    morse2012_min_rise_met: bool | None = None
    expected_fall: FallCheck | None = None
    cameron2016_fall_met: bool | None = None
    interval_warning: str | None
    why: str
    sources: list[str] = Field(default_factory=empty_list)
    evidence: list[int] = Field(default_factory=empty_list)  # HcgSample.index values


class HcgBlock(BaseModel):
    pairs: list[HcgPair]


class Alert(BaseModel):
    id: str
    level: Literal["urgent", "same_day", "info"]
    text: str
    sources: list[str]


def barnhart2016_limit_pct(first_iu_l: float, *, kb: KnowledgeBase) -> float:
    """Minimal 2-day rise for a viable IUP by the pair's FIRST value (1,500 and 3,000 inclusive
    in the middle stratum)."""
    if first_iu_l < kb.param("hcg.barnhart2016_stratum_low_iu_l"):
        return float(kb.param("hcg.barnhart2016_min_rise_lt1500_pct"))
    if first_iu_l <= kb.param("hcg.barnhart2016_stratum_high_iu_l"):
        return float(kb.param("hcg.barnhart2016_min_rise_1500_3000_pct"))
    return float(kb.param("hcg.barnhart2016_min_rise_gt3000_pct"))


def _interval_warning(hours: float, kb: KnowledgeBase) -> str | None:
    nice_h = kb.param("hcg.nice_interval_h")
    far = kb.param("hcg.interval_far_max_h")
    if hours < nice_h - _EPS:
        return kb.say("hcg.interval.too_short", hours=f"{hours:g}")
    if hours > far + _EPS:
        return kb.say("hcg.interval.too_long", hours=f"{hours:g}")
    return None


def _pair(a: HcgSample, b: HcgSample, kb: KnowledgeBase) -> HcgPair:
    hours = (b.at - a.at).total_seconds() / 3600
    base: dict[str, object] = {
        "from": iso_moment(a.at),
        "to": iso_moment(b.at),
        "hours": round(hours, 2),
        "from_iu_l": a.value_iu_l,
        "to_iu_l": b.value_iu_l,
        "evidence": [i for i in (a.index, b.index) if i is not None],
    }
    if hours <= 0:
        return HcgPair(
            **base,
            change_48h_pct=None,
            nice=None,
            barnhart_min_rise_met=None,
            interval_warning=kb.say("hcg.interval.same_time"),
            why=kb.say("hcg.why.same_time"),
        )
    r = b.value_iu_l / a.value_iu_l
    pct = (r ** (kb.param("hcg.nice_interval_h") / hours) - 1) * 100
    doubling = half_life = None
    if r > 1:
        doubling = round(hours * math.log(2) / math.log(r), 1)
    elif r < 1:
        half_life = round(hours * math.log(2) / math.log(1 / r), 1)
    rise_lim, fall_lim = kb.param("hcg.nice_rise_pct"), kb.param("hcg.nice_fall_pct")
    nice: NiceClass
    if pct > rise_lim + _EPS:
        nice = "likely_intrauterine"
    elif -pct > fall_lim + _EPS:
        nice = "unlikely_to_continue"
    else:
        nice = "review_within_24h"
    nice_txt = kb.say(f"hcg.nice.{nice}")
    sources = ["nice-ng126"]
    fields: dict[str, object] = {}
    if r >= 1:
        lim16 = barnhart2016_limit_pct(a.value_iu_l, kb=kb)
        fields["barnhart_min_rise_met"] = pct >= lim16 - _EPS
        fields["barnhart_min_rise_pct"] = lim16
        fields["barnhart2004_min_rise_met"] = (
            pct >= kb.param("hcg.barnhart2004_min_rise_2d_pct") - _EPS
        )
        fields["morse2012_min_rise_met"] = pct >= kb.param("hcg.morse2012_min_rise_pct") - _EPS
        sources += ["barnhart2016", "barnhart2004-rise", "morse2012"]
    else:
        fields["barnhart_min_rise_met"] = None
        fields["expected_fall"] = _fall_check(-pct, kb)
        fields["cameron2016_fall_met"] = _cameron(hours, (1 - r) * 100, kb)
        sources += ["barnhart2004-decline", "cameron2016"]
    warning = _interval_warning(hours, kb)
    why = kb.say(
        "hcg.why.pair",
        first=f"{a.value_iu_l:g}",
        second=f"{b.value_iu_l:g}",
        hours=f"{hours:g}",
        change=f"{pct:+.1f}",
        nice=nice_txt,
    )
    return HcgPair(
        **base,
        change_48h_pct=round(pct, 1),
        doubling_hours=doubling,
        half_life_hours=half_life,
        nice=nice,
        interval_warning=warning,
        why=why,
        sources=sources,
        **fields,
    )


def _fall_check(fall_pct: float, kb: KnowledgeBase) -> FallCheck:
    lo, hi = (
        kb.param("hcg.barnhart2004_min_fall_2d_low_pct"),
        kb.param("hcg.barnhart2004_min_fall_2d_high_pct"),
    )
    assessment: Literal["slower_than_expected", "depends_on_initial_hcg", "as_expected"]
    if fall_pct < lo - _EPS:
        assessment = "slower_than_expected"
    elif fall_pct < hi - _EPS:
        assessment = "depends_on_initial_hcg"
    else:
        assessment = "as_expected"
    text = kb.say(f"hcg.fall.{assessment}", fall=f"{fall_pct:.1f}")
    return FallCheck(
        expected_min_fall_2d_pct=(lo, hi),
        observed_fall_48h_pct=round(fall_pct, 1),
        assessment=assessment,
        text=text,
    )


def _cameron(hours: float, actual_fall_pct: float, kb: KnowledgeBase) -> bool | None:
    """Cameron 2016 rule-out pattern on the actual (not normalised) fall; None when the
    pair's interval is longer than the rule's window."""
    if hours <= kb.param("hcg.cameron2016_window_4d_days") * 24 + _EPS:
        limit = kb.param("hcg.cameron2016_fall_4d_pct")
    elif hours <= kb.param("hcg.cameron2016_window_7d_days") * 24 + _EPS:
        limit = kb.param("hcg.cameron2016_fall_7d_pct")
    else:
        return None
    return bool(actual_fall_pct > limit + _EPS)


def analyse_series(samples: list[HcgSample], *, kb: KnowledgeBase) -> list[HcgPair]:
    """Every consecutive pair of the series sorted by time."""
    for s in samples:
        if not (math.isfinite(s.value_iu_l) and s.value_iu_l > 0):
            raise ValueError(f"hCG {s.value_iu_l!r} IU/L on {iso_moment(s.at)} must be > 0")
    ordered = sorted(samples, key=lambda s: s.at)
    return [_pair(a, b, kb) for a, b in itertools.pairwise(ordered)]


def hcg_block(samples: list[HcgSample], *, kb: KnowledgeBase) -> HcgBlock:
    """The `pregnancy.hcg` block: {"pairs": [...]}."""
    return HcgBlock(pairs=analyse_series(samples, kb=kb))


def _iu_sac_seen(scans: list[ScanInput]) -> bool:
    return any(s.location == "intrauterine" for s in scans)


def alerts(
    samples: list[HcgSample],
    scans: list[ScanInput],
    pain: bool,
    bleeding: bool = False,
    *,
    kb: KnowledgeBase,
) -> list[Alert]:
    """Safety alerts that need action today, whatever the hCG trend says."""
    out: list[Alert] = []
    ordered = sorted(samples, key=lambda s: s.at)
    latest = ordered[-1] if ordered else None
    ectopic = any(s.location == "ectopic" for s in scans)
    sac_seen = _iu_sac_seen(scans)
    pul = not sac_seen and not ectopic
    scan_now = kb.param("hcg.scan_now_iu_l")
    disc = kb.param("hcg.discriminatory_connolly_iu_l")
    if ectopic:
        out.append(
            Alert(
                id="alert.ectopic_on_scan",
                level="urgent",
                text=kb.say("alert.ectopic_on_scan"),
                sources=["nice-ng126"],
            )
        )
    if latest is not None and latest.value_iu_l >= scan_now and not sac_seen and not ectopic:
        out.append(
            Alert(
                id="alert.hcg_scan_now",
                level="same_day",
                text=kb.say("alert.hcg_scan_now", value=f"{latest.value_iu_l:g}"),
                sources=["nice-ng126"],
            )
        )
    if ordered and pul:
        gap = kb.param("hcg.connolly_max_gap_days")
        for scan in sorted(scans, key=lambda s: s.date, reverse=True):
            # the sample nearest the scan day (the later one on a tie)
            def distance(s: HcgSample, d: date = scan.date) -> tuple[int, int]:
                return abs((s.at.date() - d).days), -s.at.toordinal()

            near = min(ordered, key=distance)
            if abs((near.at.date() - scan.date).days) > gap or near.value_iu_l < disc:
                continue
            out.append(
                Alert(
                    id="alert.hcg_above_discriminatory_no_sac",
                    level="urgent",
                    text=kb.say(
                        "alert.hcg_above_discriminatory_no_sac",
                        day=scan.date,
                        value=f"{near.value_iu_l:g}",
                    ),
                    sources=["connolly2013"],
                )
            )
            break
    if (pain or bleeding) and pul and latest is not None and latest.value_iu_l >= disc:
        symptom = " and ".join(w for w, on in (("pain", pain), ("bleeding", bleeding)) if on)
        out.append(
            Alert(
                id="alert.ectopic_suspected_symptomatic_pul",
                level="urgent",
                text=(
                    f"{symptom} with a pregnancy of unknown location and hCG "
                    f"{latest.value_iu_l:g} IU/L (≥ {disc:g}, the level at which a sac is seen in "
                    "99 % of viable intrauterine pregnancies): suspected ectopic pregnancy — "
                    "urgent same-day gynaecology assessment and transvaginal scan (NICE NG126; "
                    "Connolly 2013)"
                ),
                sources=["nice-ng126", "connolly2013"],
            )
        )
    if pain and pul:
        out.append(
            Alert(
                id="alert.pain_pul",
                level="same_day",
                text=kb.say("alert.pain_pul"),
                sources=["nice-ng126"],
            )
        )
    return out


def parse_hcg_arg(text: str) -> HcgSample:
    """Parse "2026-11-12T09:30=1700" or "2026-11-12=1700" (IU/L) for the quick calculator."""
    if "=" not in text:
        raise ValueError(
            f"{text!r}: expected DATE=VALUE, e.g. 2026-11-12=1700 or "
            "2026-11-12T09:30=1700 (hCG in IU/L)"
        )
    when, _, value = text.partition("=")
    when, value = when.strip(), value.strip()
    try:
        at = datetime.fromisoformat(when) if "T" in when or " " in when else None
        if at is None:
            d = date.fromisoformat(when)
            at = datetime(d.year, d.month, d.day)
    except ValueError:
        raise ValueError(
            f"{text!r}: {when!r} is not a date (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    if at.tzinfo is not None:
        raise ValueError(f"{text!r}: give local time without a time zone")
    try:
        iu = float(value)
    except ValueError:
        raise ValueError(f"{text!r}: {value!r} is not a number of IU/L") from None
    if not math.isfinite(iu) or iu <= 0:
        raise ValueError(f"{text!r}: hCG must be a positive number of IU/L")
    return HcgSample(at=at, value_iu_l=iu)
