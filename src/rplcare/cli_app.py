"""The `rplcare` command line (typer). Imports stay inside commands so `rplcare --help` is fast;
`rplcare.cli.main` runs a plain `assess` line without this module (`rplcare.cli_assess`).

Exit codes: `rplcare.errors.ExitCode` (0 ok; 2 invalid input, every problem on stderr as
`PATH: message`, nothing on stdout; 3 refused; 4 knowledge base invalid; 5 store unavailable;
70 unexpected error, one line with a support hint and never a traceback; 130 interrupted).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="rplcare: decision support for recurrent pregnancy loss (not a diagnosis).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
kb_app = typer.Typer(help="Inspect the knowledge base.", no_args_is_help=True)
schema_app = typer.Typer(help="Print JSON Schemas.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users of the web app.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(schema_app, name="schema")
app.add_typer(user_app, name="user")


class Fmt(StrEnum):
    text = "text"
    json = "json"
    fhir = "fhir"


class Definition(StrEnum):
    eshre2022 = "eshre2022"
    asrm2012 = "asrm2012"
    rcog2023 = "rcog2023"


class Policy(StrEnum):
    guideline = "guideline"
    article = "article"


TodayOpt = Annotated[
    str | None,
    typer.Option(
        "--today",
        help="Assess as of this date (YYYY-MM-DD); default: the case's assessed_on, else today.",
    ),
]


def _fail(lines: list[str], code: int = 2) -> None:  # 2 = ExitCode.INVALID_INPUT
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def _parse_day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail([f"{name}: {value!r} is not a date (YYYY-MM-DD)"])
    return None


def _assess(path: Path, today: str | None, luteal_policy: str) -> tuple[Any, Any]:
    """Parse --today, load the case and assess it; any input problem exits 2 with paths."""
    from rplcare import cli_assess

    try:
        return cli_assess.load_and_assess(path, today, luteal_policy=luteal_policy)
    except cli_assess.Exit as exc:
        raise typer.Exit(exc.code) from None


@app.command()
def assess(
    case: Annotated[Path, typer.Argument(help="Case file (YAML or JSON, rplcare.case/1).")],
    format: Annotated[Fmt, typer.Option("--format", "-f", help="Output format.")] = Fmt.text,
    definition: Annotated[Definition, typer.Option(help="RPL definition.")] = Definition.eshre2022,
    luteal_policy: Annotated[
        Policy, typer.Option(help="Luteal-support stop policy.")
    ] = Policy.guideline,
    today: TodayOpt = None,
) -> None:
    """Assess a case and print the plan."""
    from rplcare import cli_assess

    opts = cli_assess.Options(case, format.value, definition.value, luteal_policy.value, today)
    try:
        cli_assess.run(opts)
    except cli_assess.Exit as exc:
        raise typer.Exit(exc.code) from None


@app.command()
def schedule(
    case: Annotated[Path, typer.Argument(help="Case file.")],
    ics: Annotated[Path | None, typer.Option("--ics", help="Write an iCalendar file here.")] = None,
    luteal_policy: Annotated[
        Policy, typer.Option(help="Luteal-support stop policy.")
    ] = Policy.guideline,
    today: TodayOpt = None,
) -> None:
    """Print the dated schedule of the current pregnancy; optionally write it as iCalendar."""
    from rplcare.pregnancy.schedule import Event
    from rplcare.render.ics import events_to_ics

    _, result = _assess(case, today, luteal_policy=luteal_policy.value)
    if result.pregnancy is None:
        _fail(["current_pregnancy: missing; a schedule needs a current pregnancy"])
    events = [Event.model_validate(e) for e in result.pregnancy["events"]]
    for e in events:
        end = f" to {e.end}" if e.end else ""
        typer.echo(f"{e.start}{end}  {e.title}")
    if ics is not None:
        ics.write_bytes(events_to_ics(events, result.case_id or "case"))
        typer.echo(f"wrote {ics}", err=True)


@app.command()
def hcg(
    samples: Annotated[list[str], typer.Argument(help="Samples as DATE[THH:MM]=VALUE (IU/L).")],
    format: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.text,
) -> None:
    """Interpret serial hCG without a case file.

    Example: `rplcare hcg 2026-11-10=1000 2026-11-12T09:30=1700`.
    """
    from rplcare.pregnancy.hcg import hcg_block, parse_hcg_arg

    parsed, problems = [], []
    for i, s in enumerate(samples):
        try:
            parsed.append(parse_hcg_arg(s))
        except ValueError as exc:
            problems.append(f"samples[{i}]: {exc}")
    if len(parsed) < 2 and not problems:
        problems.append("samples: give at least two samples")
    if problems:
        _fail(problems)
    from rplcare.knowledge import get_kb

    block = hcg_block(parsed, kb=get_kb()).model_dump(mode="json", by_alias=True)
    if format is Fmt.json:
        from rplcare.util import jsonio

        typer.echo(jsonio.dumps({"hcg": block}))
        return
    for p in block["pairs"]:
        change = p["change_48h_pct"]
        t = (
            f"doubling {p['doubling_hours']} h"
            if p.get("doubling_hours")
            else f"half-life {p.get('half_life_hours')} h"
        )
        typer.echo(
            f"{p['from']} -> {p['to']}: {p['hours']} h, {change:+.1f} %/48 h, {t}, NICE {p['nice']}"
        )
        if p.get("interval_warning"):
            typer.echo(f"  warning: {p['interval_warning']}")
        typer.echo(f"  {p['why']}")


@app.command("date")
def date_cmd(
    lmp: Annotated[
        str | None, typer.Option("--lmp", help="Last menstrual period (YYYY-MM-DD).")
    ] = None,
    cycle: Annotated[int | None, typer.Option("--cycle", help="Cycle length in days.")] = None,
    transfer: Annotated[
        str | None, typer.Option("--transfer", help="Embryo transfer date.")
    ] = None,
    embryo_day: Annotated[
        int | None, typer.Option("--embryo-day", help="Embryo age: 3, 5 or 6.")
    ] = None,
    crl: Annotated[float | None, typer.Option("--crl", help="Crown-rump length in mm.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="Date of the CRL scan.")] = None,
    today: TodayOpt = None,
    format: Annotated[Fmt, typer.Option("--format", "-f")] = Fmt.text,
) -> None:
    """Date a pregnancy without a case file (LMP, ART transfer, or CRL)."""
    from rplcare.pregnancy.dating import date_pregnancy
    from rplcare.pregnancy.inputs import ScanInput

    problems = []
    lmp_d, transfer_d, on_d = (
        _parse_day(lmp, "--lmp"),
        _parse_day(transfer, "--transfer"),
        _parse_day(on, "--on"),
    )
    day = _parse_day(today, "--today") or on_d or date.today()
    if (transfer_d is None) != (embryo_day is None):
        problems.append("--transfer and --embryo-day go together")
    from rplcare.knowledge import get_kb
    from rplcare.knowledge.templates import join_or

    kb = get_kb()
    ages = kb.param("dating.embryo_ages_days")
    if embryo_day is not None and embryo_day not in ages:
        problems.append(f"--embryo-day: {embryo_day} is not {join_or(ages)}")
    if crl is not None and on_d is None:
        problems.append("--crl needs --on (the scan date)")
    from rplcare.pregnancy.dating import crl_in_range, crl_range_mm

    crl_min, crl_max = crl_range_mm(kb)
    if crl is not None and not crl_in_range(crl, kb=kb):
        problems.append(
            f"--crl: {crl:g} mm is outside {crl_min:g}-{crl_max:g} mm (the CRL dating range)"
        )
    if cycle is not None and not 20 <= cycle <= 60:
        problems.append(f"--cycle: {cycle} is outside 20-60 days")
    if lmp_d is None and transfer_d is None and crl is None:
        problems.append("give --lmp, --transfer with --embryo-day, or --crl with --on")
    if problems:
        _fail(problems)
    scans = (
        [
            ScanInput(
                date=on_d,
                location="intrauterine",
                msd_mm=None,
                yolk_sac=None,
                embryo=True,
                crl_mm=crl,
                heartbeat=None,
                cervical_length_mm=None,
                index=0,
            )
        ]
        if crl
        else []
    )
    try:
        dating = date_pregnancy(day, lmp_d, cycle, transfer_d, embryo_day, scans, kb=kb)
    except ValueError as exc:
        _fail([str(exc)])
    if dating is None:
        _fail(["not enough data to date the pregnancy"])
    out = dating.model_dump(mode="json")
    if format is Fmt.json:
        from rplcare.util import jsonio

        typer.echo(jsonio.dumps({"dating": out}))
    else:
        typer.echo(f"GA {out['ga']} on {day} (basis {out['basis']}), EDD {out['edd']}")
        typer.echo(f"  {out['why']}")


@kb_app.command("list")
def kb_list() -> None:
    """List every recommendation id with its kind and title."""
    from rplcare.knowledge import get_kb

    kb = get_kb()
    typer.echo(
        f"knowledge base {kb.version}: {len(kb.recommendations)} recommendations, "
        f"{len(kb.findings)} findings, {len(kb.parameters)} parameters, "
        f"{len(kb.sources)} sources"
    )
    for rec in kb.recommendations.values():
        statuses = sorted({r.status for r in rec.rules})
        typer.echo(f"{rec.id:48} {rec.kind:9} {'/'.join(statuses)}  {rec.title}")


@kb_app.command("show")
def kb_show(
    rid: Annotated[str, typer.Argument(help="Recommendation, finding, parameter or source id.")],
) -> None:
    """Show one knowledge-base item as YAML, with its sources resolved."""
    import yaml

    from rplcare.knowledge import get_kb

    kb = get_kb()
    for table in (kb.recommendations, kb.findings, kb.parameters, kb.sources):
        item = table.get(rid)
        if item is not None:
            data = item.model_dump(mode="json", exclude_none=True)
            typer.echo(yaml.safe_dump({rid: data}, sort_keys=False, allow_unicode=True))
            refs = {s["id"] for r in data.get("rules", []) for s in r["sources"]}
            refs |= {data["source"]} if "source" in data else set()
            for sid in sorted(refs):
                s = kb.sources[sid]
                mark = "" if s.verified else "  [unverified]"
                typer.echo(f"  {sid}: {s.citation} ({s.year}){mark}")
            return
    _fail([f"{rid}: not a recommendation, finding, parameter or source id (see `rplcare kb list`)"])


@schema_app.command("case")
def schema_case() -> None:
    """Print the JSON Schema of the case file (rplcare.case/1)."""
    from rplcare.case.model import Case
    from rplcare.util import jsonio

    typer.echo(jsonio.dumps(Case.model_json_schema(), ensure_ascii=True))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    examples: Annotated[
        bool, typer.Option(help="Load the example cases into an empty store.")
    ] = True,
) -> None:
    """Start the web app (database from RPLCARE_DATABASE_URL, default SQLite under var/)."""
    from rplcare.web import commands

    if examples:
        commands.load_examples()
    commands.first_login()
    commands.serve(host, port)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="clinician, viewer or admin.")] = "clinician",
    print_token: Annotated[
        bool, typer.Option("--print-token", help="Print a new API token.")
    ] = False,
    password: Annotated[str | None, typer.Option(help="Password (prompted when omitted).")] = None,
) -> None:
    """Add a user (database from RPLCARE_DATABASE_URL)."""
    from rplcare.web import commands

    raise typer.Exit(commands.user_add(name, role, print_token, password))


@app.command("import-fhir")
def import_fhir(
    bundle: Annotated[
        list[Path],
        typer.Argument(
            help="FHIR R4 Bundle (JSON), or FHIR Bulk Data output: folders or NDJSON files "
            "(.ndjson, .ndjson.gz; per resource type or organizeOutputBy=Patient)."
        ),
    ],
    patient: Annotated[
        str | None, typer.Option(help="Patient id when the input holds several.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write the case here (a folder of ID.yaml for an export)."
        ),
    ] = None,
    layout: Annotated[str, typer.Option(help="Bulk layout: auto, type or patient.")] = "auto",
    today: TodayOpt = None,
) -> None:
    """Turn a FHIR R4 Bundle or a Bulk export into case files; unmapped resources on stderr."""
    day = _parse_day(today, "--today")
    if layout not in ("auto", "type", "patient"):
        _fail([f"--layout: {layout!r} is not one of auto, type, patient"])
    from rplcare.interop.fhir.bulk_import import import_bulk, is_bulk_input

    if is_bulk_input(bundle) or len(bundle) > 1:
        raise typer.Exit(import_bulk(bundle, patient, output, day, layout=layout))
    from rplcare.interop import commands

    raise typer.Exit(commands.import_fhir(bundle[0], patient, output, day))


@app.command()
def screen(
    paths: Annotated[
        list[Path],
        typer.Argument(help="FHIR Bulk Data export: folders or NDJSON files (.ndjson, .gz)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output file: .csv, .parquet or .ndjson.")],
    today: TodayOpt = None,
    engine: Annotated[str, typer.Option(help="local (embedded) or spark.")] = "local",
    master: Annotated[
        str | None, typer.Option(help="Spark master URL (default local[WORKERS]).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes (local) or Spark cores; default: all cores.")
    ] = None,
    only_candidates: Annotated[
        bool, typer.Option("--only-candidates", help="Write rows of candidates only.")
    ] = False,
    layout: Annotated[str, typer.Option(help="Bulk layout: auto, type or patient.")] = "auto",
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start again instead of resuming a stopped run.")
    ] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Screen a population: one row per patient with her care gaps (decision support)."""
    day = _parse_day(today, "--today")
    from rplcare.screening.commands import run_screen

    raise typer.Exit(
        run_screen(
            paths,
            out,
            day,
            engine=engine,
            master=master,
            workers=workers,
            only_candidates=only_candidates,
            layout=layout,
            resume=not fresh,
            progress=not no_progress,
        )
    )


@app.command("case-to-fhir")
def case_to_fhir(
    case: Annotated[Path, typer.Argument(help="Case file.")],
    today: TodayOpt = None,
) -> None:
    """Print a case as a FHIR R4 Bundle."""
    from rplcare.interop import commands

    raise typer.Exit(commands.case_to_fhir(case, _parse_day(today, "--today")))


class OutcomesBy(StrEnum):
    cause = "cause"
    age = "age"
    losses = "losses"
    treatment = "treatment"
    year = "year"
    clinician = "clinician"


class OutcomesFmt(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"
    fhir = "fhir"


@app.command()
def outcomes(
    by: Annotated[OutcomesBy | None, typer.Option(help="Break the figures down.")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Episodes whose first assessment is on or after (YYYY-MM-DD)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Episodes whose first assessment is on or before.")
    ] = None,
    claim: Annotated[
        float | None, typer.Option(help="Check a claimed live-birth rate (e.g. 0.85).")
    ] = None,
    fmt: Annotated[OutcomesFmt, typer.Option("--format", help="Output format.")] = OutcomesFmt.text,
    lost_after: Annotated[
        int, typer.Option(help="Days after the due date with no record: lost to follow-up.")
    ] = 90,
    age_bands: Annotated[
        str, typer.Option(help="Age band edges at the first assessment (SART: <35 … >42).")
    ] = "35,38,41,43",
    today: TodayOpt = None,
) -> None:
    """Outcome registry of the store: live-birth rates with 95 % intervals, O/E (Brigham 1999)."""
    from rplcare.outcomes import commands

    raise typer.Exit(
        commands.run(
            by=by.value if by else None,
            since=_parse_day(since, "--since"),
            until=_parse_day(until, "--until"),
            claim=claim,
            fmt=fmt.value,
            today=_parse_day(today, "--today"),
            lost_after_days=lost_after,
            age_bands=age_bands,
        )
    )
