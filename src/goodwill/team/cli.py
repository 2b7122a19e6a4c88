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
