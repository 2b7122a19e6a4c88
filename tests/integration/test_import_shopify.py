"""The hand-made Shopify export in tests/data, imported on both backends.

What the file holds (physical lines; the header is line 1):
  2-4   #1001 Zoë, three line items (later rows carry only Name + Lineitem), zip '75008, marketing yes
  5     #1002 José, email " Jose@Example.com " (case and spaces), marketing no
  6-7   #1003 Pierre, cancelled (its second row repeats Email and Created at, like newer exports)
  8     #1004 Zoë again as ZOE@example.com, refunded 10.00 of 45.50
  9-10  #1005 broken Created at 2025-13-45: the whole order is rejected
  11    #1006 no email: rejected
  12-13 #1007 王芳, a Notes cell with a line break inside quotes (one row on two lines)
  14    #1008 lena@@example.com: rejected
  15-16 #1001 exported twice: a duplicate
  17-18 #1009 Ana; her second line item has quantity "two": that line only is rejected
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from goodwill.config import Business
from goodwill.db import Database
from goodwill.events.importers.service import ImportReport, import_orders
from goodwill.events.model import Event, Order
from goodwill.people import service as people
from goodwill.people.model import Person

SAMPLE = Path(__file__).parent.parent / "data" / "shopify_orders_sample.csv"
BUSINESS = Business(timezone="Europe/Paris", currency="EUR")
REJECTED = [
    (9, "Created at '2025-13-45 10:00:00 +0200' is not a valid date; order #1005 is rejected"),
    (10, "order #1005 was rejected with its first row (line 9)"),
    (11, "missing email; order #1006 is rejected"),
    (
        14,
        "email 'lena@@example.com' is not a valid address (it needs exactly one @); order #1008 is rejected",
    ),
    (18, "quantity 'two' is not a whole number; the line item is skipped, order #1009 is kept"),
]


def run(db: Database) -> ImportReport:
    with db.transaction() as s:
        return import_orders(session=s, path=SAMPLE, business=BUSINESS)


def test_first_import_counts_exactly(db: Database) -> None:
    report = run(db)
    assert report.to_json() == {
        "rows": 16,
        "orders": 6,
        "events": 7,
        "people": 5,
        "duplicates": 1,
        "rejected": [{"line": line, "reason": reason} for line, reason in REJECTED],
    }
    # Every row is accounted for once: 9 rows of stored orders, 2 of the duplicate, 5 rejected.
    assert (report.kept_rows, report.duplicate_rows) == (9, 2)
    assert report.rows == report.kept_rows + report.duplicate_rows + len(report.rejected)
    with db.reading() as s:
        assert len(report.person_ids) == 5
        assert s.scalar(select(func.count()).select_from(Order)) == 6
        assert s.scalar(select(func.count()).select_from(Event)) == 7
        assert s.scalar(select(func.count()).select_from(Person)) == 5


def test_orders_events_and_people_are_right(db: Database) -> None:
    run(db)
    with db.reading() as s:
        zoe = people.get_person(s, "zoe@example.com")
        assert (zoe.name, zoe.kind, zoe.postal_code, zoe.city) == ("Zoë Martin", "customer", "75008", "Paris")
        assert zoe.phone == "+33 6 12 34 56 78"
        first = s.scalars(select(Order).where(Order.external_id == "#1001")).one()
        assert first.source == "shopify" and first.person_id == zoe.id
        assert first.placed_at == datetime(2025, 10, 7, 7, 50, 26, tzinfo=UTC)
        assert (first.total_minor, first.currency, first.refunded_minor, first.cancelled_at) == (
            5391,
            "EUR",
            0,
            None,
        )
        assert first.items == [
            {"name": "Blue teapot", "quantity": 1, "price_minor": 2990, "sku": "TEA-BLUE"},
            {"name": "Green cup", "quantity": 2, "price_minor": 800, "sku": "CUP-GREEN"},
            {"name": "Gift card", "quantity": 1, "price_minor": 801, "sku": None},
        ]
        events = {e.source_id: e for e in s.scalars(select(Event))}
        assert sorted(events) == [
            "shopify:cancel:#1003", "shopify:order:#1001", "shopify:order:#1002", "shopify:order:#1004",
            "shopify:order:#1007", "shopify:order:#1009", "shopify:refund:#1004:1000",
        ]  # fmt: skip
        refund = events["shopify:refund:#1004:1000"]
        assert (refund.kind, refund.amount_minor, refund.person_id) == ("refund", 1000, zoe.id)
        cancelled = events["shopify:cancel:#1003"]
        assert cancelled.kind == "order_cancelled"
        assert cancelled.occurred_at == datetime(2025, 10, 9, 10, 0, tzinfo=UTC)
        assert all(e.source == "shopify" and e.order_id is not None for e in events.values())
        totals = people.purchase_totals(s, zoe.id, currency="EUR")
        assert (totals.orders, str(totals.total_spent)) == (2, "89.41")

        # The cancelled order's buyer never bought: still a prospect, with no "Ordered" facts.
        pierre = people.get_person(s, "pierre@example.fr")
        assert pierre.kind == "prospect" and people.facts(s, pierre.id) == []
        # Unicode names as written; the emails deduplicated after normalisation.
        assert people.get_person(s, "wang.fang@example.cn").name == "王芳"
        jose = people.get_person(s, "jose@example.com")
        assert jose.name == "José Álvarez" and jose.email == "Jose@Example.com"
        ana = people.get_person(s, "ana@example.org")
        ana_order = s.scalars(select(Order).where(Order.external_id == "#1009")).one()
        assert ana.name == "Ana O'Neil" and [i["name"] for i in ana_order.items] == ["Mug"]
        assert (
            s.scalar(select(func.count()).select_from(Person).where(Person.email == "sam@example.com")) == 0
        )

        # At most three tasteful facts per person, from line items of paid orders, deduplicated.
        assert [f.text for f in people.facts(s, zoe.id)] == [
            "Ordered: Blue teapot", "Ordered: Green cup", "Ordered: Gift card",
        ]  # fmt: skip
        # Accepts Marketing -> email consent, recorded as from the Shopify import.
        assert people.current_consent(s, zoe.id)["email"]["granted"] is True
        jose_email = people.current_consent(s, jose.id)["email"]
        assert (jose_email["granted"], jose_email["source"]) == (False, "shopify import")
        assert people.current_consent(s, ana.id) == {}


def test_importing_again_stores_nothing_new(db: Database) -> None:
    run(db)
    with db.reading() as s:
        before = {t: s.scalar(select(func.count()).select_from(t)) for t in (Order, Event, Person)}
        consents = len(people.consent_history(s, people.get_person(s, "zoe@example.com").id))
    again = run(db)
    assert again.to_json() == {
        "rows": 16,
        "orders": 0,
        "events": 0,
        "people": 0,
        "duplicates": 7,  # the six stored orders, and #1001's second copy
        "rejected": [{"line": line, "reason": reason} for line, reason in REJECTED],
    }
    assert again.person_ids == set()
    with db.reading() as s:
        assert {t: s.scalar(select(func.count()).select_from(t)) for t in (Order, Event, Person)} == before
        assert len(people.consent_history(s, people.get_person(s, "zoe@example.com").id)) == consents
        assert len(people.facts(s, people.get_person(s, "zoe@example.com").id)) == 3


def test_dry_run_counts_for_real_and_stores_nothing(db: Database) -> None:
    with db.reading() as s:
        report = import_orders(session=s, path=SAMPLE, business=BUSINESS)
    assert (report.orders, report.events, report.people, len(report.rejected)) == (6, 7, 5, 5)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0
        assert s.scalar(select(func.count()).select_from(Person)) == 0


def test_a_later_export_adds_a_new_refund_and_never_regrants_consent(db: Database, tmp_path: Path) -> None:
    run(db)
    with db.transaction() as s:
        jose = people.get_person(s, "jose@example.com")
        zoe = people.get_person(s, "zoe@example.com")
        people.record_consent(s, person_id=zoe.id, channel="email", granted=False, source="asked us to stop")
    later = tmp_path / "later.csv"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].split(",")
    row = lines[4].split(",")  # #1002, José: now refunded 20.00 and opted in to marketing
    row[header.index("Refunded Amount")] = "20.00"
    row[header.index("Accepts Marketing")] = "yes"
    later.write_text(lines[0] + ",".join(row) + "".join(lines[1:2]), encoding="utf-8")
    with db.transaction() as s:
        report = import_orders(session=s, path=later, business=BUSINESS)
    assert (report.rows, report.orders, report.events, report.duplicates) == (2, 0, 1, 2)
    assert report.person_ids == {jose.id}
    with db.reading() as s:
        refund = select(Event.amount_minor).where(Event.source_id == "shopify:refund:#1002:2000")
        assert s.scalar(refund) == 2000
        # A file never turns consent back on after it was withdrawn (José's "no", Zoë's request).
        assert people.current_consent(s, jose.id)["email"]["granted"] is False
        assert people.current_consent(s, zoe.id)["email"]["granted"] is False
