"""Shopify's orders export (Admin > Orders > Export > CSV): one row per line item.

Order-level fields (Email, Created at, Total, Billing ..., Cancelled at, Refunded Amount, ...)
are on the FIRST row of an order only; later rows of the same order repeat its ``Name`` (and,
depending on the export, Email and Created at) with the ``Lineitem ...`` fields. So:

* a bad first row rejects the whole order, and every later row of it is listed as rejected too;
* a bad later row rejects that line item only; the order is kept without it;
* an order whose first row (it carries ``Total``) appears again in the same file is a duplicate,
  whether the copy follows directly or comes later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from operator import itemgetter
from typing import Any, cast

from goodwill.config import Business
from goodwill.events.importers.csvfile import CsvRows
from goodwill.events.importers.orders_store import OrderSink, ParsedOrder
from goodwill.events.importers.parsing import (
    RowError,
    check_currency,
    check_email,
    clean_text,
    clean_zip,
    optional_money,
    parse_datetime,
    parse_money,
    parse_quantity,
    parse_yes_no,
)
from goodwill.people.model import PersonKind
from goodwill.people.service import PersonRecord

SOURCE = "shopify"
REQUIRED = ["name", "email", "created_at", "total", "lineitem_quantity", "lineitem_name"]
OPTIONAL = [
    "financial_status", "currency", "lineitem_price", "lineitem_sku", "refunded_amount", "cancelled_at",
    "accepts_marketing", "billing_name", "shipping_name", "phone", "billing_phone", "shipping_phone",
    "billing_address1", "billing_address2", "billing_city", "billing_zip", "billing_province",
    "billing_country",
]  # fmt: skip


def looks_like_shopify(columns: dict[str, int]) -> bool:
    return "name" in columns and "created_at" in columns and any(c.startswith("lineitem_") for c in columns)


PERSON_FIELDS = [
    "email", "accepts_marketing", "billing_name", "shipping_name", "phone", "billing_phone",
    "shipping_phone", "billing_address1", "billing_address2", "billing_city", "billing_province",
    "billing_zip", "billing_country",
]  # fmt: skip
ITEM_FIELDS = ["lineitem_name", "lineitem_quantity", "lineitem_price", "lineitem_sku"]
CACHE_LIMIT = 100_000  # distinct customers or line items remembered; cleared beyond that


class _Cells:
    """Cell access by column name; a column missing from this export reads as empty.

    ``pick(names)`` fetches several cells as one tuple in one C call (``itemgetter``): a
    million-row export makes ~20 lookups per order, and the tuple doubles as a cache key.
    """

    def __init__(self, columns: dict[str, int]) -> None:
        self.index = {name: columns.get(name, -1) for name in REQUIRED + OPTIONAL}

    def __call__(self, cells: list[str], name: str) -> str:
        i = self.index[name]
        return cells[i] if i >= 0 else ""

    def pick(self, names: list[str]) -> Callable[[list[str]], tuple[str, ...]]:
        where = [self.index[name] for name in names]
        if all(i >= 0 for i in where):
            return cast(Callable[[list[str]], tuple[str, ...]], itemgetter(*where))
        return lambda cells: tuple(cells[i] if i >= 0 else "" for i in where)


class _Parser:
    """One export's parsing state: column pickers and caches of what repeats from row to row.

    Repeat customers carry the same name, email and address on every order, and line items
    repeat the same few products: both are parsed once per distinct set of raw cells. Only
    successes are cached, so a bad value is re-checked (and rejected the same way) every time.
    """

    def __init__(self, get: _Cells, tz: tzinfo, default_currency: str, date_format: str | None) -> None:
        self.get, self.tz, self.default_currency, self.date_format = get, tz, default_currency, date_format
        self.person_cells = get.pick(PERSON_FIELDS)
        self.item_cells = get.pick(ITEM_FIELDS)
        self.people: dict[tuple[tuple[str, ...], bool], PersonRecord] = {}
        self.items: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}

    def first_row(self, cells: list[str], name: str, line: int) -> ParsedOrder:
        if len(name) > 120:
            raise RowError("Name is longer than 120 characters")
        get, tz, date_format = self.get, self.tz, self.date_format
        raw_person = self.person_cells(cells)
        email = check_email(raw_person[0])
        placed_at = parse_datetime(get(cells, "created_at"), tz, date_format, field="Created at")
        currency = check_currency(get(cells, "currency"), self.default_currency)
        total = parse_money(get(cells, "total"), currency, field="Total")
        refunded = optional_money(get(cells, "refunded_amount"), currency, field="Refunded Amount")
        cancelled_raw = get(cells, "cancelled_at")
        cancelled_at = (
            parse_datetime(cancelled_raw, tz, date_format, field="Cancelled at")
            if cancelled_raw.strip()
            else None
        )
        accepts = parse_yes_no(raw_person[1], field="Accepts Marketing")
        key = (raw_person, cancelled_at is None)
        person = self.people.get(key)
        if person is None:
            person = _person(raw_person, email, accepts, cancelled=cancelled_at is not None)
            if len(self.people) >= CACHE_LIMIT:
                self.people.clear()
            self.people[key] = person
        return ParsedOrder(
            external_id=name,
            lines=[line],
            person=person,
            placed_at=placed_at,
            currency=currency,
            total_minor=total,
            refunded_minor=refunded,
            cancelled_at=cancelled_at,
            items=[self.line_item(cells, currency)],
            accepts_marketing=accepts,
        )

    def line_item(self, cells: list[str], currency: str) -> dict[str, Any]:
        raw = self.item_cells(cells)
        key = (raw, currency)
        item = self.items.get(key)
        if item is None:
            item = _line_item(raw, currency)
            if len(self.items) >= CACHE_LIMIT:
                self.items.clear()
            self.items[key] = item
        return item


def parse_shopify(
    rows: CsvRows, *, business: Business, sink: OrderSink, date_format: str | None = None
) -> None:
    rows.require(REQUIRED, "a Shopify orders export")
    get = _Cells(rows.columns)
    parser = _Parser(get, business.tz, business.currency, date_format)
    i_name, i_total = get.index["name"], get.index["total"]
    i_status = get.index["financial_status"]
    report = sink.report
    seen: set[str] = set()
    current: ParsedOrder | None = None
    current_name = ""
    rejected_at = 0  # first line of the current order when it was rejected, else 0
    duplicate = False

    with sink:
        for line, cells in rows:
            report.rows += 1
            name = cells[i_name].strip()
            if not name:
                report.reject(line, "missing Name (the order number, e.g. #1001)")
                continue
            starts_order = bool(cells[i_total].strip() or (i_status >= 0 and cells[i_status].strip()))
            if name == current_name and not starts_order:
                if rejected_at:
                    report.reject(line, f"order {name} was rejected with its first row (line {rejected_at})")
                elif duplicate:
                    report.duplicate_rows += 1
                elif current is not None:
                    try:
                        current.items.append(parser.line_item(cells, current.currency))
                        current.lines.append(line)
                    except RowError as exc:
                        report.reject(line, f"{exc}; the line item is skipped, order {name} is kept")
                continue

            if current is not None:
                sink.add(current)
            current, current_name, rejected_at, duplicate = None, name, 0, False
            if name in seen:
                duplicate = True
                report.duplicates += 1
                report.duplicate_rows += 1
                continue
            try:
                current = parser.first_row(cells, name, line)
            except RowError as exc:
                rejected_at = line
                report.reject(line, f"{exc}; order {name} is rejected")
                continue
            seen.add(name)
        if current is not None:
            sink.add(current)


def _person(raw: tuple[str, ...], email: str, accepts: bool | None, *, cancelled: bool) -> PersonRecord:
    """``raw`` holds the cells of ``PERSON_FIELDS``, in that order."""
    (_, _, billing_name, shipping_name, phone, billing_phone, shipping_phone,
     address1, address2, city, province, zip_code, country) = raw  # fmt: skip
    return PersonRecord(
        name=clean_text(billing_name or shipping_name, limit=200) or "",
        email=email,
        kind=PersonKind.prospect.value if cancelled else PersonKind.customer.value,
        phone=clean_text(phone or billing_phone or shipping_phone, limit=40),
        address_line1=clean_text(address1, limit=200),
        address_line2=clean_text(address2, limit=200),
        city=clean_text(city, limit=100),
        region=clean_text(province, limit=100),
        postal_code=clean_zip(zip_code),
        country=clean_text(country, limit=60),
        consent={"email": accepts} if accepts is not None else {},
    )


def _line_item(raw: tuple[str, ...], currency: str) -> dict[str, Any]:
    """``raw`` holds the cells of ``ITEM_FIELDS``, in that order."""
    name, quantity, price, sku = raw
    return {
        "name": " ".join(name.split()),
        "quantity": parse_quantity(quantity),
        "price_minor": parse_money(price, currency, field="Lineitem price") if price else None,
        "sku": sku.strip() or None,
    }
