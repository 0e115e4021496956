"""SVG chart of the serial hCG of the current pregnancy, with NICE NG126 48-hour bands.

Each sample gets a shaded column 48 h later showing where the next value would fall in each NICE
category, so a clinician sees at a glance whether the following sample rose enough. The 63 %/50 %
cut-offs come from the knowledge base, never from this file, so a KB update moves the bands.
Output is byte-stable for the same input (fixed SVG hash salt, no date metadata): reports that
embed it can be compared and cached.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from rplcare.knowledge import get_kb

BAND_WIDTH_H = 10  # drawing width of each band column, centred on sample + 48 h
BAND_COLOURS = {"rise": "#2e7d32", "review": "#f9a825", "fall": "#c62828"}


def _samples(assessment: dict[str, Any]) -> list[tuple[datetime, float]]:
    hcg = ((assessment.get("pregnancy") or {}).get("hcg") or {}).get("samples") or []
    out = [(datetime.fromisoformat(str(s["at"])), float(s["value_iu_l"])) for s in hcg]
    return sorted(out)


def hcg_chart_svg(assessment: dict[str, Any]) -> str | None:
    """A standalone SVG document of the hCG series, or None when there is no sample.

    Bands (per sample value v, at sample time + the NICE interval): rise above v x (1 + rise %)
    = likely intrauterine; fall below v x (1 - fall %) = unlikely to continue; between = review
    within 24 h. Band and point groups carry ids (`nice-band-rise-0`, `hcg-point-0`, ...) so
    tests and stylesheets can find them.
    """
    out = _draw(assessment, "svg")
    return None if out is None else str(out)


def hcg_chart_png(assessment: dict[str, Any]) -> bytes | None:
    """The same chart as a PNG (for a download or a message), or None when there is no sample."""
    out = _draw(assessment, "png")
    return None if out is None else bytes(out)


def _draw(assessment: dict[str, Any], fmt: str) -> str | bytes | None:
    samples = _samples(assessment)
    if not samples:
        return None
    # heavy: imported only when a chart is asked for; the Agg canvas is attached to the figure
    # directly, so the host process's pyplot backend is left alone
    import matplotlib
    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    kb = get_kb()
    rise = float(kb.param("hcg.nice_rise_pct")) / 100
    fall = float(kb.param("hcg.nice_fall_pct")) / 100
    interval = timedelta(hours=float(kb.param("hcg.nice_interval_h")))
    half = timedelta(hours=BAND_WIDTH_H / 2)

    values = [v for _, v in samples]
    lo = min(min(values) * (1 - fall) ** 2, min(values) / 4)
    hi = max(max(values) * (1 + rise) ** 2, max(values) * 4)

    with matplotlib.rc_context(
        {
            "svg.hashsalt": "rplcare-hcg",
            "svg.fonttype": "none",
            "font.family": "DejaVu Sans",
            "font.size": 9,
        }
    ):
        fig = Figure(figsize=(7.5, 3.8))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.set_yscale("log")
        for i, (t, v) in enumerate(samples):
            x0 = mdates.date2num(t + interval - half)
            x1 = mdates.date2num(t + interval + half)
            width = x1 - x0
            bands = (
                ("rise", v * (1 + rise), hi),
                ("review", v * (1 - fall), v * (1 + rise)),
                ("fall", lo, v * (1 - fall)),
            )
            for name, y0, y1 in bands:
                band = Rectangle(
                    (x0, y0), width, y1 - y0, facecolor=BAND_COLOURS[name], alpha=0.22, linewidth=0
                )
                band.set_gid(f"nice-band-{name}-{i}")
                ax.add_patch(band)
        xs = [mdates.date2num(t) for t, _ in samples]
        (line,) = ax.plot(xs, values, marker="o", color="#1a237e", linewidth=1.5, zorder=3)
        line.set_gid("hcg-series")
        for i, (x, v) in enumerate(zip(xs, values, strict=True)):
            label = ax.annotate(
                f"{v:,.0f}",
                (x, v),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
                color="#1a237e",
            )
            label.set_gid(f"hcg-point-{i}")
        ax.set_ylim(lo, hi)
        start = samples[0][0] - timedelta(hours=12)
        end = samples[-1][0] + interval + half + timedelta(hours=12)
        ax.set_xlim(mdates.date2num(start), mdates.date2num(end))
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        ax.set_ylabel("hCG (IU/L, log scale)")
        ax.grid(True, which="major", axis="y", linewidth=0.4, alpha=0.5)
        pct_rise, pct_fall = f"{rise * 100:g}", f"{fall * 100:g}"
        hours = f"{interval.total_seconds() / 3600:g}"
        ax.legend(
            handles=[
                Patch(
                    color=BAND_COLOURS["rise"],
                    alpha=0.35,
                    label=f"> {pct_rise} % rise in {hours} h: likely intrauterine",
                ),
                Patch(
                    color=BAND_COLOURS["review"], alpha=0.35, label="between: review within 24 h"
                ),
                Patch(
                    color=BAND_COLOURS["fall"],
                    alpha=0.35,
                    label=f"> {pct_fall} % fall in {hours} h: unlikely to continue",
                ),
            ],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=3,
            fontsize=7,
            frameon=False,
        )
        ax.set_title(
            f"Serial hCG with NICE NG126 bands for the value {hours} h after each sample",
            fontsize=9,
        )
        fig.autofmt_xdate(rotation=0, ha="center")
        fig.tight_layout()
        if fmt == "png":
            raw = io.BytesIO()
            fig.savefig(raw, format="png", metadata={"Software": None})
            return raw.getvalue()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def inline_svg(svg: str) -> str:
    """The `<svg>` element alone, for embedding in HTML (drops the XML prolog and doctype)."""
    return svg[svg.index("<svg") :]
