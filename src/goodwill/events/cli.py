"""``goodwill import orders|events|people FILE``: thin wrappers around the importers' service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from goodwill.events.importers.report import ImportReport

import_app = typer.Typer(help="Import orders, events and people from files.", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(help="The file to import.", show_default=False)]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check and count everything, store nothing.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
SHOWN_REJECTIONS = 20


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress callback that shows a bar only once an import has run for over a second."""
    from goodwill.cli import err_console

    started = time.monotonic()
    bar: Progress | None = None
    task = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if not enabled or time.monotonic() - started < 1.0:
            return
        if bar is None:
            bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            )
            bar.start()
            task = bar.add_task("importing", total=total)
        if task is not None:
            bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


def _run(what: str, path: Path, dry_run: bool, as_json: bool, call: Callable[..., ImportReport]) -> None:
    from goodwill.cli import database, fail, print_json, settings
    from goodwill.events.importers.service import ImportFileError

    cfg = settings()
    db = database(cfg)
    try:
        with _progress_bar(not as_json) as progress, db.reading() if dry_run else db.transaction() as s:
            report = call(session=s, path=path, business=cfg.business, progress=progress)
    except ImportFileError as exc:
        fail(escape(f"{exc} (nothing was imported)"))
    if as_json:
        print_json(report.to_json())
    else:
        _print_summary(what, report, dry_run)


def _print_summary(what: str, report: ImportReport, dry_run: bool) -> None:
    from goodwill.cli import console

    verb = "would be stored (dry run: nothing was)" if dry_run else "stored"
    console.print(
        f"[bold]{report.rows:,}[/] rows read: [green]{report.orders:,} orders, {report.events:,} events, "
        f"{report.people:,} new people[/] {verb}; {report.duplicates:,} already known; "
        f"[{'red' if report.rejected else 'green'}]{len(report.rejected):,} rejected[/]."
    )
    if report.updated_people:
        console.print(f"{report.updated_people:,} known people had details updated.")
    if report.rejected:
        table = Table(title=f"Rejected rows of the {what} file (first {SHOWN_REJECTIONS})", show_lines=False)
        table.add_column("line", justify="right")
        table.add_column("reason")
        for rejection in report.rejected[:SHOWN_REJECTIONS]:
            table.add_row(str(rejection.line), rejection.reason)
        console.print(table)
        if len(report.rejected) > SHOWN_REJECTIONS:
            console.print(f"... and {len(report.rejected) - SHOWN_REJECTIONS:,} more: use --json to see all.")


@import_app.command("orders")
def import_orders_command(
    file: FileArg,
    fmt: Annotated[str, typer.Option("--format", help="auto, shopify or generic.")] = "auto",
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format", help="How slash dates read: DD/MM/YYYY, MM/DD/YYYY or a pattern like %d/%m/%Y."
        ),
    ] = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Orders from a Shopify orders export or the generic orders CSV (see docs/import.md)."""
    from goodwill.events.importers.service import import_orders

    def call(**kwargs: object) -> ImportReport:
        return import_orders(fmt=fmt, date_format=date_format, **kwargs)  # type: ignore[arg-type]

    _run("orders", file, dry_run, as_json, call)


@import_app.command("events")
def import_events_command(file: FileArg, dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Events (visits, complaints, praise, ...) from CSV or JSON Lines."""
    from goodwill.events.importers.service import import_events

    _run("events", file, dry_run, as_json, import_events)


@import_app.command("people")
def import_people_command(file: FileArg, dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Customers and prospects with details, consent and facts, from CSV."""
    from goodwill.events.importers.service import import_people

    _run("people", file, dry_run, as_json, import_people)
