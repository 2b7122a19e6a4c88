"""A later export of the same orders brings cancellations and bigger refunds: they must count."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from goodwill.config import Business
from goodwill.db import Database
from goodwill.events.importers.service import import_orders
from goodwill.events.model import Event, Order
from goodwill.people import service as people

HEADER = "order_id,email,name,date,total,currency,status,refunded\n"


def _import(db: Database, path: Path, text: str) -> dict[str, object]:
    path.write_text(HEADER + text)
    with db.transaction() as s:
        return import_orders(session=s, path=path, business=Business()).to_json()


def test_a_later_export_cancels_and_refunds_more(db: Database, tmp_path: Path) -> None:
    first = tmp_path / "monday.csv"
    _import(
        db,
        first,
        "A1,ann@example.com,Ann,2026-03-01T10:00:00+00:00,50.00,USD,paid,\n"
        "A2,ann@example.com,Ann,2026-03-02T10:00:00+00:00,40.00,USD,partially_refunded,10.00\n",
    )
    later = tmp_path / "friday.csv"
    friday = (
        "A1,ann@example.com,Ann,2026-03-01T10:00:00+00:00,50.00,USD,cancelled,\n"
        "A2,ann@example.com,Ann,2026-03-02T10:00:00+00:00,40.00,USD,partially_refunded,30.00\n"
    )
    report = _import(db, later, friday)
    assert report["orders"] == 0 and report["duplicates"] == 2

    with db.reading() as s:
        ann = people.get_person(s, "ann@example.com")
        summary = people.person_summary(s, ann, currency="USD")
        refunds = s.scalars(select(Event.amount_minor).where(Event.kind == "refund").order_by(Event.id)).all()
        a1_cancelled = s.scalar(select(Order.cancelled_at).where(Order.external_id == "A1"))
        a2_refunded = s.scalar(select(Order.refunded_minor).where(Order.external_id == "A2"))
    assert summary["orders"] == 1  # A1 was cancelled: it no longer counts as a purchase
    assert summary["total_spent"] == "10.00"  # A2: 40.00 paid, 30.00 refunded in all
    assert refunds == [1000, 2000]  # the second export's extra 20.00 is recorded, not dropped
    assert a1_cancelled is not None
    assert a2_refunded == 3000

    again = _import(db, later, friday)
    assert again["events"] == 0 and again["orders"] == 0
