"""``goodwill plan``: today's plan of whom to thank, why and how. Thin."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table


def parse_day(text: str | None) -> date:
    from goodwill.cli import fail, settings

    if not text:
        return datetime.now(settings().business.tz).date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"--date: not a date: {text!r} (use YYYY-MM-DD)", 2)


def plan_command(
    day_text: Annotated[
        str | None, typer.Option("--date", help="Plan this day (YYYY-MM-DD); today in the business's zone.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    show_only: Annotated[
        bool, typer.Option("--show", help="Show the stored plan without planning anyone new.")
    ] = False,
) -> None:
    """Plan whom to thank on a day, draft their notes for review, and show the plan.

    Planning again the same day keeps everyone already planned or held out and adds only people
    who became eligible since, within the capacity left.
    """
    from goodwill.cli import console, database, print_json, settings
    from goodwill.notes.service import plan_and_draft
    from goodwill.planner.service import plan_view

    cfg = settings()
    day = parse_day(day_text)
    db = database(cfg)
    added = drafted = 0
    if not show_only:
        with db.transaction() as s, console.status(f"Planning {day}...", spinner="dots"):
            outcome, notes = plan_and_draft(s, day=day, settings=cfg)
            added, drafted = len(outcome.new_items), len(notes)
    with db.reading() as s:
        view = plan_view(s, day, default_zone=cfg.business.timezone)
    if as_json:
        print_json(view)
        return
    table = Table(title=f"Plan for {day} — {len(view['items'])} to thank, {len(view['holdout'])} held out")
    for column in ("priority", "person", "moment", "channel", "why"):
        table.add_column(column, justify="right" if column == "priority" else "left")
    for item in view["items"]:
        table.add_row(
            str(item["priority"]),
            f"{escape(item['person']['name'])} #{item['person']['id']}",
            item["moment"].replace("_", " "),
            item["channel"],
            f"{escape(item['evidence'])}\n[dim]{escape(item['reason'])}[/]",
        )
    console.print(table)
    skipped = ", ".join(f"{reason.replace('_', ' ')} {n}" for reason, n in view["skipped"].items())
    console.print(f"Not planned: {skipped}.")
    if not show_only:
        console.print(f"New this run: {added} planned, {drafted} notes drafted for review.")
