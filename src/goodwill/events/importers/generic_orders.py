"""The generic orders CSV: one row per order, for shops that are not on Shopify.

Columns (any case or spacing; the aliases in ``COLUMNS`` are accepted too):
``order_id, email, name, date, total, currency`` and optionally ``status`` (paid, cancelled,
refunded), ``refunded``, ``phone``, ``items`` ("Blue teapot x2; Cup"). See docs/import.md.
"""

from __future__ import annotations

import re
from typing import Any

from goodwill.config import Business
from goodwill.events.importers.csvfile import CsvRows
from goodwill.events.importers.orders_store import OrderSink, ParsedOrder
from goodwill.events.importers.parsing import (
    RowError,
    check_currency,
    check_email,
    clean_text,
    optional_money,
    parse_datetime,
    parse_money,
)
from goodwill.people.model import PersonKind
from goodwill.people.service import PersonRecord

SOURCE = "csv"
COLUMNS: dict[str, tuple[str, ...]] = {
    "order_id": ("order", "order_number", "order_no", "order_ref"),
    "email": ("e_mail", "email_address", "customer_email"),
    "name": ("customer_name", "customer", "full_name"),
    "date": ("order_date", "created_at", "placed_at", "datetime"),
    "total": ("amount", "order_total", "total_amount"),
    "currency": ("currency_code",),
    "status": ("order_status",),
    "refunded": ("refunded_amount", "refund"),
    "phone": ("telephone", "phone_number"),
    "items": ("products", "line_items"),
}
REQUIRED = ["order_id", "email", "date", "total"]

_PAID = {"", "paid", "complete", "completed", "fulfilled", "shipped", "delivered"}
_CANCELLED = {"cancelled", "canceled", "voided", "void"}
_REFUNDED = {"refunded", "partially_refunded", "partially refunded"}
_QUANTITY = re.compile(
    r"^(?:(?P<before>\d+)\s*[x×]\s+(?P<name1>.+)|(?P<name2>.+?)\s+[x×]\s*(?P<after>\d+))$", re.I
)


def looks_generic(columns: dict[str, int]) -> bool:
    return all(any(a in columns for a in (name, *COLUMNS[name])) for name in REQUIRED)


def parse_generic(
    rows: CsvRows, *, business: Business, sink: OrderSink, date_format: str | None = None
) -> None:
    col = rows.resolve(COLUMNS, REQUIRED, "the generic orders CSV")
    report, seen = sink.report, set()

    def get(cells: list[str], name: str) -> str:
        return cells[col[name]] if col[name] >= 0 else ""

    with sink:
        for line, cells in rows:
            report.rows += 1
            order_id = get(cells, "order_id").strip()
            try:
                if not order_id:
                    raise RowError("missing order_id")
                if len(order_id) > 120:
                    raise RowError("order_id is longer than 120 characters")
                if order_id in seen:
                    report.duplicates += 1
                    report.duplicate_rows += 1
                    continue
                order = _order(get, cells, order_id, line, business, date_format)
            except RowError as exc:
                report.reject(line, str(exc))
                continue
            seen.add(order_id)
            sink.add(order)


def _order(
    get: Any, cells: list[str], order_id: str, line: int, business: Business, date_format: str | None
) -> ParsedOrder:
    email = check_email(get(cells, "email"))
    placed_at = parse_datetime(get(cells, "date"), business.tz, date_format, field="date")
    currency = check_currency(get(cells, "currency"), business.currency)
    total = parse_money(get(cells, "total"), currency, field="total")
    refunded = optional_money(get(cells, "refunded"), currency, field="refunded")
    status = " ".join(get(cells, "status").strip().lower().split())
    cancelled_at = None
    if status in _CANCELLED:
        cancelled_at = placed_at
    elif status in _REFUNDED:
        refunded = refunded or total
    elif status not in _PAID:
        raise RowError(f"status {get(cells, 'status').strip()!r} is not paid, cancelled or refunded")
    if refunded > total:
        raise RowError(f"refunded {get(cells, 'refunded').strip()!r} is more than the total")
    person = PersonRecord(
        name=clean_text(get(cells, "name"), limit=200) or "",
        email=email,
        kind=PersonKind.prospect.value if cancelled_at else PersonKind.customer.value,
        phone=clean_text(get(cells, "phone"), limit=40),
    )
    return ParsedOrder(
        external_id=order_id,
        lines=[line],
        person=person,
        placed_at=placed_at,
        currency=currency,
        total_minor=total,
        refunded_minor=refunded,
        cancelled_at=cancelled_at,
        items=parse_items(get(cells, "items")),
    )


def parse_items(text: str) -> list[dict[str, Any]]:
    """``"Blue teapot x2; 3 x Cup | Saucer"`` -> items with quantities (1 when not given)."""
    items: list[dict[str, Any]] = []
    for part in re.split(r"[;|]", text):
        clean = " ".join(part.split())
        if not clean:
            continue
        match = _QUANTITY.match(clean)
        if match:
            name = match["name1"] or match["name2"]
            quantity = int(match["before"] or match["after"])
        else:
            name, quantity = clean, 1
        items.append({"name": name[:300], "quantity": quantity, "price_minor": None, "sku": None})
    return items
