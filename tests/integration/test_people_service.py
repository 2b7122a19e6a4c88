from __future__ import annotations

from datetime import UTC, datetime

import pytest

from goodwill.db import Database
from goodwill.events.service import EventError, NewEvent, record_event
from goodwill.people import service as people
from goodwill.people.service import PersonNotFound, PersonRecord


def test_dedup_on_normalised_email_keeps_original_spelling(db: Database) -> None:
    with db.transaction() as s:
        ids, created = people.resolve_people(
            s,
            [
                PersonRecord(name="José Álvarez", email="  Jose@Example.COM "),
                PersonRecord(name="jose alvarez", email="jose@example.com"),
                PersonRecord(name="王芳", email="wang.fang@example.cn"),
            ],
        )
    assert created == 2
    assert ids[0] == ids[1] != ids[2]
    with db.reading() as s:
        jose = people.get_person(s, "JOSE@example.com")
        assert jose.name == "José Álvarez"
        assert people.get_person(s, str(ids[2])).name == "王芳"
        found, total = people.search_people(s, query="jose")
        assert total == 1 and found[0].id == jose.id
        found, total = people.search_people(s, query="王")
        assert total == 1


def test_external_id_links_to_existing_email(db: Database) -> None:
    with db.transaction() as s:
        [first], _ = people.resolve_people(s, [PersonRecord(name="Zoë", email="zoe@example.com")])
    with db.transaction() as s:
        ids, created = people.resolve_people(
            s,
            [
                PersonRecord(name="Zoë", email="zoe@example.com", external=("shopify", "42")),
                PersonRecord(name="Zoe B", external=("shopify", "42")),
            ],
        )
    assert created == 0
    assert ids == [first, first]


def test_unknown_person_is_a_clear_error(db: Database) -> None:
    with db.reading() as s, pytest.raises(PersonNotFound, match=r"nobody@example\.com"):
        people.get_person(s, "nobody@example.com")


def test_an_id_past_64_bits_names_nobody(db: Database) -> None:
    with db.reading() as s, pytest.raises(PersonNotFound):
        people.get_person(s, 2**64)


def test_consent_history_newest_wins(db: Database) -> None:
    with db.transaction() as s:
        [pid], _ = people.resolve_people(
            s, [PersonRecord(name="Ann", email="ann@example.com", consent={"email": True})]
        )
        people.record_consent(
            s,
            person_id=pid,
            channel="email",
            granted=False,
            source="unsubscribe link",
            at=datetime(2099, 1, 1, tzinfo=UTC),
        )
    with db.reading() as s:
        state = people.current_consent(s, pid)
        assert state["email"]["granted"] is False
        assert state["email"]["source"] == "unsubscribe link"
        assert len(people.consent_history(s, pid)) == 2
        with pytest.raises(ValueError, match="unknown channel"):
            people.record_consent(s, person_id=pid, channel="fax", granted=True, source="x")


def test_events_are_idempotent_and_summary_counts_purchases(db: Database) -> None:
    when = datetime(2025, 10, 7, 7, 50, tzinfo=UTC)
    with db.transaction() as s:
        [pid], _ = people.resolve_people(s, [PersonRecord(name="Ann", email="ann@example.com")])
        for source_id, kind, amount in [
            ("o1", "purchase", 5391),
            ("o2", "purchase", 1000),
            ("r1", "refund", 391),
        ]:
            _, created = record_event(
                s, NewEvent(pid, kind, when, "test", source_id, amount_minor=amount, currency="USD")
            )
            assert created
        _, again = record_event(s, NewEvent(pid, "purchase", when, "test", "o1", 5391, "USD"))
        assert again is False
        with pytest.raises(EventError, match="unknown event kind"):
            record_event(s, NewEvent(pid, "purchse", when, "test", "x"))
    with db.reading() as s:
        person = people.get_person(s, pid)
        summary = people.person_summary(s, person, currency="USD")
    assert summary["orders"] == 2
    assert summary["total_spent"] == "60.00"
    assert summary["first_order_at"] == "2025-10-07T07:50:00+00:00"
