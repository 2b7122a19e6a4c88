"""Orders imported from a file earn loyalty points in the same transaction; a later refund takes them back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from goodwill.config import Business, load_settings
from goodwill.db import Database
from goodwill.events.importers.service import import_orders
from goodwill.loyalty.ledger import check
from goodwill.loyalty.model import LoyaltyAccount, LoyaltyEntry

BUSINESS = Business(timezone="Europe/Paris", currency="EUR")
SETTINGS = load_settings(business=BUSINESS.model_dump())
HEADER = "order_id,email,name,date,total,currency,status,refunded\n"


def _import(db: Database, path: Path) -> None:
    with db.transaction() as s:
        import_orders(session=s, path=path, business=BUSINESS, settings=SETTINGS)


def _entries(db: Database) -> list[tuple[str, int]]:
    with db.reading() as s:
        rows = s.execute(select(LoyaltyEntry.kind, LoyaltyEntry.points).order_by(LoyaltyEntry.id)).all()
        assert check(s) == []
        return [(kind, points) for kind, points in rows]


def test_imported_orders_earn_once_and_a_refund_takes_back(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "A-1,zoe@example.com,Zoë,2026-10-01,120.50,EUR,paid,\n", encoding="utf-8")
    _import(db, path)
    assert _entries(db) == [("earn", 120)]
    _import(db, path)  # the same file again: nothing new
    assert _entries(db) == [("earn", 120)]

    path.write_text(HEADER + "A-1,zoe@example.com,Zoë,2026-10-01,120.50,EUR,partially_refunded,60.25\n")
    _import(db, path)
    assert _entries(db) == [("earn", 120), ("reverse", -60)]
    with db.reading() as s:
        account = s.scalars(select(LoyaltyAccount)).one()
        assert (account.balance, account.issued) == (60, 120)


def test_orders_import_with_loyalty_off_awards_nothing(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "A-1,zoe@example.com,Zoë,2026-10-01,120.50,EUR,paid,\n", encoding="utf-8")
    off = load_settings(business=BUSINESS.model_dump(), loyalty={"enabled": False})
    with db.transaction() as s:
        import_orders(session=s, path=path, business=BUSINESS, settings=off)
    assert _entries(db) == []
