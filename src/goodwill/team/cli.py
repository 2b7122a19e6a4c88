"""``goodwill user ...``: staff accounts and API tokens.

The helpers from ``goodwill.cli`` are imported inside each command because that module imports this one.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from goodwill.team.model import Role

user_app = typer.Typer(help="Staff accounts and API tokens.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(help="The person's work email; it is their login.")],
    role: Annotated[Role, typer.Option(help="admin manages users; manager and agent work with people.")],
    name: Annotated[str, typer.Option(help="Their name, as colleagues know it.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from one line of standard input.")
    ] = False,
) -> None:
    """Create a staff account (the password is asked for twice, hidden)."""
    from goodwill.cli import console, database, fail
    from goodwill.team.service import PasswordRejected, UserExists, create_user

    password = _read_password(password_stdin)
    try:
        with database().transaction() as s:
            user = create_user(session=s, email=email, role=role.value, password=password, name=name)
    except PasswordRejected as exc:
        fail(f"password rejected: {exc}")
    except (UserExists, ValueError) as exc:
        fail(str(exc))
    console.print(f"Created {user.role} {user.email} (id {user.id}).")


@user_app.command("list")
def user_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List staff accounts."""
    from rich.table import Table

    from goodwill.cli import console, database, print_json
    from goodwill.team.service import list_users

    with database().reading() as s:
        items: list[dict[str, Any]] = [
            {
                "id": u.id,
                "email": u.email,
                "name": u.name,
                "role": u.role,
                "active": u.active,
                "created_at": u.created_at.isoformat(),
            }
            for u in list_users(session=s)
        ]
    if as_json:
        print_json(items)
        return
    table = Table(title=f"Staff ({len(items)})")
    for column in ("id", "email", "name", "role", "active"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item["id"]), item["email"], item["name"], item["role"], "yes" if item["active"] else "no"
        )
    console.print(table)


@user_app.command("token")
def user_token(
    email: Annotated[str, typer.Argument(help="Whose token it is; calls act as this user.")],
    name: Annotated[str, typer.Option(help="What uses the token, e.g. 'shop webhook'.")],
) -> None:
    """Create an API token and print it once (only its hash is kept)."""
    from goodwill.cli import database, err_console, fail
    from goodwill.team.service import UserNotFound, create_api_token, get_user

    try:
        with database().transaction() as s:
            user = get_user(session=s, email=email)
            token = create_api_token(session=s, user_id=user.id, name=name)
    except (UserNotFound, ValueError) as exc:
        fail(str(exc))
    # The token alone on stdout, so `TOKEN=$(goodwill user token ...)` works; the advice goes to stderr.
    sys.stdout.write(token + "\n")
    err_console.print(
        "Keep this token safe: it is shown only now. Send it as 'Authorization: Bearer <token>'."
    )


# ---- ``goodwill team ...``: kudos and teams ------------------------------------------------------

team_app = typer.Typer(help="Teams and the thanks between colleagues.", no_args_is_help=True)
kudos_app = typer.Typer(help="Thank a colleague; read the thanks wall.", no_args_is_help=True)
teams_app = typer.Typer(help="Teams of staff and their managers.", no_args_is_help=True)
team_app.add_typer(kudos_app, name="kudos")
team_app.add_typer(teams_app, name="teams")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _user_id(session: Any, email: str, what: str) -> int:
    from goodwill.cli import fail
    from goodwill.team.service import UserNotFound, get_user

    try:
        return get_user(session=session, email=email).id
    except UserNotFound:
        fail(f"{what}: no member of staff with the email {email!r} (see `goodwill user list`)")


@kudos_app.command("give")
def kudos_give(
    reason: Annotated[
        str, typer.Argument(help="What you thank them for, in a sentence (3 to 1000 characters).")
    ],
    giver: Annotated[str, typer.Option("--from", help="The email of whoever says thanks.")],
    recipient: Annotated[str, typer.Option("--to", help="The email of the colleague thanked.")],
    points: Annotated[
        int, typer.Option(help="Points out of the giver's monthly allowance, if there is one.")
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Thank a colleague, as on the thanks wall (the recipient is told in their notices)."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.db import utcnow
    from goodwill.team.kudos import KudosError, allowance_left, give_kudos

    cfg = settings()
    try:
        with database(cfg).transaction() as s:
            from_id, to_id = _user_id(s, giver, "--from"), _user_id(s, recipient, "--to")
            now = utcnow()
            kudos = give_kudos(
                s, from_user_id=from_id, to_user_id=to_id, reason=reason, settings=cfg, now=now, points=points
            )
            result = {
                "id": kudos.id,
                "from_kind": kudos.from_kind,
                "points": kudos.points,
                "reason": kudos.reason,
            }
            result["allowance_left"] = allowance_left(s, user_id=from_id, settings=cfg, now=now)
    except KudosError as exc:
        fail(f"{exc.field}: {exc.message}")
    if as_json:
        print_json(result)
        return
    left = "" if result["allowance_left"] is None else f" ({result['allowance_left']} points left this month)"
    console.print(f"Thanks #{result['id']} given to {recipient}{left}.")


@kudos_app.command("list")
def kudos_list(
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1, max=200)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The thanks wall, newest first (customers appear by first name only)."""
    from dataclasses import asdict

    from rich.table import Table

    from goodwill.cli import console, database, print_json
    from goodwill.team.kudos import wall

    with database().reading() as s:
        cards = wall(s, limit=limit)
    if as_json:
        print_json([asdict(c) | {"at": c.at.isoformat()} for c in cards])
        return
    table = Table(title=f"Thanks ({len(cards)})")
    for column in ("id", "when", "from", "to", "for"):
        table.add_column(column)
    for c in cards:
        giver = (
            f"{c.giver} ({c.customer_first_name})" if c.from_customer and c.customer_first_name else c.giver
        )
        table.add_row(str(c.id), c.at.date().isoformat(), giver, c.recipient, c.reason or "(words not kept)")
    console.print(table)


def _team_rows(session: Any) -> list[dict[str, Any]]:
    from goodwill.team.teams import teams_with_members

    return [
        {
            "id": t.id,
            "name": t.name,
            "manager": t.manager.email if t.manager else None,
            "members": [m.email for m in t.members],
        }
        for t in teams_with_members(session)
    ]


@teams_app.command("list")
def teams_list(as_json: JsonFlag = False) -> None:
    """Teams with their manager and members."""
    from rich.table import Table

    from goodwill.cli import console, database, print_json

    with database().reading() as s:
        rows = _team_rows(s)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Teams ({len(rows)})")
    for column in ("id", "name", "manager", "members"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["id"]), row["name"], row["manager"] or "-", ", ".join(row["members"]) or "-")
    console.print(table)


@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="The team's name, unique.")],
    manager: Annotated[str, typer.Option(help="The email of its manager (a manager or admin).")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a team, optionally with its manager."""
    from goodwill.cli import console, database, fail, print_json
    from goodwill.team.teams import TeamError, create_team

    try:
        with database().transaction() as s:
            manager_id = _user_id(s, manager, "--manager") if manager else None
            team = create_team(s, name=name, manager_id=manager_id)
            result = {"id": team.id, "name": team.name, "manager": manager or None}
    except TeamError as exc:
        fail(f"{exc.field}: {exc.message}")
    if as_json:
        print_json(result)
        return
    console.print(f"Created team {result['name']!r} (id {result['id']}).")


@teams_app.command("add")
def teams_add(
    team: Annotated[str, typer.Argument(help="The team's name.")],
    email: Annotated[str, typer.Argument(help="The member of staff to add; someone in another team moves.")],
    as_json: JsonFlag = False,
) -> None:
    """Put a member of staff in a team (one team per person: this moves them)."""
    from goodwill.cli import console, database, fail, print_json
    from goodwill.team.teams import TeamError, add_member, find_team

    try:
        with database().transaction() as s:
            found = find_team(s, team)
            add_member(s, team_id=found.id, user_id=_user_id(s, email, "EMAIL"))
            result = {"team": found.name, "team_id": found.id, "member": email}
    except TeamError as exc:
        fail(f"{exc.field}: {exc.message}")
    if as_json:
        print_json(result)
        return
    console.print(f"{email} is now in {result['team']!r}.")
