"""Recording and reading events. Events are never edited or deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from goodwill.events.model import EVENT_KINDS, Event, Order
from goodwill.money import CURRENCY_EXPONENTS


class EventError(ValueError):
    """An event that cannot be stored; the message says which field and why."""


def check_kind(kind: str) -> str:
    clean = kind.strip().lower()
    if clean not in EVENT_KINDS:
        raise EventError(f"unknown event kind {kind!r}; known kinds: {', '.join(sorted(EVENT_KINDS))}")
    return clean


def check_currency(currency: str) -> str:
    code = currency.strip().upper()
    if code not in CURRENCY_EXPONENTS:
        raise EventError(f"unknown currency {currency!r}")
    return code


# Events whose order was cancelled. A purchase whose order a later export cancels stays in the log,
# as it happened, but it is no longer spend; nor is a refund of it.
SPEND_SQL = "(order_id IS NULL OR order_id NOT IN (SELECT id FROM orders WHERE cancelled_at IS NOT NULL))"


def counts_as_spend(event: Any = Event) -> ColumnElement[bool]:
    """The condition every orders count and spend total shares (``SPEND_SQL`` in plain SQL).

    ``event`` may be an alias of ``Event``. A correlated NOT EXISTS on the order's primary key:
    SQLite rebuilds a ``NOT IN (SELECT ...)`` list from the whole orders table on every statement.
    """
    cancelled = aliased(Order)
    return ~exists().where(cancelled.id == event.order_id, cancelled.cancelled_at.is_not(None))


@dataclass
class NewEvent:
    person_id: int
    kind: str
    occurred_at: datetime
    source: str
    source_id: str
    amount_minor: int | None = None
    currency: str | None = None
    channel: str | None = None
    staff_id: int | None = None
    text: str | None = None
    order_id: int | None = None


def record_event(session: Session, new: NewEvent) -> tuple[Event, bool]:
    """Store an event once: the same (source, source_id) returns the stored one and False."""
    kind = check_kind(new.kind)
    if new.occurred_at.tzinfo is None:
        raise EventError("occurred_at needs a time zone")
    if (new.amount_minor is None) != (new.currency is None):
        raise EventError("amount and currency go together")
    existing = session.scalar(
        select(Event).where(Event.source == new.source, Event.source_id == new.source_id)
    )
    if existing is not None:
        return existing, False
    event = Event(
        person_id=new.person_id,
        kind=kind,
        occurred_at=new.occurred_at,
        amount_minor=new.amount_minor,
        currency=check_currency(new.currency) if new.currency else None,
        channel=new.channel,
        staff_id=new.staff_id,
        text=new.text,
        order_id=new.order_id,
        source=new.source,
        source_id=new.source_id,
    )
    session.add(event)
    session.flush()
    return event, True


def timeline(
    session: Session, person_id: int, *, limit: int, before_id: int | None = None
) -> tuple[list[Event], int | None]:
    """Events newest first, continuing after event ``before_id`` in that order; and the next cursor.

    The cursor is an event id, but the page is cut on (occurred_at, id), the order shown: events
    imported out of order would otherwise be skipped or repeated by "load more".
    """
    stmt = select(Event).where(Event.person_id == person_id)
    if before_id is not None:
        anchor = session.get(Event, before_id)
        if anchor is None or anchor.person_id != person_id:
            return [], None
        stmt = stmt.where(
            or_(
                Event.occurred_at < anchor.occurred_at,
                and_(Event.occurred_at == anchor.occurred_at, Event.id < anchor.id),
            )
        )
    rows = list(
        session.scalars(stmt.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit + 1)).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)
