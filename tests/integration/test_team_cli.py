"""``goodwill user add | list | token`` against both databases."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from test_web_client import make_client
from typer.testing import CliRunner

from goodwill.cli import app
from goodwill.db import Database
from goodwill.team.service import authenticate

runner = CliRunner()
PASSWORD = "plum-orchard-lantern-7"


def invoke(db: Database, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin, env={"GOODWILL_DATABASE_URL": db.url})
    return result.exit_code, result.stdout, result.stderr


def test_add_from_stdin_then_list(db: Database) -> None:
    code, out, err = invoke(
        db,
        "user",
        "add",
        "Ana@Shop.test",
        "--role",
        "admin",
        "--name",
        "Ana Núñez",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    assert "Created admin ana@shop.test" in out
    with db.reading() as s:
        assert authenticate(session=s, email="ana@shop.test", password=PASSWORD) is not None
    code, out, _ = invoke(db, "user", "list", "--json")
    assert code == 0
    [user] = json.loads(out)
    assert user["email"] == "ana@shop.test" and user["name"] == "Ana Núñez" and user["role"] == "admin"
    code, out, _ = invoke(db, "user", "list")
    assert "ana@shop.test" in out


def test_add_with_the_hidden_prompt_asks_twice(db: Database) -> None:
    code, _, err = invoke(
        db, "user", "add", "bo@shop.test", "--role", "agent", stdin=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0, err
    assert PASSWORD not in err
    code, _, err = invoke(
        db,
        "user",
        "add",
        "cy@shop.test",
        "--role",
        "agent",
        stdin=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0 and "do not match" in err.lower() + _.lower()


def test_clear_errors_for_weak_passwords_existing_emails_and_roles(db: Database) -> None:
    code, _, err = invoke(
        db, "user", "add", "ana@shop.test", "--role", "agent", "--password-stdin", stdin="short\n"
    )
    assert code == 1 and "password rejected" in err and "at least 12" in err
    invoke(db, "user", "add", "ana@shop.test", "--role", "agent", "--password-stdin", stdin=PASSWORD + "\n")
    code, _, err = invoke(
        db, "user", "add", "ANA@shop.test", "--role", "agent", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 1 and "already exists" in err
    code, _, err = invoke(
        db, "user", "add", "x@shop.test", "--role", "owner", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 2 and "owner" in err


def test_token_is_printed_once_and_works_against_the_api(db: Database) -> None:
    invoke(db, "user", "add", "ana@shop.test", "--role", "agent", "--password-stdin", stdin=PASSWORD + "\n")
    code, out, err = invoke(db, "user", "token", "ana@shop.test", "--name", "shop webhook")
    assert code == 0 and "shown only now" in err
    token = out.strip()
    client: TestClient = make_client(db)
    assert client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    code, _, err = invoke(db, "user", "token", "ghost@shop.test", "--name", "x")
    assert code == 1 and "no user" in err
