"""Recording one event that arrives from outside (the API, later forms and webhooks).

An unknown email becomes a prospect, or a customer when the event is a purchase; the amount is
read exactly in its currency; the relationship bank follows in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.bank.rules import BankConfig
from goodwill.bank.service import refresh_appended
from goodwill.config import Settings, get_settings
from goodwill.db import utcnow
from goodwill.events.follow_ups import after_new_events
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event
from goodwill.loyalty.awards import award_new_events
from goodwill.money import AmountError, parse_amount
from goodwill.people.model import Person, PersonKind, kind_for_first_event
from goodwill.people.service import PersonRecord, mark_customers, resolve_people
from goodwill.team.service import UserNotFound, get_user


class EventFieldError(ValueError):
    """One field of an incoming event is wrong; ``field`` names it for the caller's error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class IncomingEvent:
    kind: str
    occurred_at: datetime
    person_id: int | None = None
    email: str | None = None
    name: str = ""
    amount: str | None = None  # a decimal string, never a float
    currency: str | None = None
    channel: str | None = None
    text: str | None = None
    staff_email: str | None = None
    source_id: str | None = None


def record_incoming(
    *,
    session: Session,
    incoming: IncomingEvent,
    source: str,
    currency: str,
    bank: BankConfig,
    settings: Settings | None = None,
) -> tuple[Event, bool]:
    """Store the event once (by ``source_id``); returns it and whether it is new.

    A new event also earns (or takes back) loyalty points when the program is on (``settings``,
    by default this process's), in the same transaction.
    """
    person_id, customer = _person(session, incoming, source)
    amount_minor: int | None = None
    event_currency: str | None = None
    if incoming.amount is not None:
        event_currency = incoming.currency or currency
        try:
            amount_minor = parse_amount(incoming.amount, event_currency)
        except AmountError as exc:
            raise EventFieldError("amount", str(exc)) from None
    elif incoming.currency is not None:
        raise EventFieldError("amount", "a currency was given without an amount")
    staff_id: int | None = None
    if incoming.staff_email:
        try:
            staff_id = get_user(session=session, email=incoming.staff_email).id
        except UserNotFound as exc:
            raise EventFieldError("staff_email", str(exc)) from None
    event, created = record_event(
        session,
        NewEvent(
            person_id=person_id,
            kind=incoming.kind,
            occurred_at=incoming.occurred_at,
            source=source,
            # Without a source_id a retry cannot be matched here; an Idempotency-Key still can.
            source_id=incoming.source_id or f"auto:{uuid.uuid4()}",
            amount_minor=amount_minor,
            currency=event_currency,
            channel=incoming.channel,
            staff_id=staff_id,
            text=incoming.text,
        ),
    )
    if created:
        if incoming.kind == "purchase" and not customer:
            mark_customers(session, [person_id])
        settings = settings or get_settings()
        if settings.loyalty.enabled:
            award_new_events(session, events=[event], now=utcnow(), settings=settings)
        after_new_events(session, event_ids=[event.id], settings=settings, kinds={event.kind})
        refresh_appended(session=session, event=event, config=bank, currency=currency)
    return event, created


def _person(session: Session, incoming: IncomingEvent, source: str) -> tuple[int, bool]:
    """The event's person, and whether they are known to be a customer already."""
    if incoming.person_id is not None:
        stored = session.scalar(select(Person.kind).where(Person.id == incoming.person_id))
        if stored is None:
            raise EventFieldError("person_id", f"no person with id {incoming.person_id}")
        return incoming.person_id, stored == PersonKind.customer.value
    kind = kind_for_first_event(incoming.kind)
    [person_id], created = resolve_people(
        session, [PersonRecord(name=incoming.name, email=incoming.email, kind=kind.value)], source=source
    )
    return person_id, bool(created) and kind == PersonKind.customer
