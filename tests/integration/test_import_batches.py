"""A Shopify export big enough to span many batches, stored while the parser reads on.

The file is generated here with known contents (which orders are cancelled or refunded, which
customer accepts marketing, a few bad cells at known lines), so every count and every stored
value is checked against what the generator wrote. Batches are small (``BATCH`` orders) so the
background storing thread, the bulk paths (COPY of people on PostgreSQL) and the caches of
repeated customers and line items all run several times on both backends.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from goodwill.config import Business
from goodwill.db import Database
from goodwill.events.importers.csvfile import CsvRows
from goodwill.events.importers.orders_store import OrderSink
from goodwill.events.importers.report import ImportReport
from goodwill.events.importers.service import ImportFileError, import_orders
from goodwill.events.importers.shopify import parse_shopify
from goodwill.events.model import Event, Order
from goodwill.people import service as people
from goodwill.people.model import ConsentChange, Person, PersonIdentity

BUSINESS = Business(timezone="Europe/Paris", currency="EUR")
BATCH = 150
HEADER = [
    "Name", "Email", "Financial Status", "Accepts Marketing", "Currency", "Total", "Created at",
    "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku", "Billing Name",
    "Cancelled at", "Refunded Amount",
]  # fmt: skip
PRODUCTS = [("Blue teapot", "TEA-BLUE", 2990), ("Green cup", "CUP-GREEN", 800), ("Honey jar", "HONEY", 1250)]


@dataclass
class Export:
    """What was written, so the test can say what must be stored."""

    path: Path
    rows: int = 0
    orders: dict[str, dict[str, object]] = field(default_factory=dict)  # kept orders by Name
    rejected: list[tuple[int, str]] = field(default_factory=list)


def write_export(path: Path, orders: int = 700, customers: int = 260) -> Export:
    export = Export(path)
    line = 1
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for n in range(orders):
            name, customer = f"#{5000 + n}", (n * 7) % customers
            email = (
                f"Client.{customer}@Example.com" if customer % 5 == 0 else f"client.{customer}@example.com"
            )
            accepts = "yes" if customer % 3 else "no"
            cancelled = n % 31 == 0
            items = [PRODUCTS[(n + i) % 3] for i in range(1 + n % 3)]
            total = sum(price for _, _, price in items) + 490
            refunded = 0 if cancelled or n % 13 else items[0][2]
            created = f"2025-{1 + n % 12:02d}-{1 + n % 28:02d} {n % 24:02d}:15:00 +0100"
            bad_date = n == 400  # the whole order is rejected, with its later rows
            bad_price = n % 97 == 5 and len(items) > 1  # that line item only is rejected
            kept_items = []
            for index, (product, sku, price) in enumerate(items):
                line += 1
                row = dict.fromkeys(HEADER, "")
                row |= {"Name": name, "Lineitem quantity": "1", "Lineitem name": product, "Lineitem sku": sku}
                row["Lineitem price"] = "12,5" if bad_price and index == 1 else f"{price / 100:.2f}"
                if index == 0:
                    row |= {
                        "Email": email,
                        "Financial Status": "voided" if cancelled else "paid",
                        "Accepts Marketing": accepts,
                        "Currency": "EUR",
                        "Total": f"{total / 100:.2f}",
                        "Created at": "2025-13-01 10:00:00 +0100" if bad_date else created,
                        "Billing Name": f"Client {customer}",
                        "Cancelled at": created if cancelled else "",
                        "Refunded Amount": f"{refunded / 100:.2f}",
                    }
                writer.writerow([row[h] for h in HEADER])
                export.rows += 1
                if bad_date:
                    export.rejected.append(
                        (
                            line,
                            "Created at '2025-13-01 10:00:00 +0100' is not a valid date; "
                            f"order {name} is rejected",
                        )
                        if index == 0
                        else (line, f"order {name} was rejected with its first row (line {line - index})")
                    )
                elif bad_price and index == 1:
                    export.rejected.append(
                        (
                            line,
                            "Lineitem price '12,5' has a decimal comma: write it with a point, like 53.91; "
                            f"the line item is skipped, order {name} is kept",
                        )
                    )
                else:
                    kept_items.append({"name": product, "quantity": 1, "price_minor": price, "sku": sku})
            if not bad_date:
                export.orders[name] = {
                    "email": email.lower(),
                    "accepts": accepts == "yes",
                    "cancelled": cancelled,
                    "total": total,
                    "refunded": refunded,
                    "items": kept_items,
                }
    return export


def import_in_batches(db: Database, path: Path) -> ImportReport:
    """In batches of ``BATCH``, stored by the background thread on both backends."""
    report = ImportReport()
    with db.transaction() as s, CsvRows(path) as rows:
        sink = OrderSink(session=s, source="shopify", report=report, batch_size=BATCH, background=True)
        parse_shopify(rows, business=BUSINESS, sink=sink)
    report.rejected.sort(key=lambda r: r.line)
    return report


def test_many_batches_store_exactly_what_the_file_says(db: Database, tmp_path: Path) -> None:
    export = write_export(tmp_path / "orders.csv")
    report = import_in_batches(db, export.path)

    kept = export.orders
    buyers = {o["email"] for o in kept.values() if not o["cancelled"]}
    emails = {o["email"] for o in kept.values()}
    refunds = sum(1 for o in kept.values() if o["refunded"] and not o["cancelled"])
    assert [(r.line, r.reason) for r in report.rejected] == export.rejected
    assert (report.rows, report.orders, report.people, report.duplicates) == (
        export.rows,
        len(kept),
        len(emails),
        0,
    )
    assert report.events == len(kept) + refunds
    assert report.rows == report.kept_rows + report.duplicate_rows + len(report.rejected)

    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == len(emails)
        assert s.scalar(select(func.count()).select_from(PersonIdentity)) == len(emails)
        ids = people.find_ids(s, [("email", e) for e in emails])
        assert len(ids) == len(emails) == len(set(ids.values()))
        kinds = {pid: kind for pid, kind in s.execute(select(Person.id, Person.kind))}
        for email, pid in ids.items():
            assert kinds[pid] == ("customer" if email[1] in buyers else "prospect"), email
        # Each customer always answers the same, so their consent is exactly that answer, once.
        consent = {
            (pid, granted)
            for pid, granted in s.execute(select(ConsentChange.person_id, ConsentChange.granted))
        }
        expected = {(ids[("email", o["email"])], o["accepts"]) for o in kept.values()}
        assert consent == expected
        assert s.scalar(select(func.count()).select_from(ConsentChange)) == len(emails)
        stored = {o.external_id: o for o in s.scalars(select(Order))}
        assert set(stored) == set(kept)
        for name, order in kept.items():
            assert stored[name].items == order["items"], name
            assert stored[name].total_minor == order["total"]
            assert stored[name].person_id == ids[("email", str(order["email"]))]
        assert s.scalar(select(func.count()).select_from(Event)) == report.events


def test_a_second_run_of_the_same_file_adds_nothing(db: Database, tmp_path: Path) -> None:
    export = write_export(tmp_path / "orders.csv", orders=400, customers=180)
    first = import_in_batches(db, export.path)
    again = import_in_batches(db, export.path)
    assert (again.orders, again.events, again.people) == (0, 0, 0)
    assert again.duplicates == first.orders
    assert [(r.line, r.reason) for r in again.rejected] == export.rejected
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == first.orders
        assert s.scalar(select(func.count()).select_from(ConsentChange)) == first.people


def test_in_one_batch_or_many_the_result_is_the_same(db: Database, tmp_path: Path) -> None:
    export = write_export(tmp_path / "orders.csv", orders=500, customers=200)
    with db.reading() as s:  # a dry run: all in one batch, then rolled back
        one = import_orders(session=s, path=export.path, business=BUSINESS)
    many = import_in_batches(db, export.path)
    assert one.to_json() == many.to_json()
    assert (one.kept_rows, one.duplicate_rows) == (many.kept_rows, many.duplicate_rows)


def test_a_file_that_breaks_after_some_batches_stores_nothing(db: Database, tmp_path: Path) -> None:
    export = write_export(tmp_path / "orders.csv", orders=600, customers=200)
    with export.path.open("ab") as raw:
        raw.write(b"#9999,caf\xe9@example.com,paid\n")  # Latin-1, not UTF-8: the file cannot be read
    with pytest.raises(ImportFileError, match="not UTF-8"):
        import_in_batches(db, export.path)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0
        assert s.scalar(select(func.count()).select_from(Person)) == 0
