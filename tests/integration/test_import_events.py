"""``import_events`` from JSON Lines and CSV on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from goodwill.config import Business
from goodwill.db import Database
from goodwill.events.importers.service import ImportFileError, import_events
from goodwill.events.model import Event
from goodwill.people import service as people
from goodwill.people.model import Person
from goodwill.people.service import PersonRecord
from goodwill.team.model import User

BUSINESS = Business(timezone="Europe/Paris", currency="EUR")


def add_staff(db: Database, email: str) -> int:
    with db.transaction() as s:
        user = User(email=email, name="Maya", role="agent", password_hash="not-a-real-hash")
        s.add(user)
        s.flush()
        return user.id


def test_json_lines(db: Database, tmp_path: Path) -> None:
    maya = add_staff(db, "maya@shop.example")
    with db.transaction() as s:
        [known], _ = people.resolve_people(s, [PersonRecord(name="Zoë", email="zoe@example.com")])
    lines = [
        {"source_id": "v-1", "email": "ZOE@example.com", "kind": "visit",
         "occurred_at": "2025-07-01T10:00:00", "channel": "Shop", "staff_email": "Maya@Shop.example",
         "text": "Came for the new teas"},
        {"source_id": "p-1", "email": "new@example.com", "name": "Zoë Nouvelle", "kind": "purchase",
         "occurred_at": "2025-07-02T10:00:00Z", "amount": 12.30},
        {"source_id": "q-1", "email": "curious@example.com", "kind": "question", "occurred_at": "2025-07-03"},
        {"source_id": "x-1", "email": "a@example.com", "kind": "purchse", "occurred_at": "2025-07-03"},
        {"source_id": "s-1", "email": "a@example.com", "kind": "praise", "occurred_at": "2025-07-03",
         "staff_email": "ghost@shop.example"},
        {"source_id": "a-1", "email": "b@example.com", "kind": "refund", "occurred_at": "2025-07-03",
         "amount": "5.999", "currency": "EUR"},
        {"source_id": "v-1", "email": "zoe@example.com", "kind": "visit",
         "occurred_at": "2025-07-01T10:00:00"},
    ]  # fmt: skip
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines[:3])
    text += "\n\nnot json at all\n[1, 2]\n" + "\n".join(json.dumps(line) for line in lines[3:]) + "\n"
    path = tmp_path / "events.jsonl"
    path.write_text(text, encoding="utf-8")

    with db.transaction() as s:
        report = import_events(session=s, path=path, business=BUSINESS)
    assert report.to_json() == {
        "rows": 9,
        "events": 3,
        "orders": 0,
        "people": 2,
        "duplicates": 1,
        "rejected": [
            {"line": 5, "reason": "not valid JSON (Expecting value at column 1)"},
            {"line": 6, "reason": 'each line must be a JSON object like {"email": ...}'},
            {"line": 7, "reason": "unknown event kind 'purchse' (did you mean 'purchase'?)"},
            {
                "line": 8,
                "reason": "staff_email 'ghost@shop.example' matches no staff account (add the user first)",
            },
            {"line": 9, "reason": "amount '5.999' has more decimals than EUR allows"},
        ],
    }
    assert report.rows == report.events + report.duplicates + len(report.rejected)
    with db.reading() as s:
        events = {e.source_id: e for e in s.scalars(select(Event))}
        visit = events["v-1"]
        assert (visit.person_id, visit.staff_id, visit.channel, visit.source) == (
            known,
            maya,
            "shop",
            "import",
        )
        assert visit.occurred_at == datetime(2025, 7, 1, 8, 0, tzinfo=UTC)  # Paris wall clock
        purchase = events["p-1"]
        assert (purchase.amount_minor, purchase.currency) == (1230, "EUR")
        assert people.get_person(s, "new@example.com").kind == "customer"
        assert people.get_person(s, "new@example.com").name == "Zoë Nouvelle"
        assert people.get_person(s, "curious@example.com").kind == "prospect"
        assert report.person_ids == {e.person_id for e in events.values()}

    with db.transaction() as s:
        again = import_events(session=s, path=path, business=BUSINESS)
    assert (again.events, again.people, again.duplicates, len(again.rejected)) == (0, 0, 4, 5)


def test_csv_events(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "Source ID,Email,Name,Kind,Occurred At,Amount,Currency,Text\n"
        'c-1,pat@example.com,Pat,complaint,2025-03-01 09:00 +0100,,,"The lid, it broke"\n'
        "c-2,pat@example.com,Pat,complaint_resolved,2025-03-02 10:00 +0100,,,Sent a new lid\n"
        "c-3,,Pat,praise,2025-03-03,,,\n"
        "c-4,pat@example.com,Pat,review,,,,\n"
        "c-5,pat@example.com,Pat,goodwill_adjustment,2025-03-04,10,JPY,A gift\n"
        "c-6,pat@example.com,Pat,note,2025-03-04,,GBP,\n",
        encoding="utf-8",
    )
    with db.transaction() as s:
        report = import_events(session=s, path=path, business=BUSINESS)
    assert report.to_json() == {
        "rows": 6,
        "orders": 0,
        "events": 3,
        "people": 1,
        "duplicates": 0,
        "rejected": [
            {"line": 4, "reason": "missing email"},
            {"line": 5, "reason": "missing occurred_at"},
            {"line": 7, "reason": "currency 'GBP' given without an amount"},
        ],
    }
    with db.reading() as s:
        assert s.scalar(select(Event.text).where(Event.source_id == "c-1")) == "The lid, it broke"
        assert s.scalar(select(Event.amount_minor).where(Event.source_id == "c-5")) == 10
        assert s.scalar(select(func.count()).select_from(Person)) == 1


def test_events_file_without_required_columns(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("email,kind\na@example.com,visit\n", encoding="utf-8")
    expected = r"missing required column\(s\) source_id, occurred_at"
    with pytest.raises(ImportFileError, match=expected), db.transaction() as s:
        import_events(session=s, path=path, business=BUSINESS)
