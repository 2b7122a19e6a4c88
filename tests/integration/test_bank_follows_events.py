"""Every path that stores events brings the relationship bank up to date in the same transaction."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from test_web_client import BASE_URL, add_user, make_settings, token_for

from goodwill.bank.model import BankEntry, BankStanding
from goodwill.config import Business
from goodwill.db import Database
from goodwill.events.importers.service import import_events
from goodwill.web.app import create_app


def _rules(db: Database, person_email: str) -> tuple[list[str], str | None]:
    from goodwill.people.service import get_person

    with db.reading() as s:
        pid = get_person(s, person_email).id
        rules = list(
            s.scalars(select(BankEntry.rule).where(BankEntry.person_id == pid).order_by(BankEntry.at))
        )
        status = s.scalar(select(BankStanding.status).where(BankStanding.person_id == pid))
    return rules, status


def test_importing_events_updates_the_bank(db: Database, tmp_path: Path) -> None:
    lines = [
        {"source_id": "e1", "email": "ann@example.com", "name": "Ann", "kind": "purchase",
         "occurred_at": "2026-01-05T10:00:00+00:00", "amount": "40.00", "currency": "USD"},
        {"source_id": "e2", "email": "ann@example.com", "name": "Ann", "kind": "late_delivery",
         "occurred_at": "2026-01-12T10:00:00+00:00"},
        {"source_id": "e3", "email": "ann@example.com", "name": "Ann", "kind": "complaint",
         "occurred_at": "2026-01-13T10:00:00+00:00", "text": "The parcel was a week late"},
        {"source_id": "e4", "email": "ann@example.com", "name": "Ann", "kind": "defect",
         "occurred_at": "2026-01-14T10:00:00+00:00"},
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with db.transaction() as s:
        report = import_events(session=s, path=path, business=Business())
    assert report.events == 4
    rules, status = _rules(db, "ann@example.com")
    assert rules == ["purchase", "late_delivery", "complaint", "defect"]
    assert status == "overdrawn"  # three bad experiences in a row


def test_an_event_from_the_api_updates_the_bank(db: Database) -> None:
    client = TestClient(create_app(make_settings(db), db), base_url=BASE_URL)
    headers = token_for(db, add_user(db, "agent@shop.test", "agent"))
    body = {"email": "bo@example.com", "name": "Bo", "kind": "praise", "occurred_at": "2026-02-01T09:00:00Z",
            "text": "Lovely note in the parcel", "source_id": "p1"}  # fmt: skip
    response = client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 201, response.text
    rules, status = _rules(db, "bo@example.com")
    assert rules == ["praise"]
    assert status == "healthy"
