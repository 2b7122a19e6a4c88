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

from datetime import tzinfo
from typing import Any

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


class _Cells:
    """Cell access by column name; a column missing from this export reads as empty."""

    def __init__(self, columns: dict[str, int]) -> None:
        self.index = {name: columns.get(name, -1) for name in REQUIRED + OPTIONAL}

    def __call__(self, cells: list[str], name: str) -> str:
        i = self.index[name]
        return cells[i] if i >= 0 else ""


def parse_shopify(
    rows: CsvRows, *, business: Business, sink: OrderSink, date_format: str | None = None
) -> None:
    rows.require(REQUIRED, "a Shopify orders export")
    get = _Cells(rows.columns)
    i_name, i_total = get.index["name"], get.index["total"]
    i_status = get.index["financial_status"]
    report, tz = sink.report, business.tz
    seen: set[str] = set()
    current: ParsedOrder | None = None
    current_name = ""
    rejected_at = 0  # first line of the current order when it was rejected, else 0
    duplicate = False

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
                    current.items.append(_line_item(get, cells, current.currency))
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
            current = _first_row(get, cells, name, line, tz, business.currency, date_format)
        except RowError as exc:
            rejected_at = line
            report.reject(line, f"{exc}; order {name} is rejected")
            continue
        seen.add(name)
    if current is not None:
        sink.add(current)
    sink.flush()


def _first_row(
    get: _Cells,
    cells: list[str],
    name: str,
    line: int,
    tz: tzinfo,
    default_currency: str,
    date_format: str | None,
) -> ParsedOrder:
    if len(name) > 120:
        raise RowError("Name is longer than 120 characters")
    email = check_email(get(cells, "email"))
    placed_at = parse_datetime(get(cells, "created_at"), tz, date_format, field="Created at")
    currency = check_currency(get(cells, "currency"), default_currency)
    total = parse_money(get(cells, "total"), currency, field="Total")
    refunded = optional_money(get(cells, "refunded_amount"), currency, field="Refunded Amount")
    cancelled_raw = get(cells, "cancelled_at")
    cancelled_at = (
        parse_datetime(cancelled_raw, tz, date_format, field="Cancelled at")
        if cancelled_raw.strip()
        else None
    )
    accepts = parse_yes_no(get(cells, "accepts_marketing"), field="Accepts Marketing")
    person = PersonRecord(
        name=clean_text(get(cells, "billing_name") or get(cells, "shipping_name"), limit=200) or "",
        email=email,
        kind=PersonKind.prospect.value if cancelled_at else PersonKind.customer.value,
        phone=clean_text(
            get(cells, "phone") or get(cells, "billing_phone") or get(cells, "shipping_phone"), limit=40
        ),
        address_line1=clean_text(get(cells, "billing_address1"), limit=200),
        address_line2=clean_text(get(cells, "billing_address2"), limit=200),
        city=clean_text(get(cells, "billing_city"), limit=100),
        region=clean_text(get(cells, "billing_province"), limit=100),
        postal_code=clean_zip(get(cells, "billing_zip")),
        country=clean_text(get(cells, "billing_country"), limit=60),
        consent={"email": accepts} if accepts is not None else {},
    )
    return ParsedOrder(
        external_id=name,
        lines=[line],
        person=person,
        placed_at=placed_at,
        currency=currency,
        total_minor=total,
        refunded_minor=refunded,
        cancelled_at=cancelled_at,
        items=[_line_item(get, cells, currency)],
        accepts_marketing=accepts,
    )


def _line_item(get: _Cells, cells: list[str], currency: str) -> dict[str, Any]:
    index = get.index
    price = cells[index["lineitem_price"]] if index["lineitem_price"] >= 0 else ""
    sku = cells[index["lineitem_sku"]].strip() if index["lineitem_sku"] >= 0 else ""
    return {
        "name": " ".join(cells[index["lineitem_name"]].split()),
        "quantity": parse_quantity(cells[index["lineitem_quantity"]]),
        "price_minor": parse_money(price, currency, field="Lineitem price") if price else None,
        "sku": sku or None,
    }
