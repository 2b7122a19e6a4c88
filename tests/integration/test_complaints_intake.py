"""Complaints arrive from every source (API, staff form, events importer, events API) on both backends.

Each one matches a known email or adds the person as a prospect, records a ``complaint`` event the
bank reads as a withdrawal, and opens exactly one complaint however often it is sent. Bad fields
are refused with the field named and nothing written. The helpers here are shared by the other
complaints tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_client import BASE_URL, add_user, form_token, login, token_for

from goodwill.bank.model import BankEntry
from goodwill.complaints.model import Complaint, ComplaintLog
from goodwill.complaints.service import sweep_sla
from goodwill.config import Settings, load_settings
from goodwill.db import Database, utcnow
from goodwill.events.importers.service import import_events
from goodwill.events.model import Event
from goodwill.people.model import Person
from goodwill.people.service import PersonRecord, create_person
from goodwill.web.app import create_app

API = "/api/v1/complaints"


def complaint_settings(db: Database, **complaints: Any) -> Settings:
    """Paris business hours, Monday to Friday 09:00-17:00 (the defaults), EUR."""
    return load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "The Tea Shop", "timezone": "Europe/Paris", "currency": "EUR"},
        complaints=complaints,
    )


def client_for(db: Database, settings: Settings | None = None) -> TestClient:
    return TestClient(create_app(settings or complaint_settings(db), db), base_url=BASE_URL)


def count(db: Database, model: Any, *where: Any) -> int:
    with db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def bank_entries(db: Database, person_id: int) -> list[tuple[str, int]]:
    with db.reading() as s:
        rows = s.execute(
            select(BankEntry.rule, BankEntry.amount)
            .where(BankEntry.person_id == person_id)
            .order_by(BankEntry.id)
        )
        return [(rule, amount) for rule, amount in rows]


def add_person(db: Database, name: str, email: str, kind: str = "customer") -> int:
    with db.transaction() as s:
        person, _ = create_person(s, PersonRecord(name=name, email=email, kind=kind), source="test")
        return person.id


WEDNESDAY_10 = "2025-05-14T10:00:00+02:00"


def test_api_complaint_from_a_new_email_adds_a_prospect_and_a_withdrawal(db: Database) -> None:
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    client = client_for(db)
    body = {
        "body": "My order of Darjeeling arrived crushed, and nobody answered the phone.",
        "email": "nora@example.test",
        "name": "Nora Quinn",
        "source_id": "ticket-81",
        "received_at": WEDNESDAY_10,
        "priority": "high",
        "subject": "Crushed parcel",
    }
    created = client.post(API, json=body, headers=agent)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["status"] == "open" and data["priority"] == "high" and data["source"] == "api"
    # High: 4 business hours to the first response, 16 to the resolution (Paris, 09:00-17:00).
    assert datetime.fromisoformat(data["first_response_due_at"]) == datetime(2025, 5, 14, 12, 0, tzinfo=UTC)
    assert datetime.fromisoformat(data["resolution_due_at"]) == datetime(2025, 5, 16, 8, 0, tzinfo=UTC)
    assert data["person"]["kind"] == "prospect" and data["person"]["email"] == "nora@example.test"
    assert [entry["action"] for entry in data["log"]] == ["received"]
    with db.reading() as s:
        event = s.scalars(select(Event).where(Event.kind == "complaint")).one()
        assert (event.source, event.source_id) == ("complaints", "api:ticket-81")
        assert event.id == data["event_id"] and event.person_id == data["person_id"]
    assert ("complaint", -6) in bank_entries(db, data["person_id"])

    again = client.post(API, json=body, headers=agent)
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert count(db, Complaint) == 1 and count(db, Event) == 1 and count(db, Person) == 1


def test_api_complaint_from_a_known_email_is_matched_to_them(db: Database) -> None:
    zoe = add_person(db, "Zoë Lefèvre", "zoe@lefevre.test")
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    created = client_for(db).post(
        API, json={"body": "The lid does not close.", "email": " ZOE@Lefevre.test "}, headers=agent
    )
    assert created.status_code == 201, created.text
    assert created.json()["person_id"] == zoe and created.json()["person"]["kind"] == "customer"
    assert count(db, Person) == 1
    assert bank_entries(db, zoe) == [("complaint", -6)]


def test_api_without_source_id_is_idempotent_by_its_key(db: Database) -> None:
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    client = client_for(db)
    body = {"body": "Wrong tea in the box.", "email": "sam@example.test"}
    first = client.post(API, json=body, headers=agent | {"Idempotency-Key": "k-1"})
    second = client.post(API, json=body, headers=agent | {"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["id"] == second.json()["id"] and count(db, Complaint) == 1
    third = client.post(API, json=body, headers=agent | {"Idempotency-Key": "k-2"})
    assert third.status_code == 201 and count(db, Complaint) == 2


def _field_of(response: Any) -> list[str]:
    return [str(error["loc"][-1]) for error in response.json()["detail"]]


def test_api_bad_fields_are_named_and_nothing_is_written(db: Database) -> None:
    add_person(db, "Zoë", "zoe@lefevre.test")
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    client = client_for(db)
    cases = [
        ({"email": "a@example.test"}, "body"),
        ({"body": "   ", "email": "a@example.test"}, "body"),
        ({"body": "x", "email": "not-an-email"}, "email"),
        ({"body": "x"}, "email"),
        ({"body": "x", "person_id": 999999}, "person_id"),
        ({"body": "x", "email": "a@example.test", "priority": "whenever"}, "priority"),
        ({"body": "x", "email": "a@example.test", "received_at": "2025-05-14T10:00:00"}, "received_at"),
        ({"body": "x", "email": "a@example.test", "received_at": "2099-01-01T10:00:00Z"}, "received_at"),
        ({"body": "x", "email": "a@example.test", "assignee_id": 999999}, "assignee_id"),
        ({"body": "x", "email": "a@example.test", "source_id": "s" * 191}, "source_id"),
        ({"body": "x", "email": "a@example.test", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        refused = client.post(API, json=body, headers=agent)
        assert refused.status_code == 422, (body, refused.text)
        assert field in _field_of(refused), (body, refused.text)
    assert count(db, Complaint) == 0 and count(db, Event) == 0 and count(db, Person) == 1
    assert count(db, ComplaintLog) == 0


def _staff_client(db: Database) -> TestClient:
    add_user(db, "agent@shop.test", "agent", name="Agnes")
    client = client_for(db)
    assert login(client, "agent@shop.test").status_code == 303
    return client


def test_staff_form_records_a_phone_complaint_once(db: Database) -> None:
    client = _staff_client(db)
    page = client.get("/complaints/new")
    assert page.status_code == 200
    nonce = page.text.split('name="nonce" value="')[1].split('"')[0]
    form = {
        "csrf_token": form_token(page.text),
        "nonce": nonce,
        "name": "Mr Ambrose",
        "email": "",
        "channel": "phone",
        "priority": "urgent",
        "subject": "",
        "body": "Called: the gift box for his wife's birthday never arrived.",
    }
    posted = client.post("/complaints/new", data=form, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"].startswith("/complaints/")
    again = client.post("/complaints/new", data=form, follow_redirects=False)
    assert again.headers["location"] == posted.headers["location"]
    with db.reading() as s:
        complaint = s.scalars(select(Complaint)).one()
        person = s.get(Person, complaint.person_id)
        assert person is not None and person.name == "Mr Ambrose" and person.kind == "prospect"
        assert (complaint.source, complaint.channel, complaint.priority) == ("form", "phone", "urgent")
        assert complaint.created_by_id is not None
        person_id = complaint.person_id
    assert ("complaint", -6) in bank_entries(db, person_id)


def test_staff_form_errors_name_the_field_and_keep_what_was_typed(db: Database) -> None:
    client = _staff_client(db)
    page = client.get("/complaints/new")
    base = {"csrf_token": form_token(page.text), "nonce": "n" * 24, "channel": "letter", "priority": "normal"}
    no_words = client.post("/complaints/new", data=base | {"name": "Ms Rowe", "body": ""})
    assert no_words.status_code == 422
    assert 'id="error-body"' in no_words.text and 'value="Ms Rowe"' in no_words.text
    nobody = client.post("/complaints/new", data=base | {"body": "The kettle leaks."})
    assert nobody.status_code == 422 and 'id="error-name"' in nobody.text
    assert "The kettle leaks." in nobody.text
    bad_email = client.post("/complaints/new", data=base | {"email": "rowe@", "body": "The kettle leaks."})
    assert bad_email.status_code == 422 and 'id="error-email"' in bad_email.text
    assert count(db, Complaint) == 0 and count(db, Event) == 0 and count(db, Person) == 0


def test_events_importer_opens_a_complaint_for_a_complaint_row(db: Database, tmp_path: Path) -> None:
    settings = complaint_settings(db)
    zoe = add_person(db, "Zoë", "zoe@lefevre.test")
    recent = (utcnow() - timedelta(hours=1)).isoformat()
    lines = [
        {"source_id": "c-1", "email": "zoe@lefevre.test", "kind": "complaint", "occurred_at": recent,
         "channel": "email", "text": "Three weeks and still no refund."},
        {"source_id": "v-1", "email": "zoe@lefevre.test", "kind": "visit", "occurred_at": recent},
        {"source_id": "c-2", "email": "new@example.test", "name": "Ivo", "kind": "complaint",
         "occurred_at": recent, "text": "Rude at the counter."},
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    for _ in range(2):  # the second run stores nothing new and opens nothing new
        with db.transaction() as s:
            import_events(session=s, path=path, business=settings.business, settings=settings)
    with db.reading() as s:
        complaints = s.scalars(select(Complaint).order_by(Complaint.id)).all()
        assert len(complaints) == 2
        first = complaints[0]
        event = s.get(Event, first.event_id)
        assert event is not None and event.source_id == "c-1"
        assert (first.source, first.source_id, first.person_id) == ("events", str(event.id), zoe)
        assert first.body == "Three weeks and still no refund." and first.status == "open"
        assert first.first_response_breached_at is None
        ivo = s.get(Person, complaints[1].person_id)
        assert ivo is not None and ivo.kind == "prospect"
    assert ("complaint", -6) in bank_entries(db, zoe)


def test_events_api_complaint_opens_a_complaint_once(db: Database) -> None:
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    client = client_for(db)
    event = {
        "kind": "complaint",
        "email": "lea@example.test",
        "occurred_at": utcnow().isoformat(),
        "text": "The app charged me twice.",
        "channel": "chat",
        "source_id": "helpdesk-7",
    }
    assert client.post("/api/v1/events", json=event, headers=agent).status_code == 201
    assert client.post("/api/v1/events", json=event, headers=agent).status_code == 200
    listed = client.get(API, headers=agent).json()["items"]
    assert len(listed) == 1
    assert listed[0]["body"] == "The app charged me twice." and listed[0]["channel"] == "chat"
    assert listed[0]["source"] == "events"
    assert ("complaint", -6) in bank_entries(db, listed[0]["person_id"])
    # Other kinds open nothing.
    visit = event | {"kind": "visit", "source_id": "helpdesk-8"}
    assert client.post("/api/v1/events", json=visit, headers=agent).status_code == 201
    assert count(db, Complaint) == 1


def test_a_complaint_imported_after_its_clocks_ran_out_is_not_charged_a_breach(db: Database) -> None:
    settings = complaint_settings(db)
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    old = {"kind": "complaint", "email": "old@example.test", "occurred_at": "2023-02-01T10:00:00+01:00",
           "text": "From the old helpdesk.", "source_id": "legacy-1"}  # fmt: skip
    assert client_for(db, settings).post("/api/v1/events", json=old, headers=agent).status_code == 201
    with db.transaction() as s:
        report = sweep_sla(s, now=utcnow(), settings=settings)
    assert report.breaches == []
    assert count(db, Event, Event.kind == "complaint_sla_breached") == 0
    with db.reading() as s:
        complaint = s.scalars(select(Complaint)).one()
        assert complaint.resolution_breached_at is not None and complaint.status == "open"
        log = s.scalars(select(ComplaintLog.detail).where(ComplaintLog.complaint_id == complaint.id)).one()
        assert "no breach is charged" in log


def test_received_at_must_be_this_century_and_not_ahead_of_us(db: Database) -> None:
    from goodwill.complaints import service

    settings = complaint_settings(db)
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    client = client_for(db, settings)
    base = {"body": "Where is my order?", "email": "a@example.test"}
    for when in ("1999-12-31T23:59:00Z", "1970-01-01T00:00:00Z", (utcnow() + timedelta(days=2)).isoformat()):
        refused = client.post(API, json=base | {"received_at": when}, headers=agent)
        assert refused.status_code == 422, (when, refused.text)
        assert "received_at" in _field_of(refused)
    ok = client.post(API, json=base | {"received_at": "2000-01-03T09:00:00+01:00"}, headers=agent)
    assert ok.status_code == 201, ok.text
    with db.transaction() as s:
        try:
            service.open_complaint(
                s,
                new=service.NewComplaint(
                    body="x",
                    source="form",
                    source_id="old",
                    received_at=datetime(1990, 1, 1, tzinfo=UTC),
                    name="Old",
                ),
                settings=settings,
            )
        except service.ComplaintError as exc:
            assert exc.field == "received_at"
        else:
            raise AssertionError("a complaint from 1990 was accepted")


def test_a_complaint_from_decades_ago_keeps_its_time_and_the_inbox_still_opens(db: Database) -> None:
    """Events keep their own time (history); its clocks ran out in the 1990s: the inbox must not break."""
    from goodwill.complaints.service import open_for_events
    from goodwill.events.service import NewEvent, record_event

    settings = complaint_settings(db)
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    person = add_person(db, "Old Timer", "old@example.test")
    long_ago = datetime(1995, 6, 1, 10, 0, tzinfo=UTC)
    with db.transaction() as s:
        event, _ = record_event(
            s,
            NewEvent(
                person_id=person,
                kind="complaint",
                occurred_at=long_ago,
                source="legacy",
                source_id="1",
                text="The catalogue never came.",
            ),
        )
        assert open_for_events(s, event_ids=[event.id], settings=settings) == 1
    client = client_for(db, settings)
    listed = client.get(API, headers=agent)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert datetime.fromisoformat(item["received_at"]) == long_ago
    assert "working days" in item["timers"][0]["text"] and item["sla_state"] == "overdue"
    assert client.get(f"{API}/{item['id']}", headers=agent).status_code == 200
    assert login(client, "agent@shop.test").status_code == 303
    page = client.get("/complaints")
    assert page.status_code == 200 and "The catalogue never came." in page.text
    assert client.get(f"/complaints/{item['id']}").status_code == 200


def test_a_source_id_someone_else_used_does_not_reveal_their_complaint(db: Database) -> None:
    ann = add_user(db, "ann@shop.test", "agent")
    bob = add_user(db, "bob@shop.test", "agent")
    ada = add_user(db, "ada@shop.test", "admin")
    tokens = {name: token_for(db, uid) for name, uid in (("ann", ann), ("bob", bob), ("ada", ada))}
    client = client_for(db)
    secret = {"body": "My account number is 12345 and it was charged twice.", "email": "vic@example.test",
              "source_id": "ticket-9", "assignee_id": bob}  # fmt: skip
    created = client.post(API, json=secret, headers=tokens["bob"])
    assert created.status_code == 201, created.text
    guess = {"body": "anything", "email": "eve@example.test", "source_id": "ticket-9"}
    refused = client.post(API, json=guess, headers=tokens["ann"])
    assert refused.status_code == 409, refused.text
    assert refused.json() == {"detail": "a complaint with this source_id already exists", "code": "duplicate"}
    assert "12345" not in refused.text
    # Those who may see it get it back, as a retry should.
    again = client.post(API, json=guess, headers=tokens["bob"])
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    assert client.post(API, json=guess, headers=tokens["ada"]).status_code == 200
    assert count(db, Complaint) == 1 and count(db, Person) == 1


def test_an_agent_opens_complaints_for_themselves_or_the_queue_only(db: Database) -> None:
    ann = add_user(db, "ann@shop.test", "agent")
    bob = add_user(db, "bob@shop.test", "agent")
    max_ = add_user(db, "max@shop.test", "manager")
    client = client_for(db)
    body = {"body": "The tin was dented.", "email": "d@example.test"}
    pushed = client.post(API, json=body | {"assignee_id": bob}, headers=token_for(db, ann))
    assert pushed.status_code == 422 and "assignee_id" in _field_of(pushed)
    assert count(db, Complaint) == 0 and count(db, Event) == 0
    mine = client.post(API, json=body | {"assignee_id": ann}, headers=token_for(db, ann))
    assert mine.status_code == 201 and mine.json()["assignee_id"] == ann
    handed = client.post(
        API, json=body | {"assignee_id": bob, "source_id": "m-1"}, headers=token_for(db, max_)
    )
    assert handed.status_code == 201 and handed.json()["assignee_id"] == bob


def test_nul_characters_are_dropped_not_a_server_error(db: Database) -> None:
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    client = client_for(db)
    body = {"body": "Broken\x00 lid", "subject": "Lid\x00", "name": "N\x00ora", "email": "nul@example.test",
            "channel": "ch\x00at", "source_id": "nul\x00-1"}  # fmt: skip
    created = client.post(API, json=body, headers=agent)
    assert created.status_code == 201, created.text
    data = created.json()
    assert (data["body"], data["subject"], data["channel"], data["source_id"]) == (
        "Broken lid", "Lid", "chat", "nul-1",
    )  # fmt: skip
    assert data["person"]["name"] == "Nora"
    assert client.post(API, json=body, headers=agent).json()["id"] == data["id"]  # the same source_id
    done = client.post(f"{API}/{data['id']}/resolve", json={"resolution": "New\x00 lid sent."}, headers=agent)
    assert done.status_code == 200 and done.json()["resolution"] == "New lid sent."


def test_ids_past_64_bits_are_refused_not_a_server_error(db: Database) -> None:
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    client = client_for(db)
    huge = 2**63
    for field in ("person_id", "assignee_id"):
        refused = client.post(API, json={"body": "x", "email": "h@example.test", field: huge}, headers=agent)
        assert refused.status_code == 422 and field in _field_of(refused), refused.text
    for path in (f"{API}/{huge}", f"{API}/{2**64 + 5}"):
        assert client.get(path, headers=agent).status_code in (404, 422)
        for action, payload in (("resolve", {"resolution": "x"}), ("assign", {"assignee_id": None}),
                                ("priority", {"priority": "high"})):  # fmt: skip
            assert client.post(f"{path}/{action}", json=payload, headers=agent).status_code in (404, 422)
    opened = client.post(API, json={"body": "x", "email": "h@example.test"}, headers=agent).json()
    moved = client.post(f"{API}/{opened['id']}/assign", json={"assignee_id": huge}, headers=agent)
    assert moved.status_code == 422
