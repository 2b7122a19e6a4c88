"""``goodwill impact``: thanked versus held out, per plan day or campaign. Thin: parse, call, print.

The helpers from ``goodwill.cli`` are imported inside the command because that module imports this one.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from rich.console import Console

    from goodwill.impact.service import ImpactReport

app = typer.Typer()

TONE_STYLES = {"good": "green", "bad": "red", "unclear": "dim"}
COLUMNS = ("outcome", "thanked", "held out", "difference", "interval", "verdict")


def _day(value: str | None, option: str) -> date | None:
    from goodwill.cli import fail

    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: {value!r} is not a date (use YYYY-MM-DD)", 2)


def print_report(console: Console, report: ImpactReport, currency: str) -> None:
    from goodwill.impact.views import rows_for

    state = (
        "complete" if report.window_complete else f"so far: {report.days_so_far} of {report.window_days} days"
    )
    groups = f"{report.treated_n:,} thanked, {report.holdout_n:,} held out"
    table = Table(title=f"{escape(report.label)} — {groups} ({state})")
    for column in COLUMNS:
        table.add_column(
            column, justify="right" if column in ("thanked", "held out", "difference") else "left"
        )
    for row in rows_for(report, currency):
        verdict = f"[{TONE_STYLES.get(row.tone, 'dim')}]{row.verdict_label}[/]"
        table.add_row(row.label, row.thanked, row.held, row.difference, row.interval, verdict)
    console.print(table)
    console.print(escape(report.headline), end="\n\n")


@app.command("impact")
def impact_command(
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="One campaign, by id or exact name.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Every plan day with a holdout and every campaign since this day (YYYY-MM-DD)."
        ),
    ] = None,
    day: Annotated[str | None, typer.Option("--day", help="One plan day (YYYY-MM-DD).")] = None,
    window: Annotated[
        int | None,
        typer.Option(
            "--window", min=1, max=730, help="Days after the day to count (default: [impact] window_days)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Compare people we thanked with people randomly held out: bought again, orders, spend, bank
    change, complaints and unsubscribes, each with its interval and a verdict in plain words.

    Without --campaign, --day or --since: every plan day and campaign of the last 180 days.
    """
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.db import utcnow
    from goodwill.impact.service import ImpactError, select_reports

    if sum(x is not None for x in (campaign, day, since)) > 1:
        fail("choose one of --campaign, --day and --since", 2)
    cfg, plan_day, first = settings(), _day(day, "--day"), _day(since, "--since")
    with database(cfg).reading() as s:
        try:
            chosen = select_reports(
                s,
                settings=cfg,
                now=utcnow(),
                campaign=campaign,
                day=plan_day,
                since=first,
                window_days=window,
            )
        except ImpactError as exc:
            fail(f"--{exc}")  # the message starts with the option's name: "campaign: no campaign ..."
    if as_json:
        print_json(chosen.reports[0].as_dict() if chosen.single else [r.as_dict() for r in chosen.reports])
    elif not chosen.reports:
        console.print(
            f"No holdout yet: nobody was held out of a plan day or a campaign since {chosen.since}."
        )
    for report in [] if as_json else chosen.reports:
        print_report(console, report, cfg.business.currency)
