"""The ``goodwill`` command. Thin: parse, call one service, print."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from goodwill import __version__
from goodwill.config import ConfigError, Settings, load_settings
from goodwill.db import Database
from goodwill.people.model import PersonKind

app = typer.Typer(
    name="goodwill",
    help="Goodwill: thank the right people, personally, at the right time, with no strings attached.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
people_app = typer.Typer(help="Look up customers and prospects.", no_args_is_help=True)
app.add_typer(people_app, name="people")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    # Escaped: a message quotes settings, file names and customers' words, whose [brackets] rich
    # would otherwise take for markup and drop.
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc), 2)


def database(cfg: Settings | None = None, *, immediate: bool = False, **engine_kwargs: Any) -> Database:
    """The configured database, which must already be initialised."""
    cfg = cfg or settings()
    db = Database(cfg.database_url, immediate=immediate, **engine_kwargs)
    try:
        revision = db.current_revision()
    except Exception as exc:
        fail(f"cannot open the database ({cfg.database_url.split('@')[-1]}): {exc}")
    if revision is None:
        fail("the database is not initialised yet: run `goodwill init` first")
    return db


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        console.print(f"goodwill {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Goodwill keeps a relationship bank, buying patterns and a thank-you plan for every person."""


@app.command()
def init() -> None:
    """Create the database, or upgrade it to the newest schema. Safe to run again."""
    cfg = settings()
    db = Database(cfg.database_url)
    before = db.current_revision()
    db.migrate()
    after = db.current_revision()
    where = cfg.database_url.split("@")[-1]
    if before == after:
        console.print(f"Database {where} is up to date (schema {after}).")
    else:
        console.print(f"Database {where} upgraded from {before or 'empty'} to schema {after}.")


@people_app.command("list")
def people_list(
    search: Annotated[str, typer.Option("--search", "-s", help="Words in the name, email or phone.")] = "",
    kind: Annotated[PersonKind | None, typer.Option(help="customer or prospect")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=1000)] = 25,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List people, optionally filtered."""
    from goodwill.people.service import search_people

    with database().reading() as s:
        rows, total = search_people(
            s, query=search, kind=kind.value if kind else None, page=page, per_page=per_page
        )
        items: list[dict[str, Any]] = [
            {"id": p.id, "name": p.name, "email": p.email, "kind": p.kind} for p in rows
        ]
    if as_json:
        print_json({"total": total, "page": page, "per_page": per_page, "items": items})
        return
    table = Table(title=f"People ({total} in all, page {page})")
    for column in ("id", "name", "email", "kind"):
        table.add_column(column)
    for item in items:
        table.add_row(str(item["id"]), item["name"], item["email"] or "", item["kind"])
    console.print(table)


@people_app.command("show")
def people_show(
    ref: Annotated[str, typer.Argument(help="The person's id or email.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Everything we know about one person: orders, spend, facts and consent."""
    from goodwill.people.service import PersonNotFound, get_person, person_summary

    cfg = settings()
    with database(cfg).reading() as s:
        try:
            person = get_person(s, ref)
        except PersonNotFound as exc:
            fail(str(exc))
        summary = person_summary(s, person, currency=cfg.business.currency)
    if as_json:
        print_json(summary)
        return
    console.print(
        f"[bold]{summary['name']}[/] ({summary['kind']}) #{summary['id']}  {summary['email'] or ''}"
    )
    console.print(
        f"{summary['orders']} orders, {summary['total_spent']} {summary['currency']} spent"
        + (
            f", first {summary['first_order_at'][:10]}, last {summary['last_order_at'][:10]}"
            if summary["orders"]
            else ""
        )
    )
    for fact in summary["facts"]:
        console.print(f"  • {fact}")
    for channel, state in summary["consent"].items():
        console.print(
            f"  {channel}: {'yes' if state['granted'] else 'no'} ({state['source']}, {state['at'][:10]})"
        )


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default from settings: 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings: 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (production: 2 x cores).")] = 1,
) -> None:
    """Run the web app (pages and the JSON API under /api/v1)."""
    cfg = settings()
    database(cfg).dispose()  # fail early and clearly if the database is not initialised
    _serve(cfg, host, port, workers)


def _serve(cfg: Settings, host: str | None, port: int | None, workers: int) -> None:
    import uvicorn

    from goodwill.web.app import SERVER_OPTIONS

    host = host or cfg.web.host
    port = port or cfg.web.port
    console.print(f"Goodwill is serving on [bold]http://{host}:{port}[/]  (Ctrl+C to stop)")
    # SERVER_OPTIONS keeps the access log off (paths can hold customers' link tokens); the
    # test_asvs_logs tests run a real server with the same options.
    uvicorn.run(
        "goodwill.web.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **SERVER_OPTIONS,
    )


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Same seed, same business.")] = 7,
    people: Annotated[
        int, typer.Option(min=10, max=200_000, help="How many people the business knows.")
    ] = 400,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the web app afterwards.")
    ] = True,
    host: Annotated[str | None, typer.Option(help="Address for the web app.")] = None,
    port: Annotated[int | None, typer.Option(help="Port for the web app.")] = None,
) -> None:
    """Load a realistic sample business (two years of a tea merchant) and open the web app.

    Uses the configured database (goodwill.db by default) and creates it if needed. Running it
    again with the same seed adds nothing new; the owner's password is renewed and printed.
    """
    import tempfile
    from datetime import UTC, datetime
    from pathlib import Path

    from goodwill.demo.service import load_demo

    cfg = settings()
    db = Database(cfg.database_url)
    db.migrate()
    with (
        tempfile.TemporaryDirectory(prefix="goodwill-demo-") as folder,
        console.status("Preparing the demo business...") as status,
    ):

        def step(message: str) -> None:
            status.update(message + "...")
            console.print(f"[green]✓[/] {message}")

        summary = load_demo(
            db=db,
            settings=cfg,
            seed=seed,
            people=people,
            now=datetime.now(UTC),
            folder=Path(folder),
            step=step,
        )
    db.dispose()
    console.print(
        f"\n[bold]Demo business ready.[/] New this run: {summary.people} people, "
        f"{summary.orders.orders} orders, {summary.orders.events + summary.events.events} events."
    )
    console.print(f"Log in as [bold]{summary.owner_email}[/] with password [bold]{summary.owner_password}[/]")
    if serve_after:
        _serve(cfg, host, port, 1)


def _register_subcommands() -> None:
    from goodwill.bank.cli import bank_app
    from goodwill.campaigns.cli import app as campaign_app
    from goodwill.complaints.cli import app as complaints_app
    from goodwill.complaints.mailbox_cli import fetch as fetch_mail_command
    from goodwill.complaints.themes_cli import themes_command
    from goodwill.events.cli import import_app
    from goodwill.impact.cli import impact_command
    from goodwill.insights.cli import insights_app
    from goodwill.loyalty.cli import loyalty_app
    from goodwill.notes.cli import note_app
    from goodwill.outbox.calls_cli import calls_app
    from goodwill.outbox.cards_cli import cards_app
    from goodwill.outbox.cli import outbox_app, worker_command
    from goodwill.people.cli import erase_command, export_command
    from goodwill.planner.cli import plan_command
    from goodwill.team.cli import team_app, user_app
    from goodwill.team.digest_cli import digest_command

    app.add_typer(import_app, name="import")
    app.add_typer(user_app, name="user")
    app.add_typer(bank_app, name="bank")
    app.add_typer(insights_app, name="insights")
    app.add_typer(loyalty_app, name="loyalty")
    app.command("plan")(plan_command)
    app.add_typer(note_app, name="note")
    app.command("worker")(worker_command)
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(calls_app, name="calls")
    app.add_typer(cards_app, name="cards")
    complaints_app.command("fetch")(fetch_mail_command)
    complaints_app.command("themes")(themes_command)
    app.add_typer(complaints_app, name="complaints")
    team_app.command("digest")(digest_command)
    app.add_typer(team_app, name="team")
    app.add_typer(campaign_app, name="campaign")
    app.command("impact")(impact_command)
    people_app.command("export")(export_command)
    people_app.command("erase")(erase_command)


_register_subcommands()


def main() -> None:
    app()
