"""``goodwill bank ...``: statements, alerts, rebuild and manual adjustments. Thin."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

bank_app = typer.Typer(
    help="The relationship bank: statements, alerts, rebuild, adjustments.", no_args_is_help=True
)


def _as_of(text: str | None) -> datetime | None:
    """A date (end of that day in the business time zone) or a full ISO timestamp."""
    from goodwill.cli import fail, settings

    if not text:
        return None
    try:
        if len(text.strip()) == 10:
            day = datetime.fromisoformat(text.strip()).date()
            return datetime.combine(day, time(23, 59, 59, 999999), settings().business.tz).astimezone(UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--as-of: not a date or ISO timestamp: {text!r} (use YYYY-MM-DD)")
    return moment if moment.tzinfo else moment.replace(tzinfo=settings().business.tz)


def _bank_config() -> Any:
    from goodwill.bank.config import load_bank_config
    from goodwill.cli import fail, settings
    from goodwill.config import ConfigError

    try:
        return load_bank_config(settings())
    except ConfigError as exc:
        fail(str(exc), 2)


@bank_app.command("statement")
def statement_command(
    ref: Annotated[str, typer.Argument(help="The person's id or email.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (end of day) or ISO time.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Like a bank statement: every deposit and withdrawal with the running balance."""
    from goodwill.bank.statements import statement
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.people.service import PersonNotFound

    cfg, config, moment = settings(), _bank_config(), _as_of(as_of)
    with database(cfg).reading() as s:
        try:
            found = statement(session=s, person_ref=ref, as_of=moment, config=config, tz=cfg.business.tz)
        except PersonNotFound as exc:
            fail(str(exc))
    if as_json:
        print_json(found.as_json())
        return
    local = found.as_of.astimezone(cfg.business.tz)
    table = Table(title=f"{found.person['name']} #{found.person['id']} — statement to {local:%Y-%m-%d %H:%M}")
    for column, justify in (("date", "left"), ("what happened", "left"), ("rule", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("amount", justify="right")
    table.add_column("balance", justify="right")
    table.add_row("", "Opening balance", "", "", "0.00")
    for line in found.lines:
        what = line.label + (f" — {line.detail}" if line.detail else "")
        table.add_row(line.local_date, what, line.rule, f"{line.amount:+d}", f"{line.balance:.2f}")
    table.add_row("", "Closing balance (decayed to date)", "", "", f"{found.balance:.2f}")
    console.print(table)
    console.print(f"Status: [bold]{found.status}[/]   bad streak: {found.bad_streak}")


@bank_app.command("alerts")
def alerts_command(
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Everyone on watch or overdrawn, most valuable first, with the streak that put them there."""
    from goodwill.bank.statements import alerts
    from goodwill.cli import console, database, print_json, settings

    cfg, config = settings(), _bank_config()
    # A transaction, not a read: standings whose question deadlines have passed are brought up to date.
    with database(cfg).transaction() as s:
        items, total = alerts(
            session=s,
            page=page,
            per_page=per_page,
            config=config,
            currency=cfg.business.currency,
            tz=cfg.business.tz,
        )
    if as_json:
        print_json({"total": total, "page": page, "per_page": per_page, "items": items})
        return
    table = Table(title=f"At risk ({total} in all, page {page})")
    for column in ("person", "status", "streak", "balance", "spent", "what went wrong"):
        table.add_column(column)
    for item in items:
        person = item["person"]
        table.add_row(
            f"{person['name']} #{person['id']}",
            item["status"],
            str(item["bad_streak"]),
            f"{item['balance']:.2f}",
            f"{item['value']} {item['currency']}",
            "; ".join(f"{s['local_date']} {s['label']}" for s in item["streak"]),
        )
    console.print(table)


@bank_app.command("rebuild")
def rebuild_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Recompute every entry and standing from the events (after changing [bank.rules])."""
    from goodwill.bank.rebuild import rebuild
    from goodwill.cli import console, database, print_json, settings

    cfg, config = settings(), _bank_config()
    with (
        Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), disable=as_json
        ) as bar,
        database(cfg).transaction() as s,
    ):
        task = bar.add_task("starting", total=None)
        report = rebuild(
            session=s,
            config=config,
            currency=cfg.business.currency,
            progress=lambda message: bar.update(task, description=message),
        )
    if as_json:
        print_json(report.as_json())
        return
    console.print(
        f"Rebuilt {report.entries_after} entries for {report.people} people in {report.seconds:.1f} s: "
        f"{report.added} added, {report.removed} removed, {report.changed} changed."
    )
    moved = ", ".join(f"{n} now {status}" for status, n in sorted(report.status_changes.items())) or "none"
    console.print(f"Status changes: {moved}.")
    console.print("By status: " + ", ".join(f"{status} {n}" for status, n in report.by_status.items()))


@bank_app.command("adjust")
def adjust_command(
    ref: Annotated[str, typer.Argument(help="The person's id or email.")],
    amount: Annotated[int, typer.Option("--amount", help="Signed points, e.g. 10 or -5.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; shown on the statement.")],
    staff: Annotated[str | None, typer.Option("--staff", help="Email of the staff member.")] = None,
) -> None:
    """Record a manual goodwill gesture or correction (an event, never an edit)."""
    from goodwill.bank.service import AdjustmentError, adjust
    from goodwill.cli import console, database, fail, settings
    from goodwill.people.service import PersonNotFound
    from goodwill.team.service import UserNotFound, get_user

    cfg, config = settings(), _bank_config()
    with database(cfg).transaction() as s:
        try:
            staff_id = get_user(session=s, email=staff).id if staff else None
            event = adjust(
                session=s,
                person_ref=ref,
                amount=amount,
                reason=reason,
                staff_id=staff_id,
                config=config,
                currency=cfg.business.currency,
            )
        except (AdjustmentError, PersonNotFound, UserNotFound) as exc:
            fail(str(exc))
    console.print(f"Recorded adjustment {event.text!r} as event #{event.id} for person #{event.person_id}.")
