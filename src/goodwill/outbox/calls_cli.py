"""``goodwill calls ...``: the call list, for a screen, a spreadsheet or a script. Thin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

calls_app = typer.Typer(
    help="Phone calls: the call list with each person's local time window.", no_args_is_help=True
)


@calls_app.command("list")
def list_command(
    day_text: Annotated[
        str | None,
        typer.Option("--date", help="Calls due by this day (YYYY-MM-DD); today in the business's zone."),
    ] = None,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", help="Write the list to this CSV file (UTF-8 with a byte-order mark)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Queued calls: whom to phone, when it is polite where they live, and what to say."""
    from goodwill.cli import console, database, print_json, settings
    from goodwill.outbox.calls import call_list, calls_csv, row_dict
    from goodwill.planner.cli import parse_day

    cfg = settings()
    day = parse_day(day_text)
    with database(cfg).reading() as s:
        rows = call_list(s, day=day, settings=cfg)
    if csv_path is not None:
        csv_path.write_text("\ufeff" + calls_csv(rows), encoding="utf-8", newline="")
        console.print(f"Wrote {len(rows)} call{'s' if len(rows) != 1 else ''} to {escape(str(csv_path))}")
    if as_json:
        print_json([row_dict(row) for row in rows])
        return
    if csv_path is not None:
        return
    table = Table(title=f"Calls due by {day} — {len(rows)}")
    for column in ("#", "state", "person", "phone", "their window", "their time now", "why now"):
        table.add_column(column, justify="right" if column == "#" else "left")
    for row in rows:
        window = f"{row.window_start:%H:%M}–{row.window_end:%H:%M} {row.time_zone}"
        state = f"{row.state}: {row.blocked_reason}" if row.blocked_reason else row.state
        table.add_row(
            str(row.message_id),
            escape(state),
            escape(row.name),
            escape(row.phone),
            escape(window),
            f"{row.local_now:%a %H:%M}",
            escape(row.why_now),
        )
    console.print(table)
