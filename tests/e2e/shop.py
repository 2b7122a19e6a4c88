"""The shop the browser tests look at, seeded through the real services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from goodwill.db import Database
from goodwill.events.service import NewEvent, record_event
from goodwill.people import service as people
from goodwill.people.service import PersonRecord
from goodwill.team.service import create_user

STAFF_EMAIL = "camille@maison.test"
STAFF_PASSWORD = "plum-orchard-lantern-7"


def seed(db: Database) -> None:
    """A small shop through the real services: staff, people with unicode names, orders, facts, consent."""
    start = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)
    with db.transaction() as s:
        create_user(
            session=s, email=STAFF_EMAIL, role="manager", password=STAFF_PASSWORD, name="Camille Roux"
        )
        records = [
            PersonRecord(
                name="Zoë Lefèvre",
                preferred_name="Zo",
                email="zoe@lefevre.test",
                phone="+33 6 12 34 56 78",
                city="Lyon",
                country="France",
                preferred_channel="email",
                time_zone="Europe/Paris",
                consent={"email": True, "sms": False},
            ),
            PersonRecord(name="Ōta Hiroshi", email="hiroshi@ota.test", consent={"email": True}),
            PersonRecord(name="Amélie Poulain", email="amelie@montmartre.test"),
            PersonRecord(name="Ngọc Anh Trần", email="ngoc.anh@tran.test"),
            PersonRecord(name="Søren Kierkegaard", email="soren@copenhagen.test"),
            PersonRecord(name="José Álvarez", email="jose@alvarez.test"),
        ]
        ids, _ = people.resolve_people(s, records, source="seed")
        zoe, ota, amelie = ids[0], ids[1], ids[2]
        for n in range(22):
            record_event(
                s,
                NewEvent(
                    person_id=zoe,
                    kind="purchase",
                    occurred_at=start + timedelta(days=9 * n),
                    source="shop",
                    source_id=f"zoe-{n}",
                    amount_minor=2450 + 130 * n,
                    currency="EUR",
                    channel="web",
                    text=f"Order #{1040 + n}",
                ),
            )
        extra = [
            ("praise", "Loved the hand-written card in her parcel", None),
            ("late_delivery", "Parcel arrived three days late", None),
            ("refund", "Refunded the chipped cup", 1200),
            ("appreciation_sent", "Thank-you card for her tenth order", None),
        ]
        for n, (kind, text, amount) in enumerate(extra):
            record_event(
                s,
                NewEvent(
                    person_id=zoe,
                    kind=kind,
                    occurred_at=start + timedelta(days=200 + 3 * n),
                    source="shop",
                    source_id=f"zoe-extra-{n}",
                    text=text,
                    amount_minor=amount,
                    currency="EUR" if amount else None,
                ),
            )
        for n, pid in enumerate((ota, amelie)):
            record_event(
                s,
                NewEvent(
                    person_id=pid,
                    kind="purchase",
                    occurred_at=start + timedelta(days=30 + n),
                    source="shop",
                    source_id=f"other-{n}",
                    amount_minor=8900,
                    currency="EUR",
                ),
            )
        people.mark_customers(s, [zoe, ota, amelie])
        people.add_fact(s, person_id=zoe, text="Has a grey cat called Biscotte", source="staff")
        people.add_fact(
            s, person_id=zoe, text="Always orders the lemon tart for her mother's birthday", source="staff"
        )
        people.record_consent(
            s,
            person_id=zoe,
            channel="card",
            granted=True,
            source="phone call",
            note="Happy to get a card at home",
        )
