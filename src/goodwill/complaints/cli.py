"""``goodwill complaints ...``: the inbox, one complaint, record, assign, resolve, and the SLA sweep.

The command line acts for the whole business (as an admin would): it sees every complaint.
The helpers from ``goodwill.cli`` are imported inside each command because that module imports this one.
"""

from __future__ import annotations

import sys
import uuid
from typing import Annotated, Any

import typer

from goodwill.complaints.model import Priority

app = typer.Typer(help="Complaints: the inbox, SLA clocks and escalation.", no_args_is_help=True)
JSON = typer.Option("--json", help="Print JSON for scripts.")


@app.command("list")
def list_complaints(
    status: Annotated[
        str | None, typer.Option(help="active (the default), open, responded or resolved.")
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Resolved complaints too (last).")] = False,
    as_json: Annotated[bool, JSON] = False,
) -> None:
    """Complaints with what is due first, and their clocks in business hours."""
    from rich.table import Table

    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.complaints.inbox import InboxFilterError, list_visible
    from goodwill.complaints.present import complaint_json
    from goodwill.db import utcnow

    cfg = settings()
    wanted = status or (None if show_all else "active")
    now = utcnow()
    with database(cfg).reading() as s:
        try:
            rows = list_visible(s, user_id=0, role="admin", status=wanted, limit=10_000)
        except InboxFilterError as exc:
            fail(f"--{exc.field}: {exc.message}")
        items = []
        for row in rows:
            item = complaint_json(row.complaint, now=now, settings=cfg)
            item["person"] = {
                "id": row.complaint.person_id,
                "name": row.person_name,
                "email": row.person_email,
            }
            item["assignee"] = row.assignee_name
            items.append(item)
    if as_json:
        print_json(items)
        return
    table = Table(title=f"Complaints ({len(items)})")
    for column in ("id", "person", "priority", "status", "assignee", "clocks"):
        table.add_column(column)
    for item in items:
        clocks = "; ".join(timer["text"] for timer in item["timers"])
        person = item["person"]["name"] or item["person"]["email"] or ""
        table.add_row(
            str(item["id"]), person, item["priority"], item["status"], item["assignee"] or "-", clocks
        )
    console.print(table)


@app.command("show")
def show(
    complaint_id: Annotated[int, typer.Argument(help="The complaint's id.")],
    as_json: Annotated[bool, JSON] = False,
) -> None:
    """One complaint: their words, the clocks and what happened to it."""
    from rich.markup import escape

    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.complaints.model import Complaint
    from goodwill.complaints.present import complaint_json, log_json
    from goodwill.db import MAX_ID, utcnow
    from goodwill.people.model import Person

    cfg = settings()
    with database(cfg).reading() as s:
        complaint = s.get(Complaint, complaint_id) if 1 <= complaint_id <= MAX_ID else None
        if complaint is None:
            fail(f"no complaint with id {complaint_id}")
        data = complaint_json(
            complaint, now=utcnow(), settings=cfg, person=s.get(Person, complaint.person_id)
        )
        data["log"] = log_json(s, complaint_id)
    if as_json:
        print_json(data)
        return
    person = data["person"]
    console.print(f"[bold]Complaint #{data['id']}[/] from {escape(person['name'] or person['email'] or '?')}")
    console.print(f"{data['priority']} · {data['status']} · via {data['source']} ({escape(data['channel'])})")
    console.print(escape(data["body"]))
    for timer in data["timers"]:
        console.print(f"  {timer['text']}")
    if data["resolution"]:
        console.print(f"Resolved: {escape(data['resolution'])}")
    for entry in data["log"]:
        who = f" by {entry['user_email']}" if entry["user_email"] else ""
        console.print(f"  {entry['at']:%Y-%m-%d %H:%M} {entry['action']}{who} {escape(entry['detail'])}")


def _user_id(session: Any, email: str) -> int:
    from goodwill.cli import fail
    from goodwill.team.service import UserNotFound, get_user

    try:
        return get_user(session=session, email=email).id
    except UserNotFound as exc:
        fail(str(exc))


@app.command("new")
def new(
    text: Annotated[
        str | None, typer.Argument(help="Their words; read from standard input when left out.")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Their email: matches someone known, else adds them.")
    ] = None,
    name: Annotated[str, typer.Option(help="Their name (enough without an email).")] = "",
    channel: Annotated[
        str, typer.Option(help="How it reached us: phone, counter, letter, email...")
    ] = "phone",
    priority: Annotated[Priority | None, typer.Option(help="urgent, high, normal or low.")] = None,
    subject: Annotated[str, typer.Option(help="A few words to name it.")] = "",
    source_id: Annotated[
        str | None,
        typer.Option("--source-id", help="Your id for it: running again with it opens nothing new."),
    ] = None,
    as_json: Annotated[bool, JSON] = False,
) -> None:
    """Record a complaint typed in by staff (a call, a visit, a letter)."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.complaints.present import complaint_json
    from goodwill.complaints.service import ComplaintError, NewComplaint, open_complaint
    from goodwill.db import utcnow

    body = text if text is not None else sys.stdin.read()
    cfg = settings()
    new_complaint = NewComplaint(
        body=body,
        source="form",
        source_id=f"cli:{source_id or uuid.uuid4()}",
        received_at=utcnow(),
        email=email,
        name=name,
        subject=subject,
        channel=channel,
        priority=priority.value if priority else None,
    )
    try:
        with database(cfg).transaction() as s:
            complaint, created = open_complaint(s, new=new_complaint, settings=cfg)
            data = complaint_json(complaint, now=utcnow(), settings=cfg)
    except ComplaintError as exc:
        fail(f"{exc.field}: {exc.message}")
    if as_json:
        print_json(data | {"created": created})
        return
    verb = "Recorded" if created else "Already recorded:"
    console.print(f"{verb} complaint #{data['id']}; " + "; ".join(t["text"] for t in data["timers"]))


@app.command("assign")
def assign(
    complaint_id: Annotated[int, typer.Argument(help="The complaint's id.")],
    email: Annotated[str, typer.Argument(help="The member of staff who will handle it.")],
) -> None:
    """Hand a complaint to a member of staff."""
    from goodwill.cli import console, database, fail, settings
    from goodwill.complaints.service import ComplaintError, ComplaintNotFound
    from goodwill.complaints.service import assign as assign_complaint

    try:
        with database(settings()).transaction() as s:
            user_id = _user_id(s, email)
            assign_complaint(s, complaint_id=complaint_id, assignee_id=user_id, by_user_id=None, role="admin")
    except (ComplaintError, ComplaintNotFound) as exc:
        fail(str(exc))
    console.print(f"Complaint #{complaint_id} is now handled by {email}.")


@app.command("resolve")
def resolve(
    complaint_id: Annotated[int, typer.Argument(help="The complaint's id.")],
    text: Annotated[str, typer.Argument(help="What was done to put it right.")],
    as_json: Annotated[bool, JSON] = False,
) -> None:
    """Record what was done: the clocks stop and the resolution counts as a deposit."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.complaints.present import complaint_json
    from goodwill.complaints.service import ComplaintError, ComplaintNotFound
    from goodwill.complaints.service import resolve as resolve_complaint
    from goodwill.db import utcnow

    cfg = settings()
    try:
        with database(cfg).transaction() as s:
            found = resolve_complaint(
                s, complaint_id=complaint_id, resolution=text, by_user_id=None, now=utcnow(), settings=cfg
            )
            data = complaint_json(found, now=utcnow(), settings=cfg)
    except (ComplaintError, ComplaintNotFound) as exc:
        fail(str(exc))
    if as_json:
        print_json(data)
        return
    console.print(f"Complaint #{complaint_id} resolved.")


@app.command("sla")
def sla(as_json: Annotated[bool, JSON] = False) -> None:
    """Check every clock now: record breaches (withdrawals) and escalate them to a manager."""
    from dataclasses import asdict

    from goodwill.cli import console, database, print_json, settings
    from goodwill.complaints.service import sweep_sla
    from goodwill.db import utcnow

    cfg = settings()
    with database(cfg).transaction() as s:
        report = sweep_sla(s, now=utcnow(), settings=cfg)
    if as_json:
        print_json(
            {
                "breaches": [asdict(b) for b in report.breaches],
                "escalations": [asdict(e) for e in report.escalations],
            }
        )
        return
    if not report.breaches:
        console.print("No clock ran out since the last check.")
    for breach in report.breaches:
        console.print(
            f"Complaint #{breach.complaint_id}: {breach.clock.replace('_', ' ')} "
            f"was due {breach.due_at:%Y-%m-%d %H:%M} UTC"
        )
    for escalation in report.escalations:
        console.print(f"  escalated to {escalation.to_email}")
