"""``goodwill cards print``: the day's handwritten cards and envelopes as one PDF. Thin."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from goodwill.outbox.card_service import CardPrintReport

cards_app = typer.Typer(
    help="Handwritten cards: print approved card notes and their envelopes as a PDF.", no_args_is_help=True
)


def _who() -> str:
    try:
        return f"goodwill cards print ({getpass.getuser()})"
    except (OSError, KeyError):  # no login name in some containers
        return "goodwill cards print"


@cards_app.command("print")
def print_command(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            dir_okay=False,
            help="The PDF to write; an existing file is replaced only when the new one is complete.",
        ),
    ],
    day_text: Annotated[
        str | None,
        typer.Option(
            "--date", help="Print cards due on or before this day (YYYY-MM-DD); today in the business's zone."
        ),
    ] = None,
    reprint: Annotated[
        bool,
        typer.Option(
            "--reprint",
            help="Print the cards already printed for that day again (a jammed printer); changes nothing.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Render the approved cards as a print-ready PDF, then mark them sent.

    Pages 1 to N: card fronts (A6 card). Pages N+1 to 2N: envelopes (C6).

    Card n goes in envelope n. Running again prints only new cards.

    Cards of people without a postal address stay queued and are listed.
    """
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.outbox.card_service import print_cards
    from goodwill.planner.cli import parse_day

    cfg = settings()
    day = parse_day(day_text)
    with database(cfg).transaction() as s, console.status(f"Printing the cards for {day}...", spinner="dots"):
        try:
            report = print_cards(s, day=day, out_path=out, settings=cfg, printed_by=_who(), reprint=reprint)
        except (OSError, ValueError) as exc:
            fail(f"nothing was printed or marked sent: {exc}")
    if as_json:
        print_json(report.as_dict())
    else:
        _show(report, out)


def _show(report: CardPrintReport, out: Path) -> None:
    from goodwill.cli import console

    day, reprint = report.day, report.reprint
    count = len(report.printed)
    if count:
        what = "Reprinted" if reprint else "Printed"
        console.print(
            f"[green]✓[/] {what} {count} card{'s' * (count != 1)} for {day} "
            f"to [bold]{escape(str(out))}[/] ({report.pages} pages)."
        )
        console.print(
            f"  Pages 1–{count}: card fronts, A6 landscape card (148 × 105 mm). "
            f"Pages {count + 1}–{2 * count}: envelopes, C6 (162 × 114 mm). Card n goes in envelope n."
        )
        table = Table()
        for column in ("n", "person", "card page", "envelope page", "message"):
            table.add_column(column, justify="left" if column == "person" else "right")
        for n, card in enumerate(report.printed, start=1):
            table.add_row(
                str(n),
                f"{escape(card.name)} #{card.person_id}",
                str(card.card_page),
                str(card.envelope_page),
                str(card.message_id),
            )
        console.print(table)
        console.print("Nothing was changed in the database." if reprint else f"Marked sent: {count}.")
    elif reprint:
        console.print(
            f"No card was printed for {day}, so there is nothing to reprint; "
            f"{escape(str(out))} was not touched."
        )
    else:
        earlier = (
            f" ({report.already_printed} already printed for that day: --reprint prints them again)"
            if report.already_printed
            else ""
        )
        console.print(f"No new cards to print for {day}{earlier}; {escape(str(out))} was not touched.")
    if report.held:
        console.print(f"[yellow]Not printed, still queued ({len(report.held)}):[/]")
        for held in report.held:
            who = f"{escape(held.name) or 'unknown'} #{held.person_id}" if held.person_id else "nobody"
            console.print(f"  [yellow]![/] {who}, message {held.message_id}: {escape(held.detail)}")
