"""``goodwill bank ...`` through Typer's runner against real databases (both backends)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from goodwill.bank.cli import bank_app
from goodwill.bank.model import BankEntry
from goodwill.bank.service import refresh_people
from goodwill.db import Database, utcnow
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event
from goodwill.people.service import PersonRecord, resolve_people
from goodwill.team.service import create_user

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(bank_app, name="bank")


def run(db: Database, tmp_path: Path, *args: str, toml: str = "") -> tuple[int, str]:
    config = tmp_path / "goodwill.toml"
    config.write_text('[business]\ntimezone = "Europe/Paris"\ncurrency = "EUR"\n' + toml)
    env = {"GOODWILL_DATABASE_URL": db.url, "GOODWILL_CONFIG": str(config)}
    result = runner.invoke(cli, ["bank", *args], env=env)
    return result.exit_code, result.output


def history(db: Database, name: str, events: list[tuple[str, float, int | None]]) -> int:
    """A person with events ``days`` ago (amounts in EUR cents), refreshed as an importer would."""
    now = utcnow()
    with db.transaction() as s:
        [pid], _ = resolve_people(s, [PersonRecord(name=name, email=f"{name.lower()}@example.com")])
        for n, (kind, days_ago, amount) in enumerate(events):
            record_event(
                s,
                NewEvent(
                    person_id=pid,
                    kind=kind,
                    occurred_at=now - timedelta(days=days_ago),
                    source="test",
                    source_id=f"{name}-{n}",
                    amount_minor=amount,
                    currency="EUR" if amount is not None else None,
                    text="parcel left in the rain" if kind == "late_delivery" else None,
                ),
            )
        refresh_people(session=s, person_ids=[pid], currency="EUR")
    return pid


def test_statement_json_lists_entries_with_running_balance(db: Database, tmp_path: Path) -> None:
    pid = history(db, "Ada", [("purchase", 40, 5000), ("late_delivery", 20, None), ("card_sent", 10, None)])
    code, out = run(db, tmp_path, "statement", "ada@example.com", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["person"] == {"id": pid, "name": "Ada", "email": "ada@example.com"}
    assert [(e["kind"], e["rule"], e["amount"]) for e in data["entries"]] == [
        ("purchase", "purchase", 2),
        ("late_delivery", "late_delivery", -4),
        ("card_sent", "card_sent", 5),
    ]
    f = lambda days: 2 ** (-days / 365)  # noqa: E731
    assert data["entries"][1]["balance"] == pytest.approx(2 * f(20) - 4, abs=1e-3)
    assert data["balance"] == pytest.approx(2 * f(40) - 4 * f(20) + 5 * f(10), abs=1e-3)
    assert (data["bad_streak"], data["status"]) == (0, "healthy")


def test_statement_as_of_a_date_and_the_table(db: Database, tmp_path: Path) -> None:
    history(db, "Bob", [("purchase", 40, 5000), ("late_delivery", 20, None), ("complaint", 19, None)])
    day = (utcnow() - timedelta(days=30)).date().isoformat()
    code, out = run(db, tmp_path, "statement", "bob@example.com", "--as-of", day, "--json")
    assert code == 0, out
    assert [e["rule"] for e in json.loads(out)["entries"]] == ["purchase"]
    code, out = run(db, tmp_path, "statement", "bob@example.com")
    assert code == 0, out
    assert "parcel left in the rain" in out and "overdrawn" in out and "Opening balance" in out
    code, out = run(db, tmp_path, "statement", "bob@example.com", "--as-of", "last week")
    assert code == 1 and "--as-of" in out
    code, out = run(db, tmp_path, "statement", "nobody@example.com")
    assert code == 1 and "no person" in out


def test_alerts_most_valuable_first_with_their_streak(db: Database, tmp_path: Path) -> None:
    rich = history(
        db,
        "Rich",
        [
            ("purchase", 50, 90000),
            ("praise", 45, None),
            ("referral", 45, None),
            ("late_delivery", 5, None),
            ("defect", 4, None),
        ],
    )
    small = history(db, "Small", [("purchase", 50, 1000), ("complaint", 3, None), ("complaint", 2, None)])
    history(db, "Fine", [("purchase", 50, 50000), ("late_delivery", 5, None), ("call_made", 4, None)])
    mid = history(
        db,
        "Mid",
        [("purchase", 50, 30000), ("refund", 40, 5000), ("service_failure", 3, None), ("return", 2, None)],
    )
    code, out = run(db, tmp_path, "alerts", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["total"] == 3
    assert [i["person"]["id"] for i in data["items"]] == [rich, mid, small]
    assert [i["value"] for i in data["items"]] == ["900.00", "250.00", "10.00"]
    assert [s["kind"] for s in data["items"][0]["streak"]] == ["late_delivery", "defect"]
    assert [i["status"] for i in data["items"]] == [
        "watch",
        "overdrawn",
        "overdrawn",
    ]  # Rich has goodwill left
    code, out = run(db, tmp_path, "alerts", "--json", "--per-page", "1", "--page", "2")
    assert [i["person"]["id"] for i in json.loads(out)["items"]] == [mid]


def test_adjust_records_an_event_and_refreshes(db: Database, tmp_path: Path) -> None:
    pid = history(db, "Cy", [("complaint", 10, None), ("late_delivery", 9, None)])
    with db.transaction() as s:
        create_user(session=s, email="mia@shop.test", role="manager", password="plum-orchard-lantern-7")
    code, out = run(
        db,
        tmp_path,
        "adjust",
        str(pid),
        "--amount",
        "12",
        "--reason",
        "sent flowers",
        "--staff",
        "mia@shop.test",
    )
    assert code == 0, out
    with db.reading() as s:
        event = s.scalars(select(Event).where(Event.kind == "goodwill_adjustment")).one()
        assert (event.text, event.source, event.person_id, event.staff_id is not None) == (
            "+12 sent flowers",
            "bank",
            pid,
            True,
        )
    code, out = run(db, tmp_path, "statement", str(pid), "--json")
    data = json.loads(out)
    assert (data["entries"][-1]["rule"], data["entries"][-1]["amount"], data["bad_streak"]) == (
        "goodwill_adjustment",
        12,
        0,
    )
    code, out = run(db, tmp_path, "adjust", str(pid), "--amount", "0", "--reason", "x")
    assert code == 1 and "amount" in out
    code, out = run(
        db, tmp_path, "adjust", str(pid), "--amount", "3", "--reason", "x", "--staff", "who@x.test"
    )
    assert code == 1 and "no user" in out


def test_rebuild_after_changing_the_rules_in_the_toml(db: Database, tmp_path: Path) -> None:
    pid = history(db, "Dee", [("purchase", 30, 2000), ("late_delivery", 20, None)])
    code, out = run(db, tmp_path, "rebuild", "--json", toml="[bank.rules]\nlate_delivery = -8\n")
    assert code == 0, out
    report = json.loads(out)
    assert (report["added"], report["removed"], report["changed"], report["entries_after"]) == (0, 0, 1, 2)
    with db.reading() as s:
        amounts = s.scalars(select(BankEntry.amount).where(BankEntry.person_id == pid).order_by(BankEntry.at))
        assert list(amounts) == [2, -8]
    code, out = run(db, tmp_path, "rebuild", toml="[bank.rules]\nlate_delivery = -8\n")
    assert code == 0 and "0 changed" in out
    code, out = run(db, tmp_path, "rebuild", toml="[bank.rules]\nlate_delivry = -8\n")
    assert code == 2 and "bank.rules.late_delivry" in out
