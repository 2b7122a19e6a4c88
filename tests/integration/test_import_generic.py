"""The generic orders CSV in the shapes spreadsheets really produce, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from goodwill.config import Business
from goodwill.db import Database
from goodwill.events.importers.service import ImportFileError, import_orders
from goodwill.events.model import Event, Order
from goodwill.people import service as people
from goodwill.people.model import Person

BUSINESS = Business(timezone="Europe/Paris", currency="EUR")


def write(tmp_path: Path, text: str, *, bom: bool = False, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_excel_style_semicolons_bom_and_odd_headers(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Order ID;E-Mail;Customer Name;Order Date;Total;Currency;Status;Refunded;Items\r\n"
        'A-1;Zoe@Example.com;Zoë Martin;2025-07-01 12:00;"$1,234.50";usd;paid;;"Blue teapot x2; Cup"\r\n'
        "A-2;jose@example.com;José Álvarez;2025-12-01T09:30:00+01:00;20;;cancelled;;\r\n"
        "A-3;zoe@example.com;Zoë;2025-12-02;45.50;EUR;refunded;;\r\n"
        "A-4;ana@example.org;Ana;2025-12-03;30.00;EUR;partially_refunded;5.25;\r\n",
        bom=True,
    )
    with db.transaction() as s:
        report = import_orders(session=s, path=path, business=BUSINESS, fmt="auto")
    assert report.to_json() == {
        "rows": 4, "orders": 4, "events": 6, "people": 3, "duplicates": 0, "rejected": [],
    }  # fmt: skip
    with db.reading() as s:
        orders = {o.external_id: o for o in s.scalars(select(Order))}
        first = orders["A-1"]
        assert (first.source, first.total_minor, first.currency) == ("csv", 123450, "USD")
        # No offset: wall-clock time in Paris (UTC+2 in July).
        assert first.placed_at == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
        assert [(i["name"], i["quantity"]) for i in first.items] == [("Blue teapot", 2), ("Cup", 1)]
        assert orders["A-2"].currency == "EUR" and orders["A-2"].cancelled_at is not None
        assert orders["A-3"].refunded_minor == 4550  # "refunded" without an amount: all of it
        assert orders["A-4"].refunded_minor == 525
        kinds = {sid: kind for sid, kind in s.execute(select(Event.source_id, Event.kind))}
        assert kinds == {
            "csv:order:A-1": "purchase", "csv:cancel:A-2": "order_cancelled", "csv:order:A-3": "purchase",
            "csv:refund:A-3:4550": "refund", "csv:order:A-4": "purchase", "csv:refund:A-4:525": "refund",
        }  # fmt: skip
        zoe = people.get_person(s, "zoe@example.com")
        assert zoe.name == "Zoë Martin" and zoe.kind == "customer"
        assert people.get_person(s, "jose@example.com").kind == "prospect"


def test_tabs_and_rejections_with_lines_and_reasons(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "order_id\temail\tname\tdate\ttotal\tcurrency\tstatus\n"
        "1\ta@example.com\tA\t2025-01-02\t10.00\tEUR\tpaid\n"  # 2 ok
        "2\t\tB\t2025-01-02\t10.00\tEUR\tpaid\n"  # 3 missing email
        "3\tc@example.com\tC\t2025-13-45\t10.00\tEUR\tpaid\n"  # 4 bad date
        "4\td@example.com\tD\t03/04/2025\t10.00\tEUR\tpaid\n"  # 5 ambiguous date
        "5\te@example.com\tE\t2025-01-02\tten\tEUR\tpaid\n"  # 6 bad total
        "6\tf@example.com\tF\t2025-01-02\t10.00\tXYZ\tpaid\n"  # 7 bad currency
        "7\tg@example.com\tG\t2025-01-02\t10.00\tEUR\tlost\n"  # 8 bad status
        "\th@example.com\tH\t2025-01-02\t10.00\tEUR\tpaid\n"  # 9 no order id
        "1\ta@example.com\tA\t2025-01-02\t10.00\tEUR\tpaid\n"  # 10 repeated order
        "8\tH@Example.com\tH\t2025-01-02 10:00\t1.5\t\t\n",  # 11 ok, business currency
    )
    with db.transaction() as s:
        report = import_orders(session=s, path=path, business=BUSINESS)
    assert report.to_json() == {
        "rows": 10,
        "orders": 2,
        "events": 2,
        "people": 2,
        "duplicates": 1,
        "rejected": [
            {"line": 3, "reason": "missing email"},
            {"line": 4, "reason": "date '2025-13-45' is not a valid date"},
            {
                "line": 5,
                "reason": "date '03/04/2025' is ambiguous (day/month or month/day?): "
                "pass --date-format DD/MM/YYYY or MM/DD/YYYY",
            },
            {"line": 6, "reason": "total 'ten' is not an amount"},
            {"line": 7, "reason": "currency 'XYZ' is not a known ISO 4217 code"},
            {"line": 8, "reason": "status 'lost' is not paid, cancelled or refunded"},
            {"line": 9, "reason": "missing order_id"},
        ],
    }
    assert report.rows == report.orders + report.duplicates + len(report.rejected)


def test_date_format_reads_slash_dates(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path, "order_id,email,date,total\n1,a@example.com,03/04/2025,10\n2,b@example.com,13/04/2025,10\n"
    )
    with db.transaction() as s:
        report = import_orders(session=s, path=path, business=BUSINESS, date_format="DD/MM/YYYY")
    assert (report.orders, report.rejected) == (2, [])
    with db.reading() as s:
        assert s.scalar(select(Order.placed_at).where(Order.external_id == "1")) == datetime(
            2025, 4, 2, 22, 0, tzinfo=UTC
        )
    path = write(tmp_path, "order_id,email,date,total\n3,c@example.com,13/04/2025,10\n", name="us.csv")
    with db.transaction() as s:
        report = import_orders(session=s, path=path, business=BUSINESS, date_format="MM/DD/YYYY")
    assert [r.reason for r in report.rejected] == [
        "date '13/04/2025' is not a valid date (expected ISO 8601 or %m/%d/%Y)"
    ]


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        ("order_id,email,total\n1,a@example.com,10\n", "generic", "missing required column(s) date"),
        ("id,whatever\n1,2\n", "auto", "cannot tell the orders format"),
        (
            "Name,Email,Lineitem name\n#1,a@example.com,Cup\n",
            "shopify",
            "missing required column(s) created_at, total",
        ),
        ("order_id,email,date,total\n", "xml", "unknown orders format 'xml'"),
    ],
)
def test_files_that_cannot_be_imported_store_nothing(
    db: Database, tmp_path: Path, content: str, fmt: str, message: str
) -> None:
    path = write(tmp_path, content)
    with (
        pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")),
        db.transaction() as s,
    ):
        import_orders(session=s, path=path, business=BUSINESS, fmt=fmt)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0


def test_a_broken_encoding_midway_rolls_everything_back(db: Database, tmp_path: Path) -> None:
    good = "".join(f"{i},p{i}@example.com,2025-01-02,10\n" for i in range(3000))
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"order_id,email,date,total\n"
        + good.encode()
        + "9999,z@example.com,2025-01-02,caf\xe9\n".encode("latin-1")
    )
    with pytest.raises(ImportFileError, match="not UTF-8"), db.transaction() as s:
        import_orders(session=s, path=path, business=BUSINESS)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0
