"""Importing orders, events and people from files: the API the CLI and others call.

Every function takes the caller's session and never commits: run it in ``db.transaction()`` to
keep the result, or in ``db.reading()`` for a dry run whose counts are real. Bad rows are
rejected one by one with their line and reason while good rows are kept; a file that cannot be
imported at all raises ``ImportFileError`` (the caller's transaction then rolls back).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from goodwill.bank.service import refresh_people
from goodwill.config import Business, Settings, get_settings
from goodwill.db import among, utcnow
from goodwill.events.importers.csvfile import CsvRows, ImportFileError
from goodwill.events.importers.events_file import import_events_file
from goodwill.events.importers.generic_orders import looks_generic, parse_generic
from goodwill.events.importers.orders_store import OrderSink
from goodwill.events.importers.parsing import strptime_format
from goodwill.events.importers.people_file import import_people_file
from goodwill.events.importers.report import ImportReport, Rejection
from goodwill.events.importers.shopify import looks_like_shopify, parse_shopify
from goodwill.events.model import Event
from goodwill.loyalty.awards import award_all, award_events

__all__ = [
    "ORDER_FORMATS",
    "ImportFileError",
    "ImportReport",
    "Rejection",
    "import_events",
    "import_orders",
    "import_people",
]

ORDER_FORMATS = ("auto", "shopify", "generic")
Progress = Callable[[int, int], None]
CHUNK = 5000  # people per look-up of what an import stored
BULK_AWARD_FROM = 2000  # new events: past this, points are awarded set-based


def import_orders(
    *,
    session: Session,
    path: Path,
    business: Business,
    fmt: str = "auto",
    date_format: str | None = None,
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    """Orders from a Shopify export or the generic orders CSV (``fmt="auto"`` tells them apart).

    The purchases, refunds and cancellations stored earn (or take back) loyalty points in the same
    transaction (``settings.loyalty``; by default this process's settings)."""
    if fmt not in ORDER_FORMATS:
        raise ImportFileError(f"unknown orders format {fmt!r}: use {', '.join(ORDER_FORMATS)}")
    try:
        pattern = strptime_format(date_format) if date_format else None
    except ValueError as exc:
        raise ImportFileError(str(exc)) from None
    report = ImportReport()
    started = utcnow()
    with CsvRows(path, progress=progress) as rows:
        if fmt == "auto":
            fmt = _detect_orders_format(rows)
        if fmt == "shopify":
            sink = OrderSink(session=session, source="shopify", report=report)
            parse_shopify(rows, business=business, sink=sink, date_format=pattern)
        else:
            sink = OrderSink(session=session, source="csv", report=report)
            parse_generic(rows, business=business, sink=sink, date_format=pattern)
    _award_new_events(session, report, started, settings or get_settings())
    return _finish(session, report, business)


def _award_new_events(session: Session, report: ImportReport, started: datetime, settings: Settings) -> None:
    """Points for the events this import stored (a re-import of a refunded order stores the refund).

    A big import goes through the set-based ``award_all``, which finds what is not awarded yet."""
    if not report.person_ids or not settings.loyalty.enabled:
        return
    people = sorted(report.person_ids)
    new: list[int] = []
    for start in range(0, len(people), CHUNK):
        new += session.scalars(
            select(Event.id).where(
                among(session, Event.person_id, people[start : start + CHUNK]), Event.recorded_at >= started
            )
        ).all()
    if len(new) > BULK_AWARD_FROM or len(new) * 10 > _purchases(session):
        # A big import, or most of the shop's history: one set-based pass beats one event at a time.
        award_all(session, now=utcnow(), settings=settings)
    elif new:
        award_events(session, event_ids=new, now=utcnow(), settings=settings)


def _purchases(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Event).where(Event.kind == "purchase")) or 0


def _detect_orders_format(rows: CsvRows) -> str:
    if looks_like_shopify(rows.columns):
        return "shopify"
    if looks_generic(rows.columns):
        return "generic"
    found = ", ".join(rows.header[:10]) + (" ..." if len(rows.header) > 10 else "")
    raise ImportFileError(
        f"{rows.path}: cannot tell the orders format. Expected a Shopify orders export (Name, Email, "
        "Created at, Lineitem ... columns) or the generic columns order_id, email, name, date, total, "
        f"currency; found: {found}"
    )


def import_events(
    *,
    session: Session,
    path: Path,
    business: Business,
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    """Events from CSV or JSON Lines (told apart by extension, else by content); new events earn
    loyalty points as they are stored (``settings.loyalty``; by default this process's settings)."""
    return _finish(
        session,
        import_events_file(
            session=session, path=path, business=business, progress=progress, settings=settings
        ),
        business,
    )


def import_people(
    *, session: Session, path: Path, business: Business, progress: Progress | None = None
) -> ImportReport:
    """People (customers and prospects) with details, consent and facts, from CSV."""
    return _finish(
        session,
        import_people_file(session=session, path=path, business=business, progress=progress),
        business,
    )


def _finish(session: Session, report: ImportReport, business: Business) -> ImportReport:
    """Sort the rejections, and bring the relationship bank up to date for everyone touched."""
    report.rejected.sort(key=lambda r: r.line)
    if report.person_ids:
        refresh_people(session=session, person_ids=report.person_ids, currency=business.currency)
    return report
