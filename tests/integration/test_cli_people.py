from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from goodwill.cli import app
from goodwill.db import Database
from goodwill.events.service import NewEvent, record_event
from goodwill.people.service import PersonRecord, add_fact, resolve_people

runner = CliRunner()


def invoke(db: Database, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"GOODWILL_DATABASE_URL": db.url})
    return result.exit_code, result.output


def test_init_creates_and_then_reports_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = runner.invoke(app, ["init"], env={"GOODWILL_DATABASE_URL": url})
    assert first.exit_code == 0, first.output
    assert "upgraded from empty" in first.output
    second = runner.invoke(app, ["init"], env={"GOODWILL_DATABASE_URL": url})
    assert "up to date" in second.output


def test_commands_refuse_an_uninitialised_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(app, ["people", "list"], env={"GOODWILL_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "goodwill init" in result.output


def test_bad_setting_is_named(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["people", "list"],
        env={"GOODWILL_DATABASE_URL": "mysql://x", "GOODWILL_BUSINESS__TIMEZONE": "Mars/Base"},
    )
    assert result.exit_code == 2
    assert "database_url" in result.output and "business.timezone" in result.output


def test_people_show_json(db: Database) -> None:
    when = datetime(2025, 10, 7, 7, 50, 26, tzinfo=UTC)
    with db.transaction() as s:
        [pid], _ = resolve_people(
            s,
            [
                PersonRecord(
                    name="Zoë Brontë", email="zoe@example.com", kind="customer", consent={"email": True}
                )
            ],
        )
        add_fact(s, person_id=pid, text="ordered the blue teapot for her mother", source="staff")
        record_event(s, NewEvent(pid, "purchase", when, "t", "1", amount_minor=5391, currency="USD"))
        record_event(s, NewEvent(pid, "order_cancelled", when, "t", "2"))
    code, out = invoke(db, "people", "show", "ZOE@example.com", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["id"] == pid
    assert data["name"] == "Zoë Brontë"
    assert data["kind"] == "customer"
    assert data["orders"] == 1
    assert data["total_spent"] == "53.91"
    assert data["currency"] == "USD"
    assert data["first_order_at"] == data["last_order_at"] == "2025-10-07T07:50:26+00:00"
    assert data["facts"] == ["ordered the blue teapot for her mother"]
    assert data["consent"]["email"]["granted"] is True

    code, out = invoke(db, "people", "list", "--search", "bronte", "--json")
    assert json.loads(out)["total"] == 1
    code, out = invoke(db, "people", "show", "nobody@example.com")
    assert code == 1 and "no person" in out


def test_unknown_kind_is_refused_clearly(db: Database) -> None:
    code, out = invoke(db, "people", "list", "--kind", "custmer")
    assert code == 2
    assert "custmer" in out and "customer" in out and "prospect" in out
