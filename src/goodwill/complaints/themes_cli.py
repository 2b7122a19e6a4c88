"""``goodwill complaints themes``: group the recent complaints into themes and print them. Thin.

The helpers from ``goodwill.cli`` are imported inside the command because that module imports this one.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="What complaints are about, grouped into themes.", no_args_is_help=True)
K_HELP = "How many themes to find (default: themes in goodwill.toml, section complaints; 0 there: automatic)."


@app.command("themes")
def themes_command(
    k: Annotated[int | None, typer.Option("--k", min=1, max=50, help=K_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Group the latest 20,000 complaints into themes by the words they share, save them, and print them."""
    from rich.markup import escape

    from goodwill.cli import console, database, print_json, settings
    from goodwill.complaints.themes_service import run_themes
    from goodwill.db import utcnow

    cfg = settings()
    with database(cfg).transaction() as s:
        report = run_themes(s, settings=cfg, now=utcnow(), k=k)
    if as_json:
        print_json(report.as_json())
        return
    if report.run_id is None:
        console.print("No complaints yet: nothing to group.")
        return
    how = "chosen from the data" if report.chosen_by == "silhouette" else report.chosen_by
    console.print(
        f"[bold]{report.k} themes[/] in {report.complaints} complaints ({how}), run {report.run_id}"
    )
    for theme in report.themes:
        console.print(f"\n[bold]{escape(theme.label)}[/]  {theme.size} complaints")
        if theme.keywords:
            console.print(f"  keywords: {escape(', '.join(theme.keywords))}")
        for example in theme.examples:
            console.print(f"  #{example.id}: {escape(example.text)}")
