"""Clinician summary for the terminal (Rich), readable in 80 columns.

Sections follow how a clinic reads a plan: what the case is, what was found, what to do now,
what to consider, what not to do (with the evidence), then the sources behind every line.

Off a terminal (a pipe, a file: Rich would write no styles), the summary is written by
`rplcare.render.plain` without importing Rich (a third of `rplcare assess` start, issue 12
§2), to the byte what Rich writes; any line it cannot vouch for (a character Rich measures
otherwise, an emoji code, a tag it does not know) hands the whole summary to Rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rplcare.render.plain import escape

if TYPE_CHECKING:
    from rich.console import Console

    from rplcare.reasoning.assess import Assessment

URGENCY_LABELS = {
    "immediate": "IMMEDIATE",
    "same_day": "SAME DAY",
    "within_24h": "WITHIN 24 H",
    "routine": "routine",
}
SECTIONS = (
    ("recommended", "Do now"),
    ("conditional", "Consider"),
    ("deferred", "After this pregnancy"),
    ("not_recommended", "Not recommended"),
)


def section_of(r: dict[str, Any]) -> str:
    """The summary section of a recommendation: deferred ones (pregnant now, planned for after
    this pregnancy) are never under "Do now"."""
    if r.get("timing") == "after_this_pregnancy" and r["status"] != "not_recommended":
        return "deferred"
    return str(r["status"])


def _source_ref(s: dict[str, Any], numbers: dict[str, int]) -> str:
    key = f"{s['id']}|{s.get('locator', '')}"
    n = numbers.setdefault(key, len(numbers) + 1)
    return f"[{n}]"


def print_assessment(a: Assessment, console: Console | None = None, width: int = 80) -> None:
    """Print the summary on `console`, else on stdout as `Console(width=width, highlight=False,
    soft_wrap=False)` prints it (without Rich when stdout is not a terminal)."""
    if console is None:
        from rplcare.render import plain

        out = plain.stdout_console(width)
        if out is not None:
            try:
                _render(a, out, plain.Rule)
            except plain.NotPlain:
                pass
            else:
                out.write()
                return
    from rich.console import Console
    from rich.rule import Rule

    _render(a, console or Console(width=width, highlight=False, soft_wrap=False), Rule)


def _render(a: Assessment, con: Any, Rule: Any) -> None:
    """The summary on `con` (a Rich Console, or plain's), rules drawn with `Rule` (either's)."""
    d = a.to_dict()
    c = d["classification"]
    kb = d["knowledge_base"]
    # the ordered action list first (contract 1): the first lines say what to do, most urgent
    # first, with no other section in between
    urgent = [x for x in d.get("actions", []) if x["urgency"] != "routine"]
    for x in urgent:
        due = f" (due {x['due']})" if x.get("due") else ""
        con.print(
            f"[bold red]{URGENCY_LABELS[x['urgency']]}[/] {escape(x['id'])}: "
            f"{escape(x['text'])}{escape(due)}"
        )
    con.print(
        f"[bold]rplcare assessment[/] {escape(str(d['case_id'] or '(no id)'))} "
        f"as of {d['assessed_on']}"
    )
    con.print(
        f"knowledge base {kb['version']} · definition {kb['definition']} · "
        f"luteal policy {kb['luteal_policy']}",
        style="dim",
    )
    con.print(escape(d["disclaimer"]), style="italic")
    con.print(Rule("Classification"))
    rpl = "RPL" if c["rpl"] else "not RPL"
    tier = c["care_tier"] if c["care_tier"] is not None else "-"
    con.print(
        f"{rpl} ({c['definition']}): {c['losses_counted']} losses counted "
        f"({c['first_trimester_losses']} first-, {c['second_trimester_losses']} "
        f"second-trimester); type {c['type'] or '-'}; care tier {tier}"
    )
    con.print(Rule("Findings"))
    shown = [
        f
        for f in d["findings"]
        if f["id"].split(".")[0] in ("cause", "state") and f.get("reported", True)
    ]
    for f in shown:
        ev = f" ({', '.join(f['evidence'])})" if f["evidence"] else ""
        con.print(f"• [bold]{f['id']}[/]: {escape(f['text'])}[dim]{escape(ev)}[/]")
    if not shown:
        con.print("none")
    done = d.get("workup", {}).get("done") or []
    if done:
        con.print(Rule("Workup done"))
        for item in done:
            con.print(f"• {item['id']} [dim]({escape(', '.join(item['evidence']))})[/]")
    if d.get("actions"):
        con.print(Rule("Actions, most urgent first"))
        for n, x in enumerate(d["actions"], 1):
            later = " (after this pregnancy)" if x.get("timing") == "after_this_pregnancy" else ""
            label = escape(f"[{URGENCY_LABELS[x['urgency']]}]")
            con.print(f"{n}. {label} {escape(x['id'])}{later}")
    folded = d.get("not_recommended_folded") or {"count": 0, "ids": []}
    numbers: dict[str, int] = {}
    sources: dict[int, dict[str, Any]] = {}
    for status, title in SECTIONS:
        recs = [
            r
            for r in d["recommendations"]
            if section_of(r) == status and r["id"] not in folded["ids"]
        ]
        if status == "not_recommended" and folded["count"]:
            con.print(Rule(title))
            con.print(
                f"{folded['count']} tests and treatments not recommended routinely "
                f"(none on record or asked about): {escape(', '.join(folded['ids']))}"
            )
        elif not recs:
            continue
        else:
            con.print(Rule(title))
        for r in recs:
            refs = []
            for s in r["sources"]:
                ref = _source_ref(s, numbers)
                sources[int(ref[1:-1])] = s
                refs.append(ref)
            flag = "[bold red]! [/]" if r["prominent"] else ""
            con.print(f"{flag}[bold]{r['id']}[/] {escape(r['title'])}")
            con.print(f"  {escape(r['text'])}")
            if r.get("schedule"):
                s = r["schedule"]
                con.print(
                    f"  schedule: {escape(str(s['regimen']))} until {s['stop_ga']} "
                    f"({s['stop_date']}, policy {s['policy']})"
                )
            because = ", ".join(r["because"]) or "-"
            con.print(f"  [dim]because {because}; sources {escape(' '.join(refs))}[/]")
    p = d.get("pregnancy")
    if p:
        con.print(Rule("Current pregnancy"))
        if p.get("dating"):
            dt = p["dating"]
            con.print(f"GA {dt['ga']} (basis {dt['basis']}), EDD {dt['edd']}")
            con.print(f"  [dim]{escape(dt['why'])}[/]")
        for pair in p["hcg"]["pairs"]:
            pct = pair.get("change_48h_pct")  # None when the two results share a date
            change = f"{pct:+.1f} %/48 h" if isinstance(pct, int | float) else "no 48 h change"
            con.print(f"hCG {pair['from']} -> {pair['to']}: {change}, NICE {pair['nice']}")
            if pair.get("interval_warning"):
                con.print(f"  [yellow]{escape(pair['interval_warning'])}[/]")
        for alert in p["hcg"].get("alerts", []):
            con.print(f"[bold red]alert[/] {escape(alert['text'])}")
        if p.get("progesterone"):
            con.print(f"progesterone: {escape(p['progesterone']['interpretation'])}")
        v = p["viability"]
        con.print(f"viability {v['status']}: {escape(v['rule'])}; next: {escape(v['next_step'])}")
        lut = p.get("luteal_support")
        if lut:
            if lut["indicated"]:
                con.print(
                    f"luteal support: {escape(lut['regimen'])} to {lut['stop_ga']} "
                    f"({lut['stop_date']}; {lut['label']})"
                )
            else:
                why = lut["why"].removeprefix("not indicated: ")
                con.print(f"luteal support not indicated: {escape(why)}")
        for e in p.get("events", []):
            con.print(
                f"  {e['start']}{' to ' + e['end'] if e.get('end') else ''}: {escape(e['title'])}"
            )
    if d.get("prognosis"):
        pr = d["prognosis"]
        label = "table cell" if pr["exact_table_cell"] else "interpolated"
        verified = "verified" if pr.get("verified_cell") else "unverified"
        con.print(Rule("Prognosis"))
        con.print(
            f"Brigham 1999: {pr['next_pregnancy_success_pct']:g} % next-pregnancy success "
            f"({label}, {verified}). {escape(pr['caveat'])}"
        )
    if d["warnings"]:
        con.print(Rule("Warnings"))
        # `PATH: message`, as the input errors are printed (an assessment stored before
        # warnings_at existed has the lines only)
        at = d.get("warnings_at")
        lines = (
            [f"{w['path']}: {w['message']}" if w["path"] else w["message"] for w in at]
            if at
            else d["warnings"]
        )
        for w in lines:
            con.print(f"• {escape(w)}", style="yellow")
    con.print(Rule("Sources"))
    for n in sorted(sources):
        s = sources[n]
        bits = [s["citation"]]
        if s.get("locator"):
            bits.append(s["locator"])
        if s.get("strength"):
            bits.append(s["strength"])
        mark = "" if s.get("verified", True) else " [unverified]"
        con.print(f"[{n}] {escape('; '.join(bits))}{escape(mark)}")
