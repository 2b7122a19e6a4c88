"""``goodwill worker`` and ``goodwill outbox``: deliver what was approved, and look at the queue. Thin."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

outbox_app = typer.Typer(help="Look at the outbox and retry a failed message.", no_args_is_help=True)


def worker_command(
    once: Annotated[bool, typer.Option("--once", help="Send what is due now, then exit.")] = False,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", min=1, max=64, help="Sending threads, each with its own connections."),
    ] = 1,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only this channel (email or sms); repeatable.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Deliver approved messages by email (SMTP) and SMS (HTTP provider), re-checking each at send time.

    Consent, the suppression list, the contact cap and quiet hours are checked again just before
    sending. Transient errors are retried with exponential backoff; permanent ones stop at once.
    Claims left by a stopped worker are taken back after delivery.claim_timeout_seconds. Stops
    cleanly on Ctrl-C or SIGTERM after the message in hand.
    """
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.outbox.rules import WORKER_CHANNELS
    from goodwill.outbox.service import counts
    from goodwill.outbox.transports import configured_channels
    from goodwill.outbox.worker import run_workers

    cfg = settings()
    wanted = tuple(channel) if channel else WORKER_CHANNELS
    unknown = [c for c in wanted if c not in WORKER_CHANNELS]
    if unknown:
        fail(f"--channel: the worker sends {', '.join(WORKER_CHANNELS)}, not {', '.join(unknown)}", 2)
    ready = [c for c in wanted if c in configured_channels(cfg)]
    if not ready:
        fail("nothing to send with: set GOODWILL_SMTP_URL for email and/or GOODWILL_SMS_URL for SMS", 2)
    # The pool's pre-ping costs no round trip on a live connection (``db.QuietPing``); a dropped one is
    # replaced before use, and the worker rides out any other failure itself (it logs, waits, goes on).
    db = database(cfg, immediate=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with db.reading() as s:
        due = sum(counts(s).get("queued", {}).get(c, 0) for c in ready)
    if not as_json:
        console.print(f"Sending {', '.join(ready)} with {concurrency} worker(s); {due} queued.")
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("messages", total=due if once else None)
    lock = threading.Lock()

    def advance(claimed: int) -> None:
        with lock:
            progress.advance(task, claimed)

    show = once and not as_json and console.is_terminal
    with progress if show else _nothing():
        report = run_workers(
            database=db,
            settings=cfg,
            concurrency=concurrency,
            once=once,
            stop=stop,
            channels=ready,
            on_batch=advance if show else None,
        )
    summary: dict[str, Any] = {
        "sent": report.sent,
        "retry_later": report.retried,
        "deferred_quiet_hours": report.deferred,
        "cancelled": report.cancelled,
        "failed": report.failed,
        "outcome_unknown": report.unknown,
        "stale_claims_taken_back": report.requeued_stale,
        "stale_claims_failed": report.failed_stale,
        "complaint_clocks_breached": report.sla_breaches,
        "reasons": report.reasons,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"Sent {report.sent}; retry later {report.retried}; "
        f"waiting for quiet hours to end {report.deferred}; cancelled {report.cancelled}; "
        f"failed {report.failed + report.unknown}."
    )
    for reason, number in sorted(report.reasons.items(), key=lambda kv: -kv[1]):
        console.print(f"  {number:>6}  {reason}")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


@outbox_app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Messages by state and channel."""
    from goodwill.cli import console, database, print_json
    from goodwill.outbox.service import counts

    with database().reading() as s:
        found = counts(s)
    if as_json:
        print_json(found)
        return
    channels = sorted({c for by in found.values() for c in by})
    table = Table(title="Outbox")
    table.add_column("state")
    for name in channels:
        table.add_column(name, justify="right")
    for state in ("queued", "sending", "sent", "failed", "cancelled"):
        if state in found:
            table.add_row(state, *(str(found[state].get(c, 0)) for c in channels))
    console.print(table)


@outbox_app.command("retry")
def retry_command(message_id: Annotated[int, typer.Argument(help="The failed message's id.")]) -> None:
    """Queue a failed email or SMS again; every send-time check runs again before it goes."""
    from goodwill.cli import console, database, fail
    from goodwill.db import utcnow
    from goodwill.outbox.service import OutboxError, retry_failed

    try:
        with database().transaction() as s:
            retry_failed(s, message_id=message_id, now=utcnow())
    except OutboxError as exc:
        fail(str(exc))
    console.print(f"Message {message_id} is queued again.")


@outbox_app.command("cancel")
def cancel_command(
    message_id: Annotated[int, typer.Argument(help="The queued message's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it must not go (kept on the message).")],
) -> None:
    """Cancel a queued message, e.g. a card held for a note too long to fit, or a call no longer wanted."""
    from goodwill.cli import console, database, fail
    from goodwill.outbox.service import OutboxError, cancel_queued

    try:
        with database().transaction() as s:
            cancel_queued(s, message_id=message_id, reason=reason)
    except OutboxError as exc:
        fail(str(exc))
    console.print(f"Message {message_id} is cancelled.")
