"""``goodwill team digest``: print the managers' weekly digests, or queue them as emails. Thin.

The helpers from ``goodwill.cli`` are imported inside the command because that module imports this one.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

app = typer.Typer(help="Staff teams and the managers' weekly digest.", no_args_is_help=True)


@app.callback()
def team_callback() -> None:
    """Staff teams and the managers' weekly digest."""


def _week(text: str | None) -> date | None:
    from goodwill.cli import fail
    from goodwill.team.digest import check_week

    if not text:
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        fail(f"--week: {text!r} is not a date; use YYYY-MM-DD (the last day of the week)")
    try:
        return check_week(day)
    except ValueError as exc:
        fail(f"--week: {exc}")


def _print(manager: str, digest: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from goodwill.cli import console

    title = f"{manager}: {digest.week_start:%d %b} to {digest.week_ending:%d %b %Y}"
    table = Table(title=escape(title))
    for column in ("who", "resolved", "in SLA", "recoveries", "escalated", "notes", "score", "last thanked"):
        table.add_column(column, justify="left" if column in ("who", "last thanked") else "right")
    for m in digest.members:
        flag = " [bold](thank them)[/]" if m.worth_thanking else ""
        numbers = (
            m.complaints_resolved,
            m.resolved_in_sla,
            m.recoveries,
            m.escalations,
            m.notes_approved,
            m.score,
        )
        last = m.last_thanked_on.isoformat() if m.last_thanked_on else "never"
        table.add_row(escape(m.display_name) + flag, *(str(n) for n in numbers), last)
    console.print(table)
    for m in digest.worth_thanking:
        console.print(f"  {escape(m.display_name)}: {escape('; '.join(m.reasons))}")


@app.command("digest")
def digest_command(
    manager: Annotated[
        str | None,
        typer.Option("--manager", help="Only this manager's digest (their email); an admin sees all staff."),
    ] = None,
    week: Annotated[
        str | None,
        typer.Option(
            "--week",
            help="YYYY-MM-DD: the last day of the 7 days to show (default: today); with --send, "
            "any day of the ISO week to send (default: the last complete week, Monday to Sunday).",
        ),
    ] = None,
    send: Annotated[
        bool,
        typer.Option(
            "--send",
            help="Queue each manager's digest email for a complete ISO week through the outbox "
            "(once a week).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Who on each team did the difficult work this week and has not been thanked lately."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.db import utcnow
    from goodwill.team.digest import (
        DigestRefused,
        WeekNotOver,
        queue_digest_emails,
        team_digests,
        today_in,
        weekly_digest,
    )
    from goodwill.team.service import UserNotFound, get_user

    cfg = settings()
    now = utcnow()
    chosen = _week(week)
    week_ending = chosen or today_in(cfg.business.tz, now)
    if send and not cfg.team.digest_email:
        fail("digest emails are off: set digest_email = true under [team] in goodwill.toml to send them")
    with database(cfg).transaction() as s:
        try:
            user = get_user(session=s, email=manager) if manager else None
            if send:
                ids = [user.id] if user else None
                queued = queue_digest_emails(s, settings=cfg, now=now, week_ending=chosen, manager_ids=ids)
            elif user is not None:
                one = weekly_digest(
                    s, viewer_id=user.id, viewer_role=user.role, week_ending=week_ending, settings=cfg
                )
                found = [(user, one)]
            else:
                found = team_digests(s, week_ending=week_ending, settings=cfg)
            # Plain values: the rows are expired once the transaction ends.
            shown = [(u.email, u.id, u.name or u.email, d) for u, d in ([] if send else found)]
        except (UserNotFound, DigestRefused, WeekNotOver) as exc:
            fail(str(exc))
    if send and as_json:
        print_json({"queued": queued})
    elif send:
        console.print(f"Queued {queued} digest emails (managers already sent this week's are skipped).")
    elif as_json:
        print_json([{"manager": email, "manager_id": uid, **d.as_dict()} for email, uid, _, d in shown])
    else:
        for _, _, name, d in shown:
            _print(name, d)
        if not shown:
            console.print("No manager has anyone in their teams yet.")
