"""Property tests: messy files never crash an import, and every row is accounted for exactly once.

The invariant, for the generic orders and events files (one row = one order or event):
    rows == newly stored + duplicates + rejected
where ``rows`` counts the records that are not blank, each rejection names the physical line a
record starts on (distinct lines, with a non-empty reason), the database holds exactly what the
report says was stored, and importing the same file again stores nothing and counts every
previously kept row as a duplicate. Each example runs in a rolled-back transaction.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from goodwill.config import Business
from goodwill.db import Database
from goodwill.events.importers.service import ImportReport, import_events, import_orders
from goodwill.events.model import Event, Order

BUSINESS = Business(timezone="America/New_York", currency="USD")
# Any unicode except NUL (a NUL byte makes the file "binary", refused as a whole) and lone CR
# (only so the expected line numbers below can be computed by counting "\n").
messy_text = st.text(st.characters(exclude_characters="\x00\r", exclude_categories=("Cs",)), max_size=12)


def mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """A valid value most of the time, else a known-bad one or random unicode."""
    return st.integers(0, 19).flatmap(
        lambda n: st.sampled_from(good) if n < 17 else (st.sampled_from(bad) if n < 19 else messy_text)
    )


ids = mostly(["1", "2", "3", "A-7", "#1001", "Ω-12"], ["", "x" * 130])
emails = mostly(
    ["a@example.com", "A@Example.com ", "b@example.org", "zoë@exämple.de"], ["bad@", "", "a@@b.c"]
)
dates = mostly(
    ["2025-01-02", "2025-03-04 10:00", "2025-03-04T10:00:00+02:00"], ["2025-13-45", "03/04/2025", ""]
)
amounts = mostly(["10", "$1,234.50", "0.5", "-3"], ["12.345", "1e3", "abc", ""])
currencies = mostly(["", "EUR", "usd", "JPY"], ["XYZ", "€€"])
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def render(header: list[str], rows: list[list[str]]) -> tuple[str, list[int]]:
    """The CSV text and the physical line each non-blank record starts on."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    starts, line = [], 2
    for row in rows:
        before = out.tell()
        writer.writerow(row)
        record = out.getvalue()[before:]
        if any(cell.strip() for cell in row):
            starts.append(line)
        line += record.count("\n")
    return out.getvalue(), starts


def check_accounting(report: ImportReport, starts: list[int], stored: int) -> None:
    lines = [r.line for r in report.rejected]
    assert report.rows == len(starts)
    assert len(lines) == len(set(lines)) and set(lines) <= set(starts)
    assert all(r.reason.strip() for r in report.rejected)
    assert report.rows == stored + report.duplicates + len(report.rejected)
    assert report.rows == report.kept_rows + report.duplicate_rows + len(report.rejected)


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            ids,
            emails,
            messy_text,
            dates,
            amounts,
            currencies,
            mostly(["", "paid", "cancelled", "refunded"], ["??"]),
        )
        .map(list)
        .flatmap(lambda row: st.lists(messy_text, max_size=2).map(lambda extra: row + extra)),
        max_size=15,
    ),
    drop_currency=st.booleans(),
)
def test_messy_generic_orders(db: Database, rows: list[list[str]], drop_currency: bool) -> None:
    header = ["Order ID", "E-mail", "Name", "Date", "Total", "Currency", "Status"]
    if drop_currency:
        header.remove("Currency")
        rows = [r[:5] + r[6:] for r in rows]
    text, starts = render(header, rows)
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        path.write_text(text, encoding="utf-8")
        with db.reading() as s:
            first = import_orders(session=s, path=path, business=BUSINESS, fmt="generic")
            check_accounting(first, starts, first.orders)
            assert s.scalar(select(func.count()).select_from(Order)) == first.orders
            purchases_and_cancels = s.scalar(
                select(func.count()).select_from(Event).where(Event.kind.in_(["purchase", "order_cancelled"]))
            )
            assert purchases_and_cancels == first.orders
            again = import_orders(session=s, path=path, business=BUSINESS, fmt="generic")
            assert (again.orders, again.events, again.people) == (0, 0, 0)
            assert again.duplicates == first.orders + first.duplicates
            assert again.rejected == first.rejected


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            ids, emails, messy_text,
            mostly(["visit", "purchase", "praise", "complaint"], ["purchse", ""]),
            dates, amounts, currencies, messy_text,
        ).map(list),
        max_size=15,
    )
)  # fmt: skip
def test_messy_events_csv(db: Database, rows: list[list[str]]) -> None:
    header = ["source_id", "email", "name", "kind", "occurred_at", "amount", "currency", "text"]
    text, starts = render(header, rows)
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.csv"
        path.write_text(text, encoding="utf-8")
        with db.reading() as s:
            first = import_events(session=s, path=path, business=BUSINESS)
            check_accounting(first, starts, first.events)
            assert s.scalar(select(func.count()).select_from(Event)) == first.events
            again = import_events(session=s, path=path, business=BUSINESS)
            assert (again.events, again.people, again.duplicates) == (0, 0, first.events + first.duplicates)
            assert again.rejected == first.rejected
