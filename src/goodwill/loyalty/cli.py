"""``goodwill loyalty ...``: award, expire, tiers, check, show, adjust, link, birthday, rewards, redemptions.

Thin.

The helpers from ``goodwill.cli`` are imported inside each command because that module imports this one.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from goodwill.loyalty.rewards_cli import redemptions_command, rewards_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from goodwill.loyalty.model import LoyaltyEntry
    from goodwill.people.model import Person

loyalty_app = typer.Typer(
    help="The loyalty program: points, tiers, rewards and redemptions.", no_args_is_help=True
)

JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PERSON = Annotated[str, typer.Argument(help="The person's id or email.")]


def plain(value: Any) -> Any:
    """JSON-ready: times ISO 8601 in UTC, dataclasses as dicts, tuples as lists."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d") -> str:
    from goodwill.cli import settings

    return value.astimezone(settings().business.tz).strftime(fmt) if value else ""


def moment(text: str | None, option: str, *, after_day: bool = False) -> datetime | None:
    """A full ISO timestamp, or a date in the business time zone: its start, or with ``after_day``
    the start of the next day (an exclusive end that includes the whole day), in UTC."""
    from goodwill.cli import fail, settings

    if not text:
        return None
    tz = settings().business.tz
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            at = datetime.combine(day + timedelta(days=1) if after_day else day, time.min, tz)
        else:
            at = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option}: not a date or ISO timestamp: {text!r} (use YYYY-MM-DD)")
    return (at if at.tzinfo else at.replace(tzinfo=tz)).astimezone(UTC)


@contextmanager
def _working(description: str, *, quiet: bool) -> Iterator[None]:
    """A spinner with the time taken while a long set-based job runs (none for --json)."""
    from goodwill.cli import console

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,  # no spinner frames in cron logs
    ) as bar:
        bar.add_task(description, total=None)
        yield


def find_person(session: Session, ref: str) -> Person:
    from goodwill.cli import fail
    from goodwill.people.service import PersonNotFound, get_person

    try:
        return get_person(session, ref)
    except PersonNotFound as exc:
        fail(str(exc))


def refusal(exc: Exception) -> str:
    """A refusal's plain words (ledger.Refused keeps them in .message)."""
    return str(getattr(exc, "message", None) or exc)


def entry_json(entry: LoyaltyEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "points": entry.points,
        "rule": entry.rule,
        "at": plain(entry.at),
        "available_at": plain(entry.available_at),
        "expires_at": plain(entry.expires_at),
        "event_id": entry.event_id,
        "redemption_id": entry.redemption_id,
        "note": entry.note,
    }


@loyalty_app.command("award")
def award_command(
    since: Annotated[
        str | None, typer.Option("--since", help="Only events from this day (YYYY-MM-DD) or ISO time.")
    ] = None,
    as_json: JSON = False,
) -> None:
    """Award points for every event not yet awarded, then today's birthday and anniversary bonuses.

    In bulk and idempotent (the event id is the key): run it after an import, or daily. Orders
    cancelled or refunded since take their points back; tiers are brought up to date.
    """
    from goodwill.cli import console, database, print_json, settings
    from goodwill.db import utcnow
    from goodwill.loyalty.awards import award_all, award_dates

    cfg, now = settings(), utcnow()
    start, day = moment(since, "--since"), now.astimezone(cfg.business.tz).date()
    db = database(cfg)
    with _working("Awarding points for events", quiet=as_json), db.transaction() as s:
        events = award_all(session=s, now=now, settings=cfg, since=start)
    with _working(f"Birthday and anniversary bonuses of {day}", quiet=as_json), db.transaction() as s:
        dates = award_dates(session=s, day=day, settings=cfg)
    if as_json:
        print_json({"day": day.isoformat(), "events": plain(events), "dates": plain(dates)})
        return
    if not cfg.loyalty.enabled:
        console.print("The loyalty program is switched off (loyalty.enabled = false): nothing awarded.")
    console.print(
        f"Events: {events.earned_entries} awards, {events.points} points; "
        f"{events.reversed_points} points taken back; {events.skipped} skipped."
    )
    console.print(
        f"Birthdays and anniversaries on {day}: {dates.earned_entries} awards, {dates.points} points."
    )


@loyalty_app.command("expire")
def expire_command(as_json: JSON = False) -> None:
    """Expire every lot whose expiry has passed with points left (run it daily). Safe to repeat."""
    from goodwill.cli import console, database, print_json, settings
    from goodwill.db import utcnow
    from goodwill.loyalty.ledger import expire_due

    cfg, now = settings(), utcnow()
    with _working("Expiring points", quiet=as_json), database(cfg).transaction() as s:
        points = expire_due(session=s, now=now)
    if as_json:
        print_json({"expired_points": points, "at": plain(now)})
        return
    console.print(f"Expired {points} points." if points else "No points were due to expire.")


@loyalty_app.command("tiers")
def tiers_command(as_json: JSON = False) -> None:
    """Bring everyone's tier up to date: upgrades at once, downgrades after the grace period."""
    from sqlalchemy import select

    from goodwill.cli import console, database, print_json, settings
    from goodwill.db import utcnow
    from goodwill.loyalty.awards import refresh_tiers
    from goodwill.loyalty.model import LoyaltyAccount

    cfg, now = settings(), utcnow()
    state = select(LoyaltyAccount.person_id, LoyaltyAccount.tier, LoyaltyAccount.tier_kept_until)
    with _working("Refreshing tiers", quiet=as_json), database(cfg).transaction() as s:
        before = {pid: (tier, kept) for pid, tier, kept in s.execute(state)}
        changed = refresh_tiers(session=s, now=now, settings=cfg)
        after = {pid: (tier, kept) for pid, tier, kept in s.execute(state)}
    moves = [
        {"person_id": pid, "from": before.get(pid, ("", None))[0], "to": tier, "kept_until": plain(kept)}
        for pid, (tier, kept) in sorted(after.items())
        if before.get(pid, ("", None)) != (tier, kept)
    ]
    if as_json:
        print_json({"changed": changed, "changes": moves})
        return
    console.print(f"{changed} accounts changed.")
    counts: dict[str, int] = {}
    for move in moves:
        old, new = move["from"] or "(none)", move["to"] or "(none)"
        grace = "grace started" if move["kept_until"] else "grace ended"
        what = f"{old} → {new}" if old != new else f"still {new}, {grace}"
        counts[what] = counts.get(what, 0) + 1
    for what, n in sorted(counts.items()):
        console.print(f"  {n:>6}  {what}")


@loyalty_app.command("check")
def check_command(as_json: JSON = False) -> None:
    """Check every stored balance against the ledger; exit code 1 when anything disagrees."""
    from goodwill.cli import console, database, err_console, print_json, settings
    from goodwill.db import utcnow
    from goodwill.loyalty.awards import load_rules_checked
    from goodwill.loyalty.ledger import check, totals

    cfg = settings()
    with _working("Checking balances against the ledger", quiet=as_json), database(cfg).reading() as s:
        mismatches = check(s)
        program = totals(s, now=utcnow())
        _, rule_problems = load_rules_checked(s, config=cfg.loyalty)
    if as_json:
        print_json(
            {
                "ok": not mismatches,
                "mismatches": plain(mismatches),
                "totals": plain(program),
                "rule_problems": rule_problems,
            }
        )
    else:
        for problem in rule_problems:  # a warning: awarding skips such an edit, nothing is wrong with points
            err_console.print(f"[yellow]{escape(problem)}[/]")
        console.print(
            f"{program.members} members: {program.issued} points issued, {program.redeemed} redeemed, "
            f"{program.expired} expired, {program.reversed} reversed, {program.adjusted} taken off "
            f"by staff; {program.outstanding} outstanding ({program.pending} pending)."
        )
        for mismatch in mismatches:
            err_console.print(f"person #{mismatch.person_id}: {mismatch.problem}")
        console.print(
            f"[bold red]{len(mismatches)} problems.[/]"
            if mismatches
            else "Every balance agrees with the ledger."
        )
    if mismatches:
        raise typer.Exit(1)


@loyalty_app.command("show")
def show_command(person: PERSON, as_json: JSON = False) -> None:
    """One person's points: balance, pending, expiring, tier progress and recent entries."""
    from goodwill.cli import console, database, settings
    from goodwill.db import utcnow
    from goodwill.loyalty.awards import tier_progress
    from goodwill.loyalty.ledger import entries_of, summary

    cfg, now = settings(), utcnow()
    with database(cfg).reading() as s:
        found = find_person(s, person)
        account = summary(session=s, person_id=found.id, now=now)
        progress = tier_progress(
            session=s, person_id=found.id, now=now, config=cfg.loyalty, currency=cfg.business.currency
        )
        entries = [entry_json(e) for e in entries_of(session=s, person_id=found.id, limit=20)]
        who = {"id": found.id, "name": found.name, "email": found.email}
    if as_json:
        from goodwill.cli import print_json

        expiring = [{"at": plain(at), "points": n} for at, n in account.expiring]
        print_json(
            {
                "person": who,
                "account": {**plain(account), "expiring": expiring},
                "tier": plain(progress),
                "entries": entries,
            }
        )
        return
    _print_account(console, who, account, progress, entries)


def _print_account(
    console: Any, who: dict[str, Any], account: Any, progress: Any, entries: list[Any]
) -> None:
    # Escaped: names, notes and tiers are people's words, whose [brackets] rich would take for markup.
    console.print(f"[bold]{escape(who['name'])}[/] #{who['id']}  {escape(who['email'] or '')}")
    if not account.member:
        console.print("Not a member yet: no points.")
        return
    console.print(
        f"{account.balance} points: {account.available} spendable, {account.pending} pending.  "
        f"Issued {account.issued}, redeemed {account.redeemed}, expired {account.expired}, "
        f"reversed {account.reversed}."
    )
    unit = "points earned" if progress.basis == "points" else "spent (minor units)"
    line = f"Tier [bold]{escape(account.tier or '(none)')}[/]: {progress.measure} {unit} in the window"
    if account.tier_kept_until:
        line += f"; kept under grace until {local_time(account.tier_kept_until)}"
    if progress.to_keep:
        line += f"; {progress.to_keep} more to keep it"
    if progress.next_tier:
        line += f"; {progress.to_next} more to reach {escape(progress.next_tier)}"
    console.print(line + ".")
    for at, points in account.expiring:
        console.print(f"  {points} points expire on {local_time(at)}")
    table = Table(title="Recent entries")
    for column in ("date", "kind", "points", "rule", "expires", "note"):
        table.add_column(column, justify="right" if column == "points" else "left")
    for e in entries:
        at = datetime.fromisoformat(e["at"])
        expires = datetime.fromisoformat(e["expires_at"]) if e["expires_at"] else None
        table.add_row(
            local_time(at),
            e["kind"],
            f"{e['points']:+d}",
            e["rule"] or "",
            local_time(expires),
            escape(e["note"] or ""),
        )
    console.print(table)


@loyalty_app.command("adjust", context_settings={"ignore_unknown_options": True})
def adjust_command(
    person: PERSON,
    points: Annotated[int, typer.Argument(help="Signed points, e.g. 50 or -20.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; kept on the entry and shown to staff.")],
    staff: Annotated[str | None, typer.Option("--staff", help="Email of the staff member.")] = None,
    as_json: JSON = False,
) -> None:
    """Add or take points by hand, with a reason (an entry, never an edit); never below zero."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.db import utcnow
    from goodwill.loyalty.ledger import LoyaltyError, adjust
    from goodwill.team.service import UserNotFound, get_user

    cfg = settings()
    if points == 0:
        fail("POINTS: give a signed number other than 0, e.g. 50 or -20")
    if not reason.strip():
        fail("--reason: say why (it is kept on the entry)")
    with database(cfg).transaction() as s:
        found = find_person(s, person)
        try:
            staff_id = get_user(session=s, email=staff).id if staff else None
            entry = adjust(
                session=s,
                person_id=found.id,
                points=points,
                reason=reason.strip(),
                key=f"adjust:cli:{uuid.uuid4().hex}",
                by_user_id=staff_id,
                now=utcnow(),
                config=cfg.loyalty,
            )
        except UserNotFound as exc:
            fail(str(exc))
        except LoyaltyError as exc:
            fail(refusal(exc))
        data = entry_json(entry) if entry is not None else None
        pid = found.id
    if as_json:
        print_json({"person_id": pid, "entry": data})
        return
    console.print(f"Adjusted person #{pid} by {points:+d} points (entry #{data['id'] if data else '?'}).")


@loyalty_app.command("link")
def link_command(person: PERSON, as_json: JSON = False) -> None:
    """Print the person's signed link to their own points page (no login; expires after link_days)."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.db import utcnow
    from goodwill.loyalty.members import ERASED_WORDS, staff_link

    cfg, now = settings(), utcnow()
    with database(cfg).reading() as s:
        pid = find_person(s, person).id
        link = staff_link(s, settings=cfg, person_id=pid, now=now)
    if link is None:
        fail(f"person #{pid}: {ERASED_WORDS}")
    if as_json:
        print_json({"person_id": pid, "url": link.url, "expires_at": plain(link.expires_at)})
        return
    console.print(link.url, soft_wrap=True)
    console.print(f"Works until {local_time(link.expires_at)} for person #{pid}.")


@loyalty_app.command("birthday")
def birthday_command(
    person: PERSON,
    birthday: Annotated[
        str | None, typer.Argument(help="Month and day, MM-DD (e.g. 02-29); no year.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Forget the birthday.")] = False,
    as_json: JSON = False,
) -> None:
    """Set the birthday (month and day) that the birthday rule rewards, or forget it with --clear."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.db import utcnow
    from goodwill.loyalty.ledger import LoyaltyError
    from goodwill.loyalty.members import parse_birthday, set_birthday

    if (birthday is None) == (not clear):
        fail("give a birthday as MM-DD, or --clear to forget it (not both)")
    cfg = settings()
    with database(cfg).transaction() as s:
        pid = find_person(s, person).id
        try:
            wanted = parse_birthday(birthday) if birthday is not None else None
            kept = set_birthday(
                s,
                person_id=pid,
                month=wanted.month if wanted else None,
                day=wanted.day if wanted else None,
                now=utcnow(),
            )
        except LoyaltyError as exc:
            fail(refusal(exc))
    if as_json:
        print_json({"person_id": pid, "birthday": {"month": kept.month, "day": kept.day} if kept else None})
        return
    console.print(f"Person #{pid}: birthday {kept.label()}." if kept else f"Person #{pid}: no birthday kept.")


loyalty_app.add_typer(rewards_app, name="rewards")
loyalty_app.command("redemptions")(redemptions_command)
