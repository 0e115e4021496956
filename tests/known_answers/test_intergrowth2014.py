"""INTERGROWTH-21st GA-for-CRL (Papageorghiou 2014): our CRL→GA reproduces every published P50."""

from pathlib import Path

import pytest

from rplcare.knowledge import get_kb
from rplcare.pregnancy.dating import crl_to_ga_days
from rplcare.pregnancy.gestation import format_ga, parse_ga

KB = get_kb()

TABLE = Path(__file__).with_name("intergrowth21_ga_for_crl_centiles.txt")


def _rows() -> list[tuple[int, str]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("crl_mm") or not line.strip():
            continue
        crl, _p3, _p10, p50, _p90, _p97 = line.split()
        rows.append((int(crl), p50))
    return rows


def test_intergrowth_table_covers_every_crl_15_to_95_mm():
    assert [crl for crl, _ in _rows()] == list(range(15, 96))


@pytest.mark.parametrize(("crl", "p50"), _rows())
def test_intergrowth2014_rounded_ga_equals_published_p50(crl, p50):
    assert round(crl_to_ga_days(crl, kb=KB, standard="intergrowth")) == parse_ga(p50)
    assert format_ga(round(crl_to_ga_days(crl, kb=KB, standard="intergrowth"))) == p50


@pytest.mark.parametrize(
    ("crl", "mean_days"),
    [(15, 58.59), (20, 62.26), (30, 68.99), (45, 78.18), (60, 86.75), (84, 99.69), (95, 105.40)],
)
def test_intergrowth2014_mean_matches_models_4_5(crl, mean_days):
    assert crl_to_ga_days(crl, kb=KB, standard="intergrowth") == pytest.approx(mean_days, abs=0.005)
