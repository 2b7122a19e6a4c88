"""``goodwill complaints fetch``: read the complaints mailbox and open a complaint per new email. Thin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

if TYPE_CHECKING:
    from goodwill.complaints.mailbox import FetchReport

app = typer.Typer(help="The complaints mailbox.", no_args_is_help=True)


@app.command("fetch")
def fetch(
    mailbox: Annotated[
        str | None,
        typer.Option(
            "--mailbox",
            help="maildir:///path, imaps://user:password@host/INBOX or imap://... (STARTTLS); "
            "default: [complaints] mailbox_url.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Open a complaint for each unread email in the complaints mailbox, then mark it read.

    Each sender is matched to a person by email (an unknown one becomes a prospect); the SLA clocks
    start when the mail reached the mail server, not at its Date: header. Auto-replies, bounces, mail
    without a sender, mail with no words of its own and mail the database refuses are left unread and
    listed with the reason. Safe to run again: a message already opened is counted as a duplicate.
    """
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.complaints.mailbox import MailboxError, fetch_mail

    cfg = settings()
    url = mailbox or cfg.complaints.mailbox_url
    if not url:
        fail("no mailbox: pass --mailbox or set mailbox_url in the [complaints] settings", 2)
    db = database(cfg)
    columns = (TextColumn("Reading mail"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("mail", total=None)

        def advance(total: int) -> None:
            progress.update(task, total=total, advance=1)

        try:
            report = fetch_mail(database=db, settings=cfg, url=url, on_message=advance)
        except MailboxError as exc:
            fail(f"{exc}; mail of batches already committed is marked read, the rest is read next time")
    if as_json:
        print_json(report.as_dict())
    else:
        _show(report)


def _show(report: FetchReport) -> None:
    from goodwill.cli import console

    console.print(
        f"{escape(report.mailbox)}: read {report.read}, opened {report.opened}, "
        f"duplicates {report.duplicates}, rejected {len(report.rejected)}."
    )
    if report.complaint_ids:
        console.print("Opened complaints: " + ", ".join(f"#{cid}" for cid in report.complaint_ids))
    for rejected in report.rejected:
        who = escape(rejected.sender or "no sender")
        what = escape(rejected.subject or "(no subject)")
        console.print(f"  [yellow]left unread[/] {who}, {what}: {escape(rejected.reason)}")
