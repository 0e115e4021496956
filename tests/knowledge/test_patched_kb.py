"""A knowledge base passed in moves every calculator (issue 8 §2).

Rule checked: `assess(case, kb=...)` is honoured end to end and every calculator reads its
thresholds from the `kb` argument, never from the packaged knowledge base. Each row patches one
parameter in a copied knowledge base and checks that the calculator's answer moves from the
value the packaged threshold gives to the value the patched one gives (both written by hand).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from casebuilder import TODAY
from casebuilder import case as base_case
from rplcare import assess, load_case
from rplcare.case.errors import CaseError
from rplcare.knowledge import KnowledgeBase, get_kb, load_kb
from rplcare.knowledge.loader import DATA_DIR
from rplcare.pregnancy.dating import date_pregnancy
from rplcare.pregnancy.hcg import alerts, analyse_series
from rplcare.pregnancy.inputs import HcgSample, ScanInput
from rplcare.pregnancy.luteal import BLEEDING, cervical_surveillance, schedule
from rplcare.pregnancy.progesterone import interpret
from rplcare.pregnancy.schedule import events
from rplcare.pregnancy.viability import assess_viability
from rplcare.prognosis.brigham import brigham1999
from rplcare.reasoning.classification import classify

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 10, 9, 0)
D0 = date(2026, 11, 10)


def patched(tmp_path: Path, name: str, value: Any) -> KnowledgeBase:
    """A copy of the packaged knowledge base with parameter `name` set to `value`."""
    d = tmp_path / "kb"
    shutil.copytree(DATA_DIR, d)
    for f in d.glob("parameters*.yaml"):
        text = f.read_text(encoding="utf-8")
        key = re.escape(name)
        value_re = r"(\{[^}]*\}|\[[^\]]*\]|[^,]+)"
        flow = re.compile(r"^(  " + key + r": \{value: )" + value_re + "(,)", re.M)
        block = re.compile(r"^(  " + key + r":\n    value: )(.+)()$", re.M)
        for pat in (flow, block):
            new, n = pat.subn(lambda m: m.group(1) + str(value) + m.group(3), text)
            if n:
                f.write_text(new, encoding="utf-8")
                return load_kb(d)
    raise AssertionError(f"parameter {name} not found")


def hcg_class(kb: KnowledgeBase) -> str | None:
    # 1000 -> 1870 IU/L in 48 h: +87 %
    [p] = analyse_series([HcgSample(T0, 1000), HcgSample(T0 + timedelta(hours=48), 1870)], kb=kb)
    return p.nice


def cameron(kb: KnowledgeBase) -> bool | None:
    # 1000 -> 100 IU/L over 5 days: 90 % actual fall
    pairs = analyse_series([HcgSample(T0, 1000), HcgSample(T0 + timedelta(days=5), 100)], kb=kb)
    return pairs[0].cameron2016_fall_met


def scan_now_alert(kb: KnowledgeBase) -> bool:
    out = alerts([HcgSample(T0, 1200)], [], pain=False, kb=kb)
    return any(a.id == "alert.hcg_scan_now" for a in out)


def viability(kb: KnowledgeBase) -> str:
    s = ScanInput(D0, "intrauterine", 20, True, True, 6.0, False, None)
    return assess_viability([s], None, D0, kb=kb).status


def edd(kb: KnowledgeBase) -> date:
    d = date_pregnancy(TODAY, date(2026, 10, 1), None, None, None, [], kb=kb)
    assert d is not None
    return d.edd


def progesterone(kb: KnowledgeBase) -> str | None:
    return interpret(3.0, False, [], False, False, initial_hcg_iu_l=500, kb=kb).m6_step1


def luteal_stop(kb: KnowledgeBase) -> str | None:
    dating = date_pregnancy(TODAY, date(2026, 10, 1), None, None, None, [], kb=kb)
    return schedule(
        BLEEDING, "guideline", dating, False, False, True, 56, False, None, kb=kb
    ).stop_ga


def cervix_window(kb: KnowledgeBase) -> str | None:
    w = cervical_surveillance(None, True, kb=kb)
    return w.start_ga if w else None


def upt_day(kb: KnowledgeBase) -> date:
    pairs = analyse_series([HcgSample(T0, 1000), HcgSample(T0 + timedelta(hours=48), 300)], kb=kb)
    [e] = events(D0, hcg_pairs=pairs, kb=kb)
    return e.start


def brigham(kb: KnowledgeBase) -> float:
    p, _ = brigham1999(30, 3, kb=kb)
    assert p is not None
    return p.next_pregnancy_success_pct


def care_tier(kb: KnowledgeBase) -> int | None:
    case = load_case(
        base_case(pregnancies=[{"outcome": "miscarriage", "ga": "8+0"}] * 4), today=TODAY, kb=kb
    )
    return classify(case, "eshre2022", kb).care_tier


def acr_lab_points(kb: KnowledgeBase, examples_dir: Path = ROOT / "examples") -> int:
    a = assess(load_case(examples_dir / "aps-three-losses.yaml", today=TODAY), today=TODAY, kb=kb)
    f = a.findings.get("cause.antiphospholipid_syndrome")
    assert f is not None and f.details is not None
    return int(f.details["acr_eular_2023"]["laboratory_points"])


def hcg_class_through_assess(kb: KnowledgeBase) -> str:
    case = load_case(ROOT / "examples" / "bleeding-early-pregnancy.yaml", today=TODAY)
    a = assess(case, today=TODAY, kb=kb)
    assert a.pregnancy is not None
    return str(a.pregnancy["hcg"]["pairs"][0]["nice"])


ROWS: list[tuple[str, Any, Callable[[KnowledgeBase], Any], Any, Any]] = [
    ("hcg.nice_rise_pct", 90, hcg_class, "likely_intrauterine", "review_within_24h"),
    ("hcg.nice_rise_pct", 90, hcg_class_through_assess, "likely_intrauterine", "review_within_24h"),
    ("hcg.cameron2016_window_7d_days", 4, cameron, False, None),
    ("hcg.scan_now_iu_l", 1000, scan_now_alert, False, True),
    ("sru.crl_no_heartbeat_mm", 5, viability, "failure_suspicious", "failure_diagnostic"),
    ("dating.naegele_days", 281, edd, date(2027, 7, 8), date(2027, 7, 9)),
    ("progesterone.pul_failing_nmol_l", 5, progesterone, "step2", "failed"),
    ("luteal.nice_stop_ga_days", 119, luteal_stop, "16+0", "17+0"),
    ("cervix.surveillance_start_ga_days", 105, cervix_window, "16+0", "15+0"),
    ("hcg.nice_upt_days", 10, upt_day, date(2026, 11, 26), date(2026, 11, 22)),
    ("brigham.cell_30_3", 81, brigham, 80.0, 81.0),
    ("class.care_tier_max", 4, care_tier, 3, 4),
    ("aps.acr_points", "{d4_early_losses: 1, d4_fetal_death_16_34w: 1, "
     "d4_severe_preeclampsia_or_placental_insufficiency: 3, d7_la_once: 1, d7_la_persistent: 4, "
     "d8_igm_only: 1, d8_moderate_igg: 4, d8_high_igg_one: 5, d8_high_igg_both: 7}",
     acr_lab_points, 5, 4),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "calc", "before", "after"), ROWS)
def test_a_patched_threshold_moves_the_calculator(tmp_path, name, value, calc, before, after):
    assert calc(get_kb()) == before
    assert calc(patched(tmp_path, name, value)) == after


def test_the_case_model_follows_a_patched_loss_limit(tmp_path):
    kb = patched(tmp_path, "class.loss_limit_days", 154)  # 22+0
    data = base_case(pregnancies=[{"outcome": "miscarriage", "ga": "23+0"}])
    load_case(data, today=TODAY)  # valid under the packaged 24+0
    with pytest.raises(CaseError) as exc:
        load_case(data, today=TODAY, kb=kb)
    assert "a loss at 22+0 or later is a stillbirth" in str(exc.value)


def test_no_calculator_reads_the_packaged_knowledge_base():
    """get_kb() appears in reasoning/, pregnancy/ and prognosis/ only as assess()'s default."""
    hits = []
    for folder in ("reasoning", "pregnancy", "prognosis"):
        for path in (ROOT / "src/rplcare" / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if "get_kb" in line:
                    hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert [h for h in hits if "reasoning/assess.py" not in h] == []
    assert len(hits) == 2, hits  # the import and `kb = kb or get_kb()`
