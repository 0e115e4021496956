"""hCG chart: well-formed, deterministic SVG whose NICE bands come from the knowledge base."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rplcare.knowledge import get_kb
from rplcare.render import chart
from rplcare.render.chart import hcg_chart_svg, inline_svg

SVG = "{http://www.w3.org/2000/svg}"


def _ids(svg: str) -> set[str]:
    return {e.get("id") for e in ET.fromstring(svg).iter() if e.get("id")}


def test_chart_is_wellformed_svg_with_bands_and_labelled_points(bleeding):
    assessment, _ = bleeding
    svg = hcg_chart_svg(assessment)
    assert svg is not None
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    ids = _ids(svg)
    for i in (0, 1):
        for band in ("rise", "review", "fall"):
            assert f"nice-band-{band}-{i}" in ids
        assert f"hcg-point-{i}" in ids
    assert "hcg-series" in ids
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "2,150" in texts and "4,020" in texts
    assert "> 63 % rise in 48 h" in texts and "> 50 % fall in 48 h" in texts
    assert "log scale" in texts


def test_chart_is_deterministic(bleeding):
    assessment, _ = bleeding
    first = hcg_chart_svg(assessment)
    assert first == hcg_chart_svg(assessment)
    assert "<dc:date>" not in first


def test_no_chart_without_samples(aps, bleeding):
    assert hcg_chart_svg(aps[0]) is None
    assessment, _ = bleeding
    assessment["pregnancy"]["hcg"]["samples"] = []
    assert hcg_chart_svg(assessment) is None
    assessment["pregnancy"]["hcg"] = None
    assert hcg_chart_svg(assessment) is None


def test_single_sample_gets_its_bands(bleeding):
    assessment, _ = bleeding
    del assessment["pregnancy"]["hcg"]["samples"][1]
    svg = hcg_chart_svg(assessment)
    assert svg is not None
    assert {"nice-band-rise-0", "nice-band-fall-0"} <= _ids(svg)
    assert "nice-band-rise-1" not in _ids(svg)


def test_thresholds_come_from_the_knowledge_base(bleeding, monkeypatch):
    kb = get_kb()
    changed = {"hcg.nice_rise_pct": 70, "hcg.nice_fall_pct": 40, "hcg.nice_interval_h": 24}

    class PatchedKB:
        def param(self, name: str):
            return changed.get(name, kb.param(name))

    monkeypatch.setattr(chart, "get_kb", lambda: PatchedKB())
    svg = hcg_chart_svg(bleeding[0])
    assert svg is not None
    assert "&gt; 70 % rise in 24 h" in svg and "&gt; 40 % fall in 24 h" in svg


def test_inline_svg_drops_the_prolog(bleeding):
    svg = hcg_chart_svg(bleeding[0])
    assert svg.startswith("<?xml")
    assert inline_svg(svg).startswith("<svg")
