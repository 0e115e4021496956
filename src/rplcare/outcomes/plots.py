"""Pictures of the registry (matplotlib, PNG or SVG), drawn from a report dict only.

- `funnel`: O/E of each group (clinician or year) against its number of patients, with
  95 % and 99.8 % control limits around 1 (Spiegelhalter 2005): for n patients at the pooled
  expected rate θ, the limits are exact binomial quantiles of the proportion, interpolated
  (stats.funnel_limit), divided by θ.
- `rate_by_year`: live birth in the next pregnancy by year of first assessment, with Wilson
  95 % interval bars; groups under 10 drawn hollow ("too few to say").
"""

from __future__ import annotations

import io
from typing import Any

from rplcare.outcomes import stats

RC = {
    "svg.hashsalt": "rplcare-outcomes",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
}


def _save(fig: Any, fmt: str) -> bytes:
    if fmt not in ("png", "svg"):
        raise ValueError(f"format {fmt!r} is not png or svg")
    fig.tight_layout()
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, metadata=meta, dpi=110)
    return buf.getvalue()


def funnel_points(report: dict[str, Any]) -> tuple[float | None, list[dict[str, Any]]]:
    """(pooled expected rate θ, points) from a report broken down by clinician or year."""
    ex = report["expected"]
    theta = ex["expected_live_births"] / ex["patients"] if ex["patients"] else None
    points = [
        {
            "group": row["group"],
            "n": row["expected"]["patients"],
            "o_e": row["o_e"]["value"],
        }
        for row in report["breakdown"]
        if row["o_e"]["value"] is not None and row["expected"]["patients"]
    ]
    return theta, points


def funnel(report: dict[str, Any], fmt: str = "png") -> bytes:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    theta, points = funnel_points(report)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.0, 4.2))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        title = f"Observed / expected live births (Brigham 1999) by {report['by'] or 'group'}"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("patients with a next-pregnancy outcome (inside the Brigham model)")
        ax.set_ylabel("O/E")
        if theta and 0 < theta < 1 and points:
            top = max(p["n"] for p in points)
            ns = list(range(max(2, min(p["n"] for p in points) // 2), int(top * 1.3) + 2))
            for lo_q, hi_q, style, label in (
                (0.025, 0.975, "--", "95 % limits"),
                (0.001, 0.999, ":", "99.8 % limits"),
            ):
                lo = [max(0.0, stats.funnel_limit(n, theta, lo_q)) / theta for n in ns]
                hi = [stats.funnel_limit(n, theta, hi_q) / theta for n in ns]
                ax.plot(ns, lo, style, color="0.35", lw=1, label=label)
                ax.plot(ns, hi, style, color="0.35", lw=1)
            ax.axhline(1.0, color="0.2", lw=1, label="O/E = 1 (as expected)")
            for p in points:
                ax.plot([p["n"]], [p["o_e"]], "o", color="#1f5f8b")
                ax.annotate(
                    p["group"],
                    (p["n"], p["o_e"]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                )
            ax.legend(
                fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3
            )
        else:
            ax.text(
                0.5, 0.5, "no group has an expected count yet", ha="center", transform=ax.transAxes
            )
        return _save(fig, fmt)


def rate_by_year(
    report: dict[str, Any], fmt: str = "png", key: str = "live_birth_next_pregnancy"
) -> bytes:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in report["breakdown"] if r[key]["denominator"]]
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.0, 3.8))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.set_title(
            "Live birth in the next pregnancy by year of first assessment (Wilson 95 % intervals)",
            fontsize=9,
        )
        ax.set_ylabel("live births / next pregnancies with an outcome")
        ax.set_ylim(0, 1)
        for i, r in enumerate(rows):
            fig_r = r[key]
            lo, hi = fig_r["ci95"]
            y = fig_r["rate"]
            ax.errorbar(
                [i],
                [y],
                yerr=[[y - lo], [hi - y]],
                fmt="o",
                capsize=4,
                color="#1f5f8b",
                mfc="white" if fig_r["too_few"] else "#1f5f8b",
            )
            note = f"{fig_r['numerator']}/{fig_r['denominator']}"
            if fig_r["too_few"]:
                note += "\ntoo few"
            ax.annotate(
                note, (i, hi), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7
            )
        ax.set_xticks(range(len(rows)), [r["group"] for r in rows])
        ax.set_xlim(-0.6, max(len(rows), 1) - 0.4)
        if not rows:
            ax.text(
                0.5,
                0.5,
                "no next pregnancy with an outcome yet",
                ha="center",
                transform=ax.transAxes,
            )
        return _save(fig, fmt)
