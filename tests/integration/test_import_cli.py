"""``goodwill import ...`` through Typer's runner against real databases (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from goodwill.cli import app
from goodwill.db import Database
from goodwill.events.model import Order
from goodwill.people.model import Person

SAMPLE = Path(__file__).parent.parent / "data" / "shopify_orders_sample.csv"
runner = CliRunner()


def invoke(db: Database, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    config = tmp_path / "goodwill.toml"
    config.write_text('[business]\ntimezone = "Europe/Paris"\ncurrency = "EUR"\n')
    env = {
        "GOODWILL_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "GOODWILL_CONFIG": str(config),
    }
    result = runner.invoke(app, ["import", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def counts(db: Database) -> tuple[int, int]:
    with db.reading() as s:
        return (
            s.scalar(select(func.count()).select_from(Order)) or 0,
            s.scalar(select(func.count()).select_from(Person)) or 0,
        )


def test_orders_json_then_rerun(db: Database, tmp_path: Path) -> None:
    code, out, _ = invoke(db, tmp_path, "orders", str(SAMPLE), "--json")
    assert code == 0
    first = json.loads(out)
    assert {k: first[k] for k in ("rows", "orders", "events", "people", "duplicates")} == {
        "rows": 16, "orders": 6, "events": 7, "people": 5, "duplicates": 1,
    }  # fmt: skip
    assert [r["line"] for r in first["rejected"]] == [9, 10, 11, 14, 18]
    assert first["rejected"][2] == {"line": 11, "reason": "missing email; order #1006 is rejected"}
    code, out, _ = invoke(db, tmp_path, "orders", str(SAMPLE), "--json", "--format", "shopify")
    again = json.loads(out)
    assert code == 0
    assert (again["orders"], again["events"], again["people"], again["duplicates"]) == (0, 0, 0, 7)


def test_dry_run_and_readable_summary(db: Database, tmp_path: Path) -> None:
    code, out, _ = invoke(db, tmp_path, "orders", str(SAMPLE), "--dry-run")
    assert code == 0
    assert "16 rows read: 6 orders, 7 events, 5 new people would be stored" in " ".join(out.split())
    assert "missing email; order #1006 is rejected" in " ".join(out.split())
    assert counts(db) == (0, 0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("notes.csv", "just,some\nwords,here\n", "cannot tell the orders format"),
        (
            "latin1.csv",
            "order_id,email,date,total\n1,jos\xe9@x.com,2025-01-01,1\n".encode("latin-1"),
            "UTF-8",
        ),
    ],
)
def test_unreadable_or_unknown_files_exit_non_zero_with_one_message(
    db: Database, tmp_path: Path, name: str, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    code, out, err = invoke(db, tmp_path, "orders", str(path), "--json")
    assert code == 1
    assert out == ""
    assert message in " ".join(err.split()) and "nothing was imported" in " ".join(err.split())
    assert counts(db) == (0, 0)


def test_bad_date_format_option(db: Database, tmp_path: Path) -> None:
    code, _, err = invoke(db, tmp_path, "orders", str(SAMPLE), "--date-format", "day first")
    assert code == 1 and "unknown date format 'day first'" in " ".join(err.split())


def test_events_and_people_commands(db: Database, tmp_path: Path) -> None:
    people_file = tmp_path / "people.csv"
    people_file.write_text("email,name,consent_email\nzoe@example.com,Zoë,yes\n,Nobody,\n", encoding="utf-8")
    code, out, _ = invoke(db, tmp_path, "people", str(people_file), "--json")
    assert code == 0
    assert json.loads(out) == {
        "rows": 2, "orders": 0, "events": 0, "people": 1, "duplicates": 0,
        "rejected": [{"line": 3, "reason": "missing email (or external_id)"}],
    }  # fmt: skip
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(
        '{"source_id": "e1", "email": "zoe@example.com", "kind": "praise", "occurred_at": "2025-05-01"}\n'
    )
    code, out, _ = invoke(db, tmp_path, "events", str(events_file), "--json")
    assert code == 0 and json.loads(out)["events"] == 1
    code, out, _ = invoke(db, tmp_path, "events", str(events_file))
    assert code == 0 and "1 already known" in " ".join(out.split())
