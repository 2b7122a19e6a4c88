"""The JSON API: people, facts, consent, events, validation, 404s and Idempotency-Key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from test_web_client import add_user, logged_in_agent, make_client, token_for

from goodwill.db import Database
from goodwill.events.model import Event
from goodwill.people.model import Person
from goodwill.web.api import API_PREFIX

P = f"{API_PREFIX}/people"
E = f"{API_PREFIX}/events"


def count(db: Database, model: type) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_person_round_trip_keeps_unicode(db: Database) -> None:
    agent_client = logged_in_agent(db)
    body = {
        "name": "Zoë Ñúñez-王",
        "preferred_name": "Zo",
        "email": "Zoe@Example.com",
        "phone": "+33 6 12 34 56 78",
        "kind": "customer",
        "preferred_channel": "email",
        "time_zone": "Europe/Paris",
        "consent": {"email": True, "sms": False},
    }
    created = agent_client.post(P, json=body)
    assert created.status_code == 201, created.text
    person = created.json()
    assert person["name"] == "Zoë Ñúñez-王" and person["kind"] == "customer"
    assert person["consent"]["email"]["granted"] is True and person["consent"]["sms"]["granted"] is False
    shown = agent_client.get(f"{P}/{person['id']}").json()
    assert shown == person
    again = agent_client.post(P, json={"name": "Someone else", "email": "zoe@example.COM"})
    assert again.status_code == 200 and again.json()["id"] == person["id"]
    assert again.json()["name"] == "Zoë Ñúñez-王"


def test_search_pages_and_filters(db: Database) -> None:
    agent_client = logged_in_agent(db)
    for name, kind in [
        ("José Álvarez", "customer"),
        ("Josefina Ruiz", "prospect"),
        ("Björk Guðmundsdóttir", "customer"),
    ]:
        assert agent_client.post(P, json={"name": name, "kind": kind}).status_code == 201
    found = agent_client.get(P, params={"q": "jose"}).json()
    assert found["total"] == 2 and {i["name"] for i in found["items"]} == {"José Álvarez", "Josefina Ruiz"}
    assert agent_client.get(P, params={"q": "jose", "kind": "customer"}).json()["total"] == 1
    assert agent_client.get(P, params={"q": "GUÐMUND"}).json()["items"][0]["name"] == "Björk Guðmundsdóttir"
    second = agent_client.get(P, params={"per_page": 2, "page": 2}).json()
    assert (
        second == {"total": 3, "page": 2, "per_page": 2, "items": second["items"]}
        and len(second["items"]) == 1
    )
    bad = agent_client.get(P, params={"kind": "alien", "per_page": 0})
    assert bad.status_code == 422
    assert {tuple(d["loc"]) for d in bad.json()["detail"]} == {("query", "kind"), ("query", "per_page")}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "time_zone": "Mars/Olympus"}, ["body", "time_zone"]),
        ({"name": "A", "email": "not-an-email"}, ["body", "email"]),
        ({"name": "A", "consent": {"pigeon": True}}, ["body", "consent", "pigeon", "[key]"]),
        ({"name": "A", "kind": "vip"}, ["body", "kind"]),
        ({"name": "A", "shoe_size": 44}, ["body", "shoe_size"]),
        ({}, ["body"]),
    ],
)
def test_person_validation_names_the_field(db: Database, body: dict[str, object], field: list[str]) -> None:
    agent_client = logged_in_agent(db)
    answer = agent_client.post(P, json=body)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail[0]["loc"] == field, detail
    assert detail[0]["msg"]


def test_unknown_people_are_404_with_a_message(db: Database) -> None:
    agent_client = logged_in_agent(db)
    for method, path, json in [
        ("GET", f"{P}/999", None),
        ("POST", f"{P}/999/facts", {"text": "x"}),
        ("POST", f"{P}/999/consent", {"channel": "email", "granted": True}),
        ("GET", f"{P}/999/events", None),
    ]:
        answer = agent_client.request(method, path, json=json)
        assert answer.status_code == 404, path
        assert answer.json() == {"detail": "no person with id or email '999'"}


def test_values_the_database_cannot_hold_are_the_callers_error_not_ours(db: Database) -> None:
    """An id past 64 bits or a NUL character reaches the database as given: a 422, never a 500."""
    agent_client = logged_in_agent(db)
    huge = 2**64 + 5
    for method, path, json in [
        ("GET", f"{P}/{huge}", None),
        ("GET", f"{P}/{huge}/events", None),
        ("POST", f"{API_PREFIX}/events", {"kind": "note", "occurred_at": "2026-01-01T00:00:00Z",
                                          "person_id": huge}),
    ]:  # fmt: skip
        answer = agent_client.request(method, path, json=json)
        assert answer.status_code in (404, 422), (path, answer.status_code, answer.text)
    page = agent_client.get(f"/people/{huge}")
    assert page.status_code in (404, 422)


def test_facts_and_consent(db: Database) -> None:
    agent_client = logged_in_agent(db)
    pid = agent_client.post(P, json={"name": "Amélie"}).json()["id"]
    first = agent_client.post(f"{P}/{pid}/facts", json={"text": "  Loves   the lemon tart "})
    assert first.status_code == 201 and first.json()["text"] == "Loves the lemon tart"
    assert agent_client.post(f"{P}/{pid}/facts", json={"text": "Loves the lemon tart"}).status_code == 200
    assert agent_client.post(f"{P}/{pid}/facts", json={"text": ""}).json()["detail"][0]["loc"] == [
        "body",
        "text",
    ]
    change = agent_client.post(
        f"{P}/{pid}/consent", json={"channel": "sms", "granted": True, "note": "asked in shop"}
    )
    assert change.status_code == 201 and change.json()["source"] == "staff:agent@shop.test"
    agent_client.post(f"{P}/{pid}/consent", json={"channel": "sms", "granted": False})
    summary = agent_client.get(f"{P}/{pid}").json()
    assert summary["facts"] == ["Loves the lemon tart"]
    assert summary["consent"]["sms"]["granted"] is False
    assert (
        agent_client.post(f"{P}/{pid}/consent", json={"channel": "fax", "granted": True}).status_code == 422
    )


def test_event_for_a_new_email_creates_a_customer_and_stores_exact_minor_units(db: Database) -> None:
    agent_client = logged_in_agent(db)
    body = {
        "email": "new@buyer.test",
        "name": "Ngọc Anh",
        "kind": "purchase",
        "occurred_at": "2025-05-01T14:30:00+02:00",
        "amount": "1234.50",
        "currency": "eur",
        "channel": "web",
        "source_id": "order-77",
    }
    answer = agent_client.post(E, json=body)
    assert answer.status_code == 201, answer.text
    event = answer.json()
    assert event["amount"] == "1234.50" and event["currency"] == "EUR"
    assert event["occurred_at"] == "2025-05-01T12:30:00+00:00"
    with db.reading() as s:
        stored = s.scalars(select(Event)).one()
        assert stored.amount_minor == 123450 and stored.source == "api"
        person = s.get(Person, stored.person_id)
        assert person is not None and person.kind == "customer" and person.name == "Ngọc Anh"
    summary = agent_client.get(f"{P}/{event['person_id']}").json()
    assert summary["orders"] == 1
    repeat = agent_client.post(E, json=body)  # same source_id: stored once
    assert repeat.status_code == 200 and repeat.json()["id"] == event["id"]
    assert count(db, Event) == 1


def test_event_kinds_and_people(db: Database) -> None:
    agent_client = logged_in_agent(db)
    visit = {"email": "browser@x.test", "kind": "visit", "occurred_at": "2025-05-01T10:00:00Z"}
    answer = agent_client.post(E, json=visit)
    assert answer.status_code == 201
    pid = answer.json()["person_id"]
    assert agent_client.get(f"{P}/{pid}").json()["kind"] == "prospect"
    buy = {"person_id": pid, "kind": "purchase", "occurred_at": "2025-05-02T10:00:00Z", "amount": "10"}
    bought = agent_client.post(E, json=buy).json()
    assert bought["currency"] == "USD"  # the business currency when none is given
    assert agent_client.get(f"{P}/{pid}").json()["kind"] == "customer"
    events = agent_client.get(f"{P}/{pid}/events").json()
    assert [e["kind"] for e in events["items"]] == ["purchase", "visit"] and events["next_before_id"] is None


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"occurred_at": "2025-05-01T14:30:00"}, "occurred_at", "UTC offset"),
        ({"kind": "purchse"}, "kind", "unknown event kind"),
        ({"amount": 12.5}, "amount", "valid string"),
        ({"amount": "12.345"}, "amount", "more decimals"),
        ({"amount": "$12"}, "amount", "decimal string"),
        ({"currency": "XYZ"}, "currency", "unknown currency"),
        ({"person_id": 12345}, "person_id", "no person"),
        ({"staff_email": "ghost@shop.test"}, "staff_email", "no user"),
    ],
)
def test_event_validation_names_the_field(
    db: Database, change: dict[str, object], field: str, words: str
) -> None:
    agent_client = logged_in_agent(db)
    body = {
        "email": "e@x.test",
        "kind": "purchase",
        "occurred_at": "2025-05-01T14:30:00Z",
        "amount": "1.00",
        **change,
    }
    answer = agent_client.post(E, json=body)
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", field] and words in problem["msg"]
    assert count(db, Person) == 0  # a refused event leaves nothing behind


def test_event_names_its_staff_member(db: Database) -> None:
    agent_client = logged_in_agent(db)
    body = {
        "email": "e@x.test",
        "kind": "call_made",
        "occurred_at": "2025-05-01T14:30:00Z",
        "staff_email": "AGENT@shop.test",
        "text": "Thanked her for the referral ☺",
    }
    event = agent_client.post(E, json=body).json()
    assert event["staff_id"] is not None and event["text"] == "Thanked her for the referral ☺"


def test_timeline_pages_follow_time_order_even_when_imported_out_of_order(db: Database) -> None:
    agent_client = logged_in_agent(db)
    pid = agent_client.post(P, json={"name": "Tempo"}).json()["id"]
    days = [5, 1, 4, 2, 3]  # recorded in this order, so ids do not follow time
    for day in days:
        agent_client.post(
            E, json={"person_id": pid, "kind": "visit", "occurred_at": f"2025-05-0{day}T09:00:00Z"}
        )
    seen: list[str] = []
    before: int | None = None
    while True:
        page = agent_client.get(
            f"{P}/{pid}/events", params={"limit": 2, **({"before_id": before} if before else {})}
        )
        seen += [e["occurred_at"][:10] for e in page.json()["items"]]
        before = page.json()["next_before_id"]
        if before is None:
            break
    assert seen == [f"2025-05-0{d}" for d in (5, 4, 3, 2, 1)]


def test_idempotency_key_replays_the_first_answer(db: Database) -> None:
    agent_client = logged_in_agent(db)
    headers = {"Idempotency-Key": "create-zoe-1"}
    first = agent_client.post(P, json={"name": "Zoë"}, headers=headers)
    again = agent_client.post(P, json={"name": "Zoë"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert count(db, Person) == 1
    clash = agent_client.post(P, json={"name": "Zoe"}, headers=headers)
    assert clash.status_code == 409 and "different request" in clash.json()["detail"]
    other_path = agent_client.post(E, json={"name": "Zoë"}, headers=headers)
    assert other_path.status_code == 409
    assert count(db, Person) == 1


def test_idempotency_keys_belong_to_their_user(db: Database) -> None:
    agent_client = logged_in_agent(db)
    other = token_for(db, add_user(db, "manager@shop.test", "manager"))
    headers = {"Idempotency-Key": "same-key"}
    mine = agent_client.post(P, json={"name": "One"}, headers=headers).json()
    theirs = make_client(db).post(P, json={"name": "One"}, headers={**headers, **other}).json()
    assert mine["id"] != theirs["id"]


def test_idempotent_event_without_source_id_is_stored_once(db: Database) -> None:
    agent_client = logged_in_agent(db)
    body = {
        "email": "e@x.test",
        "kind": "praise",
        "occurred_at": datetime(2025, 1, 2, tzinfo=UTC).isoformat(),
    }
    headers = {"Idempotency-Key": "praise-1"}
    assert agent_client.post(E, json=body, headers=headers).status_code == 201
    assert agent_client.post(E, json=body, headers=headers).status_code == 201
    assert count(db, Event) == 1
    assert agent_client.post(E, json=body).status_code == 201  # no key, no source_id: a new event
    assert count(db, Event) == 2
    failed = agent_client.post(E, json={**body, "kind": "nope"}, headers={"Idempotency-Key": "bad-1"})
    assert failed.status_code == 422  # refused requests are not remembered: a corrected retry may use the key
    assert (
        agent_client.post(E, json={**body, "kind": "nope"}, headers={"Idempotency-Key": "bad-1"}).status_code
        == 422
    )
    assert agent_client.post(E, json=body, headers={"Idempotency-Key": "x" * 201}).status_code == 400
